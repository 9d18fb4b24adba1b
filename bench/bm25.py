"""BM25 first stage: a persisted bm25s index (default) and a rank-bm25 reference backend.

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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from .errors import ConfigError
from .store import atomic_dir, cache_dir, file_lock, stable_hash

log = logging.getLogger(__name__)

INDEX_FORMAT = 2  # 2: streaming build, doc_ids.npy + doc_order.npy


@dataclass(frozen=True)
class Bm25Params:
    """Everything that changes BM25 scores."""

    k1: float = 0.9
    b: float = 0.4
    method: str = "lucene"
    stopwords: str = "en"
    stemmer: str = "english"
    backend: str = "bm25s"

    def __post_init__(self) -> None:
        if self.backend not in ("bm25s", "rank-bm25"):
            raise ConfigError(f"unknown BM25 backend {self.backend!r}; use 'bm25s' or 'rank-bm25'")
        if self.backend == "rank-bm25" and self.method != "lucene":
            raise ConfigError("the rank-bm25 backend implements method='lucene' only")
        if self.k1 < 0 or not 0 <= self.b <= 1:
            raise ConfigError(f"BM25 parameters out of range: k1={self.k1} (>= 0), b={self.b} (0..1)")

    def index_key(self) -> dict[str, Any]:
        """The parameters an index depends on (the backend is not one of them)."""
        key = asdict(self)
        key.pop("backend")
        return key


class Tokenizer:
    """bm25s's tokeniser (lower-case, ``\\w\\w+`` tokens) with stopwords and a Snowball stemmer."""

    def __init__(self, params: Bm25Params):
        import Stemmer

        self.stopwords: str | list[str] = [] if params.stopwords in ("", "none") else params.stopwords
        try:
            self.stemmer = Stemmer.Stemmer(params.stemmer) if params.stemmer not in ("", "none") else None
        except KeyError:
            raise ConfigError(f"unknown stemmer {params.stemmer!r}; use a Snowball language such as 'english' or 'none'") from None

    def tokens(self, texts: list[str], show_progress: bool = False) -> list[list[str]]:
        import bm25s

        return bm25s.tokenize(  # type: ignore[return-value]
            texts, stopwords=self.stopwords, stemmer=self.stemmer, return_ids=False, show_progress=show_progress
        )


def top_k(scores: Any, doc_ids: Any, k: int) -> list[tuple[str, float]]:
    """The k best documents in trec_eval order (score, then doc id descending), deterministic under ties."""
    import numpy as np

    positive = np.flatnonzero(scores > 0)
    if positive.size > k:
        kth = np.partition(scores[positive], positive.size - k)[positive.size - k]
        positive = positive[scores[positive] >= kth]
    hits = [(str(doc_ids[i]), float(scores[i])) for i in positive]
    hits.sort(key=lambda item: (item[1], item[0]), reverse=True)
    if len(hits) < k:
        matched = {doc for doc, _ in hits}
        rest = sorted((str(d) for d in doc_ids if str(d) not in matched), reverse=True)
        hits.extend((doc, 0.0) for doc in rest[: k - len(hits)])
    return hits[:k]


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
    def build(cls, docs: Iterable[tuple[str, str]], params: Bm25Params, show_progress: bool = False) -> Bm25sIndex:
        """An in-memory index (built through :func:`write_index` in a temporary folder)."""
        import tempfile

        with tempfile.TemporaryDirectory(prefix="bench-bm25-") as tmp:
            write_index(Path(tmp), docs, params, show_progress=show_progress)
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
        cls, docs: Any, fingerprint: str, params: Bm25Params, root: Path | None = None, show_progress: bool = False
    ) -> Bm25sIndex:
        """Load the index for this corpus and parameters, building and persisting it once."""
        import bm25s

        key = stable_hash({"corpus": fingerprint, "params": params.index_key(), "bm25s": bm25s.__version__, "format": INDEX_FORMAT})
        folder = (root or cache_dir()) / "bm25" / key
        with file_lock(folder):
            if not (folder / "meta.json").is_file():
                log.info("building BM25 index %s", folder)
                with atomic_dir(folder) as tmp:
                    documents = write_index(tmp, docs, params, show_progress=show_progress)
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
        """``top_k(self.scores(tokens), self.doc_ids, k)``, visiting only the query's postings (bench.bm25_kernel)."""
        import numpy as np

        from . import bm25_kernel

        buffers = getattr(self._local, "buffers", None)
        if buffers is None:
            n = len(self.doc_ids)
            buffers = self._local.buffers = (np.zeros(n, dtype=np.float32), np.empty(n, dtype=np.int32))
        s = self.retriever.scores
        query = np.asarray(self.retriever.get_tokens_ids(tokens), dtype=np.int64)
        docs, values = bm25_kernel.search(s["data"], s["indices"], s["indptr"], query, k, self.id_rank, self.by_rank, *buffers)
        return list(zip(np.asarray(self.doc_ids[docs], dtype=str).tolist(), values.tolist(), strict=True))


