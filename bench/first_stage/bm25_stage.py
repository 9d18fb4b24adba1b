"""BM25 as a first stage: the cached bm25s index (or the rank-bm25 reference), timed like a reranker.

Index load (or build) and a warm-up query (numba's kernel load, the tokeniser's first
call) are reported apart, so the first query's time is a query's time and the per-query
figures are what BM25 costs per query.
"""

from __future__ import annotations

import time
from typing import Any

from ..config import to_dict
from ..partial import PartialRun
from ..progress import progress
from ..stages import Job, Stage, StageResult
from ..trec import Run
from .bm25 import Bm25Params


class Bm25Stage(Stage):
    """Lucene BM25 over the collection's corpus, ``depth`` hits per query."""

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
    def from_config(cls, config: Any, collection: Any) -> Bm25Stage:
        return cls(collection, config.first_stage.bm25, config.first_stage.depth, config.first_stage.index_workers)

    def key(self) -> dict[str, Any]:
        return {"kind": "bm25", "depth": self.depth, "bm25": to_dict(self.params), "corpus": self.collection.docs.fingerprint()}

    def _index(self) -> Any:
        from . import bm25

        docs = self.collection.docs
        if self.params.backend == "bm25s":
            workers = bm25.index_workers(self.index_workers)
            return bm25.Bm25sIndex.cached(docs, docs.fingerprint(), self.params, show_progress=True, workers=workers)
        return bm25.RankBm25Index(list(docs), self.params)

    def run(self, job: Job, input_run: Run | None, partial: PartialRun) -> StageResult:
        from . import bm25

        queries = job.queries
        started = time.perf_counter()
        index = self._index()
        load_s = time.perf_counter() - started
        started = time.perf_counter()
        bm25.retrieve(index, {"warm-up": "warm up query"}, self.depth)
        warmup_s = time.perf_counter() - started
        started = time.perf_counter()
        run, latency = bm25.retrieve(index, queries, self.depth, lambda q: progress(q, len(queries), "bm25"))
        wall_s = time.perf_counter() - started
        info = {"kind": "bm25", "params": to_dict(self.params), "index_load_s": load_s, "index": str(getattr(index, "path", None))}
        return StageResult(run, latency, load_s=load_s, warmup_s=warmup_s, wall_s=wall_s, info=info)
