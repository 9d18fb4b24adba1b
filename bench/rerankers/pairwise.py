"""duoT5: every ordered pair of the top ``k`` scored by a seq2seq model, aggregated into one score per document.

The model reads ``Query: {q} Document0: {d0} Document1: {d1} Relevant:`` and one decoder
step from its start token; ``p(d0 > d1) = softmax([logit(false), logit(true)])[true]``
(the duoT5 card; pygaggle's ``DuoT5``). Aggregations (Pradeep et al. 2021, arXiv 2101.05667,
section 4.2, with ``J_i`` the other documents of the top ``k``):

* ``sym-sum`` (the paper's, default): ``s_i = sum_j p_ij + (1 - p_ji)`` over all ordered pairs;
* ``sum``: ``s_i = sum_j p_ij``; ``max``: ``s_i = max_j p_ij``; ``min``: ``s_i = min_j p_ij``;
* ``half``: rank_llm's loop (``PairwiseRankLLM.rerank_batch``): only the pairs ``i < j`` are
  scored (half the calls), ``s_i += p_ij`` and ``s_j += 1 - p_ij``.

pyterrier_t5's ``DuoT5`` adds ``1 - score`` to a log-softmax score, which mixes units; it
is not offered. Pairs of all the queries in a batch are tokenised, length-sorted and cut
into model batches together (no tiny tail batch per query); the documents below ``k`` keep
their input order under the reranked ones. Each pair is one model call in the bill, and
no token is generated (the score is read from the first decoder step's logits).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError, ModelError
from ..ranking import Cost, Ranker, Ranking, Request
from .base import Batches
from .seq2seq import Seq2Seq

AGGREGATIONS = ("sym-sum", "sum", "max", "min", "half")


@dataclass(frozen=True)
class PairwiseOptions:
    """``k`` documents reranked by pairs, the aggregation, and duoT5's answer tokens and template (as seq2seq's)."""

    k: int = 50
    aggregation: str = "sym-sum"
    true_token: str | None = None
    false_token: str | None = None
    template: str = "Query: {query} Document0: {document0} Document1: {document1} Relevant:"
    allow_fp16: bool = False

    def __post_init__(self) -> None:
        if self.aggregation not in AGGREGATIONS:
            raise ConfigError(f"pairwise: unknown aggregation {self.aggregation!r}; use one of {', '.join(AGGREGATIONS)}")
        if self.k < 2:
            raise ConfigError(f"pairwise: k must be 2 or more documents, got {self.k}")


def pairs_for(n: int, aggregation: str) -> list[tuple[int, int]]:
    """The pairs a query's top ``n`` needs: all ordered ones, or ``i < j`` only for ``half``."""
    if aggregation == "half":
        return [(i, j) for i in range(n) for j in range(i + 1, n)]
    return [(i, j) for i in range(n) for j in range(n) if i != j]


def aggregate(n: int, pairs: Sequence[tuple[int, int]], probs: Sequence[float], aggregation: str) -> list[float]:
    """One score per document from ``p(i > j)`` of each pair (the formulas in the module docstring)."""
    if n == 1:
        return [0.0]
    p = dict(zip(pairs, probs, strict=True))
    if aggregation == "half":
        scores = [0.0] * n
        for (i, j), value in zip(pairs, probs, strict=True):  # rank_llm's order of additions
            scores[i] += value
            scores[j] += 1.0 - value
        return scores
    others = [[j for j in range(n) if j != i] for i in range(n)]
    if aggregation == "sym-sum":
        return [math.fsum(p[i, j] + (1.0 - p[j, i]) for j in others[i]) for i in range(n)]
    if aggregation == "sum":
        return [math.fsum(p[i, j] for j in others[i]) for i in range(n)]
    if aggregation == "max":
        return [max(p[i, j] for j in others[i]) for i in range(n)]
    return [min(p[i, j] for j in others[i]) for i in range(n)]


