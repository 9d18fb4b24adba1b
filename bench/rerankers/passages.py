"""Long documents as word windows: FirstP scores the first window, MaxP every window and keeps the maximum.

Documents such as Robust04's or MS MARCO's are far longer than a cross-encoder's 512 tokens,
so a model given the whole text sees only its beginning. Following Dai & Callan (SIGIR 2019,
"Deeper Text Understanding for IR with Contextual Neural Language Modeling"), a document is
cut into windows of ``window`` words every ``stride`` words (default 150 and 75); FirstP
scores only the first window, MaxP scores all and takes the maximum. Windows are scored like
any other pairs (batched together), so per-query latency and pairs/s count windows.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Passages:
    """How a long document is scored: ``strategy`` first | max over windows of ``window`` words every ``stride``."""

    strategy: str
    window: int = 150
    stride: int = 75

    def windows(self, text: str) -> list[str]:
        """The document's windows in order; a document no longer than one window is one window."""
        words = text.split()
        out = []
        for start in range(0, max(len(words), 1), self.stride):
            out.append(" ".join(words[start : start + self.window]))
            if start + self.window >= len(words) or self.strategy == "first":
                break
        return out

    def describe(self) -> dict[str, object]:
        return {"strategy": self.strategy, "window": self.window, "stride": self.stride, "unit": "words"}


def expand(passages: Passages, ids: list[str], texts: list[str]) -> tuple[list[str], list[str]]:
    """One (doc id, window) pair per window: doc ids repeat, one per window of that document."""
    out_ids: list[str] = []
    out_texts: list[str] = []
    for doc_id, text in zip(ids, texts, strict=True):
        for window in passages.windows(text):
            out_ids.append(doc_id)
            out_texts.append(window)
    return out_ids, out_texts


def combine(ids: list[str], scores: list[float]) -> tuple[list[str], list[float]]:
    """Each document's best window score (MaxP; FirstP has one window per document), documents in first-seen order."""
    best: dict[str, float] = {}
    for doc_id, score in zip(ids, scores, strict=True):
        best[doc_id] = max(best[doc_id], score) if doc_id in best else score
    return list(best), list(best.values())
