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
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

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
        self._buffers: tuple[Any, Any] | None = None

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
        mode = "r" if mmap else None
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

        if self._buffers is None:
            n = len(self.doc_ids)
            self._buffers = (np.zeros(n, dtype=np.float32), np.empty(n, dtype=np.int32))
        scores = self.retriever.scores
        query = np.asarray(self.retriever.get_tokens_ids(tokens), dtype=np.int64)
        docs, values = bm25_kernel.search(
            scores["data"], scores["indices"], scores["indptr"], query, k, self.id_rank, self.by_rank, *self._buffers
        )
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


def write_index(
    folder: Path, docs: Iterable[tuple[str, str]], params: Bm25Params, chunk: int = 100_000, show_progress: bool = False
) -> int:
    """Build a bm25s-format index into ``folder`` streaming over ``docs``; returns the number of documents.

    bm25s's ``tokenize`` + ``BM25.index`` hold every passage's text and token list as Python
    objects (tens of GB for MS MARCO's 8.8M passages). Here ``chunk`` passages at a time are
    tokenised by the same ``bm25s.tokenize`` call and reduced to (term, doc, tf) postings in
    numpy arrays spilled to disk; a second pass computes each posting's score with bm25s's
    formulas in the same floating-point order (scores are bit-identical to ``BM25.index``,
    tests/test_perf_paths.py) and scatters it into the term-major (CSC) arrays. Peak memory
    is the final arrays (8 bytes per posting) plus one chunk.
    """
    import itertools
    import math

    import bm25s
    import numpy as np

    if params.method != "lucene":
        raise ConfigError(f"BM25 method {params.method!r} is not supported by the streaming indexer; use method='lucene'")
    tokenizer = Tokenizer(params)
    started = time.perf_counter()
    spill = folder / ".postings"
    spill.mkdir(parents=True, exist_ok=True)
    vocab: dict[str, int] = {}
    df = np.zeros(0, dtype=np.int64)
    lengths: list[Any] = []
    id_chunks: list[Any] = []
    n_docs = 0
    chunks = 0
    for batch in _batches(docs, chunk):
        n = len(batch)
        tokenized = bm25s.tokenize(
            [text for _, text in batch], stopwords=tokenizer.stopwords, stemmer=tokenizer.stemmer, return_ids=True, show_progress=False
        )
        local = np.empty(len(tokenized.vocab), dtype=np.int64)
        for token, local_id in tokenized.vocab.items():
            local[local_id] = vocab.setdefault(token, len(vocab))
        doc_len = np.fromiter(map(len, tokenized.ids), dtype=np.int64, count=n)
        flat = np.fromiter(itertools.chain.from_iterable(tokenized.ids), dtype=np.int64, count=int(doc_len.sum()))
        keys, tf = np.unique(local[flat] * n + np.repeat(np.arange(n, dtype=np.int64), doc_len), return_counts=True)
        terms = keys // n
        np.save(spill / f"{chunks}.term.npy", terms.astype(np.int32))
        np.save(spill / f"{chunks}.doc.npy", (keys % n + n_docs).astype(np.int32))
        np.save(spill / f"{chunks}.tf.npy", tf.astype(np.float32))
        counts = np.bincount(terms, minlength=len(vocab))
        counts[: df.size] += df
        df = counts
        lengths.append(doc_len)
        id_chunks.append(np.array([doc_id for doc_id, _ in batch], dtype=str))
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
        ids, texts = zip(*docs) if docs else ((), ())
        self.doc_ids = np.array(ids, dtype=object)
        self.model = LuceneBM25(self.tokenizer.tokens(list(texts)), k1=params.k1, b=params.b)

    def scores(self, tokens: list[str]) -> Any:
        return self.model.get_scores(tokens)


def retrieve(
    index: Bm25sIndex | RankBm25Index,
    queries: dict[str, str],
    k: int,
    progress: Callable[[Iterable[str]], Iterable[str]] | None = None,
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Top-k per query and the milliseconds each query took (tokenise + score + select)."""
    run: dict[str, dict[str, float]] = {}
    latency: dict[str, float] = {}
    qids: Iterable[str] = progress(list(queries)) if progress else list(queries)
    for qid in qids:
        started = time.perf_counter()
        tokens = index.tokenizer.tokens([queries[qid]])[0]
        hits = index.search(tokens, k) if isinstance(index, Bm25sIndex) else top_k(index.scores(tokens), index.doc_ids, k)
        latency[qid] = (time.perf_counter() - started) * 1000.0
        run[qid] = dict(hits)
    return run, latency
