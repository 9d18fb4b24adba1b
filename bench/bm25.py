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
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .store import atomic_dir, cache_dir, file_lock, stable_hash

log = logging.getLogger(__name__)

INDEX_FORMAT = 1


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
    """A bm25s index persisted in the user cache, keyed by corpus fingerprint and parameters."""

    def __init__(self, retriever: Any, doc_ids: Any, tokenizer: Tokenizer, path: Path | None):
        self.retriever = retriever
        self.doc_ids = doc_ids
        self.tokenizer = tokenizer
        self.path = path

    @classmethod
    def build(cls, docs: Iterable[tuple[str, str]], params: Bm25Params, show_progress: bool = False) -> Bm25sIndex:
        import bm25s
        import numpy as np

        tokenizer = Tokenizer(params)
        ids, texts = [], []
        for doc_id, text in docs:
            ids.append(doc_id)
            texts.append(text)
        if not ids:
            raise ConfigError("the collection has no documents to index; use --first-stage candidates")
        started = time.perf_counter()
        tokenized = bm25s.tokenize(
            texts, stopwords=tokenizer.stopwords, stemmer=tokenizer.stemmer, show_progress=show_progress
        )
        del texts
        retriever = bm25s.BM25(k1=params.k1, b=params.b, method=params.method)
        retriever.index(tokenized, show_progress=show_progress)
        log.info("bm25s: indexed %d documents in %.1f s", len(ids), time.perf_counter() - started)
        return cls(retriever, np.array(ids, dtype=object), tokenizer, None)

    def save(self, folder: Path) -> None:
        self.retriever.save(str(folder), show_progress=False)
        (folder / "doc_ids.json").write_text(json.dumps(list(self.doc_ids)), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, params: Bm25Params) -> Bm25sIndex:
        import bm25s
        import numpy as np

        retriever = bm25s.BM25.load(str(folder), mmap=True, show_progress=False)
        doc_ids = np.array(json.loads((folder / "doc_ids.json").read_text(encoding="utf-8")), dtype=object)
        return cls(retriever, doc_ids, Tokenizer(params), folder)

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
                index = cls.build(docs, params, show_progress=show_progress)
                with atomic_dir(folder) as tmp:
                    index.save(tmp)
                    meta = {"fingerprint": fingerprint, "params": params.index_key(), "documents": len(index.doc_ids)}
                    (tmp / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
            else:
                log.info("reusing BM25 index %s", folder)
        return cls.load(folder, params)

    def scores(self, tokens: list[str]) -> Any:
        import numpy as np

        known = self.retriever.get_tokens_ids(tokens)
        if not known:
            return np.zeros(len(self.doc_ids), dtype=np.float32)
        return self.retriever.get_scores_from_ids(known)


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
        hits = top_k(index.scores(tokens), index.doc_ids, k)
        latency[qid] = (time.perf_counter() - started) * 1000.0
        run[qid] = dict(hits)
    return run, latency