class DuoT5(Seq2Seq):
    """The pair scorer: monoT5's loading, answer tokens and decoder step, with two documents per input."""

    kind = "pairwise"
    Options = PairwiseOptions
    FIELDS = ("{query}", "{document0}", "{document1}")

    @classmethod
    def recognises(cls, located: Any) -> int:
        return 0  # a T5 folder; the family is chosen by --kind pairwise

    def _split_template(self) -> None:
        """Token ids of the fixed parts between the documents (used only when a pair must be cut to fit)."""
        head, _, rest = self.options.template.partition("{document0}")
        middle, _, tail = rest.partition("{document1}")
        self.head_text = head.rstrip()
        self.middle_ids = self.tokenizer(middle.strip(), add_special_tokens=False)["input_ids"]
        self.tail_ids = self.tokenizer(tail.strip(), add_special_tokens=True)["input_ids"]  # "Relevant:" + </s>
        if len(self.middle_ids) + len(self.tail_ids) >= self.max_length // 2:
            raise ModelError(f"model {self.located.spec!r}: max_length {self.max_length} leaves no room for two documents after the template")

    def encode_pairs(self, query: str, texts: Sequence[str], pairs: Sequence[tuple[int, int]]) -> list[dict[str, list[int]]]:
        """The template tokenised whole per pair; over ``max_length`` both documents are cut, never the query's start or the tail."""
        prompts = [self.options.template.format(query=query, document0=texts[i], document1=texts[j]) for i, j in pairs]
        enc = self.tokenizer(prompts, add_special_tokens=True, truncation=False, padding=False, return_attention_mask=False)["input_ids"]
        doc_ids: dict[int, list[int]] = {}
        head: list[int] | None = None
        out = []
        for ids, (i, j) in zip(enc, pairs, strict=True):
            if len(ids) > self.max_length:
                if head is None:
                    head = self.tokenizer(self.head_text.format(query=query), add_special_tokens=False)["input_ids"]
                for d in (i, j):
                    if d not in doc_ids:
                        doc_ids[d] = self.tokenizer(texts[d], add_special_tokens=False)["input_ids"]
                ids = self._cut(head, doc_ids[i], doc_ids[j])
            out.append({"input_ids": ids})
        return out

    def _cut(self, head: list[int], first: list[int], second: list[int]) -> list[int]:
        """Head + both documents sharing the room evenly (a short one leaves its share to the other) + middle + tail."""
        room = self.max_length - len(self.middle_ids) - len(self.tail_ids)
        head = head[: room // 3]  # a query longer than a third of the budget is cut too
        room -= len(head)
        a = min(len(first), max(room // 2, room - len(second)))
        b = min(len(second), room - a)
        return head + first[:a] + self.middle_ids + second[:b] + self.tail_ids

    def _score(self, batch: dict[str, Any]) -> Any:
        """``p(true)`` from the first decoder step: softmax over the (false, true) logits, in float32."""
        import torch

        ids, mask = batch["input_ids"], batch["attention_mask"]
        start = torch.full((ids.shape[0], 1), self.decoder_start, dtype=torch.long, device=ids.device)
        logits = self.model(input_ids=ids, attention_mask=mask, decoder_input_ids=start, use_cache=False).logits[:, 0]
        pair = torch.stack([logits[:, self.false_id], logits[:, self.true_id]], dim=1).float()
        return torch.softmax(pair, dim=1)[:, 1]


@dataclass
class _Plan:
    request: Request
    n: int  # documents reranked by pairs (the top k of the request)
    pairs: list[tuple[int, int]]
    start: int  # where this request's pairs begin in the batch's features


class Pairwise(Ranker):
    """duoT5 on the ranking contract: the pairs of every request of a batch in one set of model batches."""

    kind = "pairwise"
    Options = PairwiseOptions
    QUERIES_PER_BATCH = 4  # ~10k pairs at k = 50: long model batches, per-query latency still meaningful

    def __init__(self, located: Any, settings: Any, options: Any = None):
        super().__init__(located, settings, options)
        self.scorer = DuoT5(located, settings, self.options)

    def load(self) -> None:
        self.scorer.load()

    def warmup(self) -> None:
        texts = ("a short warm up passage", "another passage to score", "a passage " * 20)
        self.rank(self.prepare([Request("warmup", "warm up query", ("a", "b", "c"), texts)]))

    def describe(self) -> dict[str, Any]:
        return self.scorer.describe()

    def prepare(self, requests: Sequence[Request]) -> tuple[list[_Plan], Batches]:
        plans, features = [], []
        for request in requests:
            n = min(self.options.k, len(request))
            pairs = pairs_for(n, self.options.aggregation)
            plans.append(_Plan(request, n, pairs, len(features)))
            features.extend(self.scorer.encode_pairs(request.query, request.texts[:n], pairs))
        return plans, self.scorer.batches(features, self.scorer.tokenizer.pad_token_id or 0)

    def rank(self, prepared: tuple[list[_Plan], Batches]) -> list[Ranking]:
        plans, batches = prepared
        probs = self.scorer.run_batches(batches, self.scorer._score) if batches.features else []
        out = []
        for plan in plans:
            mine = probs[plan.start : plan.start + len(plan.pairs)]
            bad = next((k for k, value in enumerate(mine) if not math.isfinite(value)), None)
            if bad is not None:
                i, j = plan.pairs[bad]
                raise ModelError(f"model {self.located.spec!r} gave a non-finite pair probability for query {plan.request.qid!r}, "
                                 f"documents {plan.request.doc_ids[i]!r} and {plan.request.doc_ids[j]!r}; try --dtype float32")
            scores = aggregate(plan.n, plan.pairs, mine, self.options.aggregation) if plan.n else []
            floor = min(scores, default=0.0)
            scores += [floor - position for position in range(1, len(plan.request) - plan.n + 1)]  # below k: input order
            tokens = sum(len(f["input_ids"]) for f in batches.features[plan.start : plan.start + len(plan.pairs)])
            cost = Cost(pairs=len(plan.pairs), calls=len(plan.pairs), input_tokens=tokens)
            out.append(Ranking(plan.request.qid, list(plan.request.doc_ids), scores, cost))
        return out
