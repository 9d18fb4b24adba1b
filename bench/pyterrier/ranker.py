"""A PyTerrier pipeline as one of bench's rankers (``[[rerankers]] kind = "pyterrier"``).

Each batch of :class:`~bench.ranking.Request` s becomes PyTerrier's result frame (``qid,
query, docno, text, score, rank``: the candidates, their text and input scores), the
pipeline scores it, and each query's ``score`` column is its ranking. Its model source is
:data:`~bench.ranking.NONE` (bench locates nothing): the stage's key holds the factory's
import path, its args, its revision and the installed PyTerrier version. Documents the
pipeline drops (a ``% k`` inside it) stay below the ones it scored, in input order, as a
ranker's top-k always does; a document it invents is an error.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ..errors import ModelError
from ..ranking import NONE, Cost, Ranker, Ranking, Request
from . import factory as factory_mod
from .factory import PipelineOptions

log = logging.getLogger(__name__)

WARM_UP = Request("bench-warm-up", "warm up query", ("bench-warm-up-doc",), ("warm up passage",), (1.0,))


def request_frame(requests: Sequence[Request]) -> Any:
    """Requests as PyTerrier's result frame (input order, ranks from 0)."""
    import pandas as pd

    from .frames import FIRST_RANK

    rows = [(r.qid, r.query, doc, text, float(score) if r.scores else float(len(r) - i), i + FIRST_RANK)
            for r in requests for i, (doc, text, score) in enumerate(zip(r.doc_ids, r.texts, r.scores or (0.0,) * len(r)))]
    return pd.DataFrame(rows, columns=["qid", "query", "docno", "text", "score", "rank"])


class PyTerrierRanker(Ranker):
    """Any ``pt.Transformer`` that scores a result frame, built from its factory where the stage runs."""

    kind = "pyterrier"
    Options = PipelineOptions
    SOURCE = NONE

    @classmethod
    def key_options(cls, options: PipelineOptions) -> dict[str, Any]:
        return factory_mod.key(options)

    def load(self) -> None:
        self.pipeline = factory_mod.build(self.options)

    def warmup(self) -> None:
        try:
            self.pipeline(request_frame([WARM_UP]))
        except Exception as exc:  # nothing warmed: the first query's time then includes the pipeline's set-up
            log.info("pyterrier ranker: the warm-up query failed (%s)", exc)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "options": factory_mod.key(self.options)}

    def rank(self, prepared: list[Request]) -> list[Ranking]:
        from .frames import to_run
        from .stage import checked

        asked = [r.qid for r in prepared]
        run = checked(to_run(self.pipeline(request_frame(prepared))), asked, f"pyterrier ranker {self.options.factory}")
        out = []
        for request in prepared:
            scores = run.get(request.qid, {})
            unknown = [d for d in scores if d not in set(request.doc_ids)]
            if unknown:
                raise ModelError(f"pyterrier ranker {self.options.factory} returned document {unknown[0]!r} for query {request.qid!r}, "
                                 f"which is not among its candidates; a reranker reorders its input (retrieve in [first_stage])")
            docs = [d for d in request.doc_ids if d in scores]
            out.append(Ranking(request.qid, docs, [scores[d] for d in docs], Cost(pairs=len(request))))
        return out
