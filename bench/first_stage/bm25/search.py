"""BM25 search: a persisted bm25s index, and per-query retrieval over either backend.

bm25s stores BM25 as a sparse matrix of precomputed term-document scores, so a query
costs a sparse row sum instead of rank-bm25's pass over every document, and its index
loads by memory mapping. Both backends score with Lucene's BM25 (``log(1 + (N - df +
0.5) / (df + 0.5))`` idf; k1=0.9, b=0.4 as Anserini) over one shared tokenisation, so
they rank alike; rank-bm25 is kept as the reference the fast path is checked against.

Top-k selection is deterministic: documents are ordered by score, ties by doc id
descending (trec_eval's order). A query that matches fewer than k documents is padded
with score-0 documents in that same order, so every query has k hits (as trec_eval
would rank an all-zero tail) and depth-based measures compare like with like.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

from ...store import atomic_dir, cache_dir, file_lock, stable_hash
from .build import write_index
from .params import Bm25Params, Tokenizer, top_k
from .reference import RankBm25Index

log = logging.getLogger(__name__)

INDEX_FORMAT = 2  # 2: streaming build, doc_ids.npy + doc_order.npy


class Bm25sIndex:
    """A bm25s index persisted in the user cache, keyed by corpus fingerprint and parameters.

    Files: bm25s's own (``data/indices/indptr.csc.index.npy``, ``vocab.index.json``,
    ``params.index.json``, so ``bm25s.BM25.load`` reads it), plus ``doc_ids.npy`` (fixed-width
    strings) and ``doc_order.npy`` (doc indices sorted by id, for trec_eval's tie order).
    Every array is memory-mapped on load: opening an 8.8M-passage index reads only the
    vocabulary.
    """

    def __init__(self, retriever: Any, doc_ids: Any, tokenizer: Tokenizer, path: Path | None, by_rank: Any = None):
        import numpy as np

        self.retriever = retriever
        self.doc_ids = doc_ids
        self.tokenizer = tokenizer
        self.path = path
        if by_rank is None:
            by_rank = np.argsort(np.asarray(doc_ids, dtype=str), kind="stable").astype(np.int32)
        self.by_rank = _readonly(by_rank)
        id_rank = np.empty(len(by_rank), dtype=np.int32)
        id_rank[self.by_rank] = np.arange(len(by_rank), dtype=np.int32)
        self.id_rank = _readonly(id_rank)
        self._local = threading.local()  # per-thread scratch buffers for search

    @classmethod
    def build(cls, docs: Iterable[tuple[str, str]], params: Bm25Params, show_progress: bool = False, workers: int = 1) -> Bm25sIndex:
        """An in-memory index (built through :func:`write_index` in a temporary folder)."""
        import tempfile

        with tempfile.TemporaryDirectory(prefix="bench-bm25-") as tmp:
            write_index(Path(tmp), docs, params, show_progress=show_progress, workers=workers)
            index = cls.load(Path(tmp), params, mmap=False)
        index.path = None
        return index

    def save(self, folder: Path) -> None:
        import numpy as np

        self.retriever.save(str(folder), show_progress=False)
        np.save(folder / "doc_ids.npy", np.asarray(self.doc_ids, dtype=str))
        np.save(folder / "doc_order.npy", np.asarray(self.by_rank, dtype=np.int32))

    @classmethod
    def load(cls, folder: Path, params: Bm25Params, mmap: bool = True) -> Bm25sIndex:
        import bm25s
        import numpy as np

        retriever = bm25s.BM25.load(str(folder), mmap=mmap, show_progress=False)
        for key in ("data", "indices", "indptr"):
            retriever.scores[key] = _readonly(np.asarray(retriever.scores[key]))
        mode: Literal["r"] | None = "r" if mmap else None
        doc_ids = np.load(folder / "doc_ids.npy", mmap_mode=mode)
        by_rank = np.load(folder / "doc_order.npy", mmap_mode=mode)
        return cls(retriever, doc_ids, Tokenizer(params), folder, by_rank=by_rank)

    @classmethod
    def cached(
        cls, docs: Any, fingerprint: str, params: Bm25Params, root: Path | None = None, show_progress: bool = False, workers: int = 1
    ) -> Bm25sIndex:
        """Load the index for this corpus and parameters, building and persisting it once."""
        import bm25s

        key = stable_hash({"corpus": fingerprint, "params": params.index_key(), "bm25s": bm25s.__version__, "format": INDEX_FORMAT})
        folder = (root or cache_dir()) / "bm25" / key
        with file_lock(folder):
            if not (folder / "meta.json").is_file():
                log.info("building BM25 index %s", folder)
                with atomic_dir(folder) as tmp:
                    documents = write_index(tmp, docs, params, show_progress=show_progress, workers=workers)
                    meta = {"fingerprint": fingerprint, "params": params.index_key(), "documents": documents}
                    (tmp / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
            else:
                log.info("reusing BM25 index %s", folder)
        return cls.load(folder, params)

    def scores(self, tokens: list[str]) -> Any:
        """Dense scores of every document (bm25s's own numpy path: the reference for :meth:`search`)."""
        import numpy as np

        known = [t for t in self.retriever.get_tokens_ids(tokens) if t < len(self.retriever.scores["indptr"]) - 1]
        if not known:
            return np.zeros(len(self.doc_ids), dtype=np.float32)
        return self.retriever.get_scores_from_ids(known)

    def search(self, tokens: list[str], k: int) -> list[tuple[str, float]]:
        """``top_k(self.scores(tokens), self.doc_ids, k)``, visiting only the query's postings (bench.first_stage.bm25.kernel)."""
        import numpy as np

        from . import kernel

        buffers = getattr(self._local, "buffers", None)
        if buffers is None:
            n = len(self.doc_ids)
            buffers = self._local.buffers = (np.zeros(n, dtype=np.float32), np.empty(n, dtype=np.int32))
        s = self.retriever.scores
        query = np.asarray(self.retriever.get_tokens_ids(tokens), dtype=np.int64)
        docs, values = kernel.search(s["data"], s["indices"], s["indptr"], query, k, self.id_rank, self.by_rank, *buffers)
        return list(zip(np.asarray(self.doc_ids[docs], dtype=str).tolist(), values.tolist(), strict=True))


def _readonly(array: Any) -> Any:
    """A read-only view: the kernel then sees one array type for memory-mapped and in-memory indexes."""
    view = array.view()
    view.flags.writeable = False
    return view


def retrieve(
    index: Bm25sIndex | RankBm25Index,
    queries: dict[str, str],
    k: int,
    progress: Callable[[Iterable[str]], Iterable[str]] | None = None,
    threads: int = 1,
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Top-k per query and the milliseconds each query took (tokenise + score + select).

    ``threads > 1`` runs queries concurrently on a bm25s index (its kernel releases the GIL)
    for throughput; each query's milliseconds are then its own wall time under that load.
    """
    run: dict[str, dict[str, float]] = {}
    latency: dict[str, float] = {}
    order = list(queries)
    qids: Iterable[str] = progress(order) if progress else order

    def one(qid: str) -> tuple[list[tuple[str, float]], float]:
        started = time.perf_counter()
        tokens = index.tokenizer.tokens([queries[qid]])[0]
        hits = index.search(tokens, k) if isinstance(index, Bm25sIndex) else top_k(index.scores(tokens), index.doc_ids, k)
        return hits, (time.perf_counter() - started) * 1000.0

    if threads > 1 and isinstance(index, Bm25sIndex):
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="bench-bm25") as pool:
            for qid, (hits, ms) in zip(qids, pool.map(one, order), strict=True):
                run[qid], latency[qid] = dict(hits), ms
        return run, latency
    for qid in qids:
        hits, ms = one(qid)
        run[qid], latency[qid] = dict(hits), ms
    return run, latency
