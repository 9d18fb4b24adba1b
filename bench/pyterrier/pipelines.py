"""Ready-made PyTerrier pipelines over bench's own parts, and the factories that build them by import path.

:class:`BM25` is bench's BM25 first stage (the cached bm25s index, Lucene's formula, the
worker ``bench run`` uses) as a ``pt.Transformer``: a first stage without Java, with the same
run as ``bench run``'s BM25. The factories :func:`bm25` and :func:`bm25_reranked` take plain
values (a collection name, a data folder, a model), so ``bench.pyterrier.evaluate`` can record
them and ``bench reproduce`` can build them again::

    bpt.evaluate(["bench.pyterrier.pipelines:bm25",
                  {"factory": "bench.pyterrier.pipelines:bm25_reranked", "args": {"model": "...", "collection": "vaswani"}}], ...)
"""

from __future__ import annotations

from typing import Any

import pyterrier as pt

from . import frames


class BM25(pt.Transformer):
    """bench's BM25 over a bench collection: topics in, ``depth`` results per query out (``qid, query, docno, score, rank``)."""

    def __init__(self, dataset: Any, depth: int = 1000, **params: Any):
        from ..first_stage.bm25 import Bm25Params
        from ..first_stage.bm25_stage import Bm25Stage
        from ..options import build_options

        self.dataset = dataset
        self.stage = Bm25Stage(dataset.collection, build_options(Bm25Params, params, "BM25 parameters"), depth)
        self._worker: Any = None

    def __repr__(self) -> str:
        return f"bench.pyterrier.BM25({self.dataset!r}, depth={self.stage.depth})"

    def transform(self, inp: Any) -> Any:
        pt.validate.query_frame(inp, extra_columns=["query"])
        if self._worker is None:
            worker = self.stage.worker()
            worker.load()
            worker.warmup()
            self._worker = worker
        queries = frames.topics_from(inp)
        rows = self._worker.process([{"qid": q, "text": text} for q, text in queries.items()]) if queries else []
        result = frames.from_run({row["qid"]: dict(zip(row["docs"], row["scores"])) for row in rows}, queries, list(queries))
        extra = [c for c in inp.columns if c not in ("qid", "query")]
        return result.merge(inp.assign(qid=inp["qid"].astype(str))[["qid", *extra]], on="qid") if extra else result


def bm25(collection: str, data_dir: str | None = None, depth: int = 1000, collection_type: str | None = None, **params: Any) -> BM25:
    """Factory: bench's BM25 over ``collection`` (a name under ``data_dir``, an ir_datasets id, or a folder)."""
    from .data import dataset

    return BM25(dataset(collection, data_dir, collection_type), depth, **params)


def bm25_reranked(collection: str, model: str, data_dir: str | None = None, depth: int = 1000, top_k: int = 100, kind: str = "auto",
                  options: dict[str, Any] | None = None, collection_type: str | None = None, **reranker: Any) -> pt.Transformer:
    """Factory: ``bm25 >> get_text >> Reranker(model, top_k=top_k)`` (the rest of the ``depth`` below, as ``bench run`` keeps it)."""
    from .data import dataset
    from .transformer import Reranker

    data = dataset(collection, data_dir, collection_type)
    return BM25(data, depth) >> pt.text.get_text(data, "text") >> Reranker(model, kind, options, top_k=top_k, **reranker)
