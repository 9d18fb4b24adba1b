"""BM25 as a first stage: the cached bm25s index (or the rank-bm25 reference), run by the engines like any stage.

Index load (or build) and a warm-up query (numba's kernel load, the tokeniser's first call)
are reported apart, so the first query's time is a query's time and the per-query figures
are what BM25 costs per query. The whole run takes seconds, so it keeps no resume file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

from ..stages import Job
from ..trec import Run
from ..work import EngineStage
from .bm25 import Bm25Params


class Bm25Worker:
    """A loaded BM25 index: a batch of ``{"qid", "text"}`` units in, one row of ``depth`` hits per query out."""

    device = "cpu"

    def __init__(self, stage: Bm25Stage):
        self.stage = stage
        self.index: Any = None

    def load(self) -> None:
        self.index = self.stage.open_index()

    def warmup(self) -> None:
        from . import bm25

        bm25.retrieve(self.index, {"warm-up": "warm up query"}, self.stage.depth)

    def describe(self) -> dict[str, Any]:
        return {"kind": "bm25", "params": asdict(self.stage.params), "index": str(getattr(self.index, "path", None))}

    def prepare(self, units: list[dict[str, str]]) -> list[dict[str, str]]:
        return units

    def process(self, units: list[dict[str, str]]) -> list[dict[str, Any]]:
        from . import bm25

        run, _ = bm25.retrieve(self.index, {u["qid"]: u["text"] for u in units}, self.stage.depth)
        return [{"qid": u["qid"], "docs": list(run[u["qid"]]), "scores": list(run[u["qid"]].values())} for u in units]


class Bm25Stage(EngineStage):
    """Lucene BM25 over the collection's corpus, ``depth`` hits per query."""

    checkpoint = False
    Options = Bm25Params

    def __init__(self, collection: Any, params: Bm25Params, depth: int, index_workers: int = 0):
        self.collection = collection
        self.params = params
        self.depth = depth
        self.index_workers = index_workers  # how fast the index is built, not what it holds: not in the key
        self.name = "bm25" if params.backend == "bm25s" else "bm25-rank_bm25"

    @classmethod
    def unavailable(cls, collection: Any) -> str | None:
        if collection.docs is None:
            return f"collection {collection.name!r} has no corpus to index; use --first-stage candidates"
        return None

    @classmethod
    def from_config(cls, config: Any, collection: Any, options: Any) -> Bm25Stage:
        return cls(collection, options, config.first_stage.depth, config.first_stage.index_workers)

    def key(self) -> dict[str, Any]:
        return {"kind": "bm25", "depth": self.depth, "bm25": asdict(self.params), "corpus": self.collection.docs.fingerprint()}

    def open_index(self) -> Any:
        from . import bm25

        docs = self.collection.docs
        if self.params.backend == "bm25s":
            workers = bm25.index_workers(self.index_workers)
            return bm25.Bm25sIndex.cached(docs, docs.fingerprint(), self.params, show_progress=True, workers=workers)
        return bm25.RankBm25Index(list(docs), self.params)

    def units(self, job: Job, input_run: Run | None, qids: list[str]) -> Iterator[dict[str, str]]:
        for qid in qids:
            yield {"qid": qid, "text": job.collection.queries[qid]}

    def worker(self, device: str | None = None) -> Bm25Worker:
        return Bm25Worker(self)

    def run(self, job: Job, input_run: Run | None, partial: Any, engine: Any = None) -> Any:
        result = super().run(job, input_run, partial, engine)
        result.info["index_load_s"] = result.load_s  # the record's name for it before the engines ran BM25
        result.pairs = None
        return result