def _readonly(array: Any) -> Any:
    """A read-only view: the kernel then sees one array type for memory-mapped and in-memory indexes."""
    view = array.view()
    view.flags.writeable = False
    return view


def _batches(docs: Iterable[tuple[str, str]], size: int) -> Iterator[list[tuple[str, str]]]:
    batch: list[tuple[str, str]] = []
    for item in docs:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


_WORKER_TOKENIZERS: dict[Bm25Params, Tokenizer] = {}


def tokenise_chunk(texts: list[str], params: Bm25Params) -> tuple[list[str], Any, Any]:
    """One chunk through ``bm25s.tokenize``: (its vocabulary by local id, flat local ids, tokens per text).

    Module-level and array-valued so worker processes can run it and send back little.
    """
    import itertools

    import bm25s
    import numpy as np

    tokenizer = _WORKER_TOKENIZERS.get(params) or _WORKER_TOKENIZERS.setdefault(params, Tokenizer(params))
    tokenized = bm25s.tokenize(texts, stopwords=tokenizer.stopwords, stemmer=tokenizer.stemmer, return_ids=True, show_progress=False)
    words = [""] * len(tokenized.vocab)
    for word, local_id in tokenized.vocab.items():
        words[local_id] = word
    lengths = np.fromiter(map(len, tokenized.ids), dtype=np.int64, count=len(texts))
    flat = np.fromiter(itertools.chain.from_iterable(tokenized.ids), dtype=np.int32, count=int(lengths.sum()))
    return words, flat, lengths


def _tokenised(docs: Iterable[tuple[str, str]], params: Bm25Params, chunk: int, workers: int) -> Iterator[tuple[list[str], Any]]:
    """``(doc ids, tokenise_chunk(...))`` per chunk, in corpus order.

    Tokenising is pure Python, so parallelism needs processes: with more than one chunk the
    chunks go to ``workers`` forked processes. Forking is used only when this process runs
    no other Python thread (a fork copies held locks, not the threads that hold them);
    ``spawn`` is avoided because it re-runs an unguarded ``__main__`` script in every worker.
    Otherwise, and on platforms without fork, chunks are tokenised here, one by one.
    """
    import gc
    import multiprocessing
    import threading
    from collections import deque

    batches = _batches(docs, chunk)
    first = next(batches, None)
    if first is None:
        return
    second = next(batches, None)
    parallel = (
        second is not None
        and workers > 1
        and "fork" in multiprocessing.get_all_start_methods()
        and threading.active_count() == 1
    )
    if not parallel:
        for batch in _chain(first, second, batches):
            yield [d for d, _ in batch], tokenise_chunk([t for _, t in batch], params)
        return
    from concurrent.futures import ProcessPoolExecutor

    log.info("bm25: tokenising in %d processes", workers)
    gc.freeze()  # workers' garbage collector then leaves the parent's objects (and their pages) alone
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
            pending: deque[Any] = deque()
            for batch in _chain(first, second, batches):
                pending.append(([d for d, _ in batch], pool.submit(tokenise_chunk, [t for _, t in batch], params)))
                if len(pending) > workers:  # bounded look-ahead: at most workers + 1 chunks in memory
                    ids, future = pending.popleft()
                    yield ids, future.result()
            while pending:
                ids, future = pending.popleft()
                yield ids, future.result()
    finally:
        gc.unfreeze()


def _chain(first: Any, second: Any, rest: Iterator[Any]) -> Iterator[Any]:
    """The batches again after peeking at the first two."""
    yield first
    if second is not None:
        yield second
        yield from rest


def index_workers() -> int:
    """Tokenising processes for index builds: ``$BENCH_INDEX_WORKERS`` or the CPU count (at most 8)."""
    import os

    value = os.environ.get("BENCH_INDEX_WORKERS")
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            raise ConfigError(f"BENCH_INDEX_WORKERS={value!r} is not a number of processes") from None
    return max(1, min(8, os.cpu_count() or 1))


