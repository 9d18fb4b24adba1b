"""BM25 parameters, the shared tokeniser and deterministic top-k selection.

Both backends (the bm25s index and the rank-bm25 reference) tokenise with :class:`Tokenizer`
and select hits with trec_eval's tie order, so they rank alike.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ...errors import ConfigError


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
