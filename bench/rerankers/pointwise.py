"""The pointwise adapter: any pair scorer (:class:`~bench.rerankers.base.Reranker`) as a ranker of request batches.

Cross-encoders, bi-encoders, monoT5, yes/no LLMs and ColBERT score one (query, passage) pair
at a time; their ``prepare`` (tokenise, length-sorted padded batches) and ``forward`` halves
are unchanged. This adapter maps a batch of :class:`~bench.ranking.Request` s onto them, one
query after another, so a run's scores are the scores the families gave before the ranking
contract (same bytes). Long documents (FirstP/MaxP) are expanded into windows here and folded
back into one score per document; the cost is the pairs scored (windows, when windowed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..ranking import Cost, Ranker, Ranking, Request
from .base import Reranker
from .passages import Passages, combine, expand


class Pointwise(Ranker):
    """A :class:`Reranker` (one score per pair) behind the ranking contract."""

    def __init__(self, scorer: Reranker, passages: Passages | None = None):
        super().__init__(scorer.located, scorer.settings, scorer.options)
        self.scorer = scorer
        self.kind = scorer.kind
        self.passages = passages
        self.device = scorer.settings.device

    def load(self) -> None:
        self.scorer.load()

    def warmup(self) -> None:
        self.scorer.warmup()

    def describe(self) -> dict[str, Any]:
        return self.scorer.describe()

    def _pairs(self, request: Request) -> tuple[list[str], list[str]]:
        if self.passages is None:
            return list(request.doc_ids), list(request.texts)
        return expand(self.passages, list(request.doc_ids), list(request.texts))  # doc ids repeat, one per window

    def prepare(self, requests: Sequence[Request]) -> list[tuple[Request, list[str], list[str], Any]]:
        out = []
        for request in requests:
            ids, texts = self._pairs(request)
            out.append((request, ids, texts, self.scorer.prepare(request.query, texts) if texts else None))
        return out

    def rank(self, prepared: list[tuple[Request, list[str], list[str], Any]]) -> list[Ranking]:
        out = []
        for request, ids, texts, tensors in prepared:
            scores = self.scorer.score_prepared(request.query, texts, tensors)
            docs, doc_scores = combine(ids, scores)  # windows -> documents (a no-op without windows)
            cost, trace = self.scorer.take_calls(ids) if hasattr(self.scorer, "take_calls") else ({}, [])
            out.append(Ranking(request.qid, docs, doc_scores, Cost(pairs=len(ids)).add(cost), trace))
        return out