def write_index(
    folder: Path,
    docs: Iterable[tuple[str, str]],
    params: Bm25Params,
    chunk: int = 100_000,
    show_progress: bool = False,
    workers: int | None = None,
) -> int:
    """Build a bm25s-format index into ``folder`` streaming over ``docs``; returns the number of documents.

    bm25s's ``tokenize`` + ``BM25.index`` hold every passage's text and token list as Python
    objects (tens of GB for MS MARCO's 8.8M passages). Here ``chunk`` passages at a time are
    tokenised by the same ``bm25s.tokenize`` call (in ``workers`` processes) and reduced to
    (term, doc, tf) postings in numpy arrays spilled to disk; a second pass computes each
    posting's score with bm25s's formulas in the same floating-point order (scores are
    bit-identical to ``BM25.index``, tests/test_perf_paths.py) and scatters it into the
    term-major (CSC) arrays. Term ids are given in sorted order of first appearance by chunk,
    so the files do not depend on hash seeds or worker count. Peak memory is the final
    arrays (8 bytes per posting) plus a few chunks.
    """
    import math

    import bm25s
    import numpy as np

    if params.method != "lucene":
        raise ConfigError(f"BM25 method {params.method!r} is not supported by the streaming indexer; use method='lucene'")
    Tokenizer(params)  # bad stemmer or stopwords: fail here, not in a worker
    started = time.perf_counter()
    spill = folder / ".postings"
    spill.mkdir(parents=True, exist_ok=True)
    vocab: dict[str, int] = {}
    df = np.zeros(0, dtype=np.int64)
    lengths: list[Any] = []
    id_chunks: list[Any] = []
    n_docs = 0
    chunks = 0
    for doc_ids, (words, flat, doc_len) in _tokenised(docs, params, chunk, index_workers() if workers is None else workers):
        n = len(doc_ids)
        for word in sorted(words):
            vocab.setdefault(word, len(vocab))
        local = np.fromiter((vocab[w] for w in words), dtype=np.int64, count=len(words))
        keys, tf = np.unique(local[flat] * n + np.repeat(np.arange(n, dtype=np.int64), doc_len), return_counts=True)
        terms = keys // n
        np.save(spill / f"{chunks}.term.npy", terms.astype(np.int32))
        np.save(spill / f"{chunks}.doc.npy", (keys % n + n_docs).astype(np.int32))
        np.save(spill / f"{chunks}.tf.npy", tf.astype(np.float32))
        counts = np.bincount(terms, minlength=len(vocab))
        counts[: df.size] += df
        df = counts
        lengths.append(doc_len)
        id_chunks.append(np.array(doc_ids, dtype=str))
        n_docs += n
        chunks += 1
        if show_progress:
            log.info("bm25: tokenised %d documents (%.0f/s)", n_docs, n_docs / (time.perf_counter() - started))
    if not n_docs:
        raise ConfigError("the collection has no documents to index; use --first-stage candidates")
    doc_len_all = np.concatenate(lengths)
    avg_doc_len = doc_len_all.mean()  # as bm25s: the mean of an int64 array
    idf = np.array([math.log(1 + (n_docs - d + 0.5) / (d + 0.5)) if d else 0.0 for d in df.tolist()], dtype=np.float32)
    indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    data = np.empty(int(indptr[-1]), dtype=np.float32)
    indices = np.empty(int(indptr[-1]), dtype=np.int32)
    fill = np.zeros(len(vocab), dtype=np.int64)
    k1, b = params.k1, params.b
    for c in range(chunks):
        terms = np.load(spill / f"{c}.term.npy").astype(np.int64)
        doc = np.load(spill / f"{c}.doc.npy")
        tf = np.load(spill / f"{c}.tf.npy")
        _, first, count = np.unique(terms, return_index=True, return_counts=True)
        dest = indptr[terms] + fill[terms] + (np.arange(terms.size) - np.repeat(first, count))
        # bm25s: tf / (k1 * ((1 - b) + b * l_d / l_avg) + tf) in float64, times the float32 idf, stored as float32
        l_d = doc_len_all[doc].astype(np.float64)
        tfc = tf / (k1 * ((1 - b) + b * l_d / avg_doc_len) + tf)
        data[dest] = idf[terms] * tfc
        indices[dest] = doc
        fill += np.bincount(terms, minlength=len(vocab))
        for part in ("term", "doc", "tf"):
            (spill / f"{c}.{part}.npy").unlink()
    spill.rmdir()
    retriever = bm25s.BM25(k1=params.k1, b=params.b, method=params.method)
    retriever.scores = {"data": data, "indices": indices, "indptr": indptr, "num_docs": n_docs}
    vocab[""] = len(vocab)  # bm25s's empty token (no postings)
    retriever.vocab_dict = vocab
    retriever.nonoccurrence_array = None
    retriever.save(str(folder), show_progress=False)
    ids = np.concatenate(id_chunks)
    np.save(folder / "doc_ids.npy", ids)
    np.save(folder / "doc_order.npy", np.argsort(ids, kind="stable").astype(np.int32))
    log.info("bm25: indexed %d documents (%d postings) in %.1f s", n_docs, data.size, time.perf_counter() - started)
    return n_docs


class RankBm25Index:
    """rank-bm25's ``BM25Okapi`` with Lucene's idf: the slow, simple reference."""

    def __init__(self, docs: Iterable[tuple[str, str]], params: Bm25Params):
        import numpy as np
        import rank_bm25

        class LuceneBM25(rank_bm25.BM25Okapi):  # type: ignore[misc, name-defined]
            def _calc_idf(self, nd: dict[str, int]) -> None:
                self.idf = {w: float(np.log(1 + (self.corpus_size - n + 0.5) / (n + 0.5))) for w, n in nd.items()}

        self.tokenizer = Tokenizer(params)
        pairs = list(docs)
        self.doc_ids = np.array([doc_id for doc_id, _ in pairs], dtype=object)
        self.model = LuceneBM25(self.tokenizer.tokens([text for _, text in pairs]), k1=params.k1, b=params.b)

    def scores(self, tokens: list[str]) -> Any:
        return self.model.get_scores(tokens)


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
