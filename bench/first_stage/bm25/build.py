"""Building a bm25s-format index by streaming over the corpus (bounded memory, optional worker processes).

See :func:`write_index`. Term ids are assigned in sorted order of first appearance by chunk,
so the files do not depend on hash seeds or on the number of worker processes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ...errors import ConfigError
from .params import Bm25Params, Tokenizer

log = logging.getLogger(__name__)

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
    chunks go to ``workers`` forked processes (the caller decides how many; 1 tokenises here).
    Everything a worker runs is imported before the fork, so a worker never needs a lock that
    another thread of this process held at fork time. ``spawn`` is avoided because it re-runs
    an unguarded ``__main__`` script in every worker; without fork, chunks are tokenised here.
    """
    import gc
    import multiprocessing
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
    )
    if not parallel:
        for batch in _chain(first, second, batches):
            yield [d for d, _ in batch], tokenise_chunk([t for _, t in batch], params)
        return
    from concurrent.futures import ProcessPoolExecutor

    log.info("bm25: tokenising in %d processes", workers)
    tokenise_chunk(["warm up"], params)  # imports and the stemmer happen before the fork, not in the workers
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


def index_workers(requested: int = 0) -> int:
    """Tokenising processes for index builds: ``requested``, else ``$BENCH_INDEX_WORKERS``, else the CPU count (at most 8)."""
    import os

    if requested > 0:
        return requested
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
    workers: int = 1,
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
    for doc_ids, (words, flat, doc_len) in _tokenised(docs, params, chunk, workers):
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
