"""Setwise prompting (Zhuang et al., SIGIR 2024, arXiv 2310.09497): pick the best of a small set, sort the top ``k`` by it.

The prompt is the paper's (llm-rankers 0.0.2, ``SetwiseLlmRanker.compare``)::

    Given a query "{query}", which of the following passages is the most relevant one to the query?

    Passage A: "{text}"

    Passage B: "{text}" ...

    Output only the passage label of the most relevant passage:

with the query cut to ``query_length`` and each passage to ``passage_length`` tokens as
llm-rankers' ``run.py`` cuts them (``convert_tokens_to_string(tokenize(text)[:n])``). A
*judge* answers it: a seq2seq model in this process (Flan-T5; :mod:`.setwise_t5`) or a
causal LM through a generation backend (:mod:`.setwise_llm`), by ``likelihood`` (one
forward pass, the most probable label) or ``generation`` (greedy; the label parsed from the
text, unparseable answers counted as malformed and read as "A", as llm-rankers reads them).
The sorts (:mod:`.setwise_sort`) are llm-rankers' heapsort and bubblesort; the sets pending
for all the queries of a batch go to the model in one call. The top ``k`` come first, every
other candidate follows in input order. Each set is one model call in the bill, with its
prompt and generated tokens, and one trace entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError, ModelError
from ..ranking import Cost, Ranker, Ranking, Request
from . import setwise_sort
from .setwise_prompt import LABELS, prompt

SCORINGS = ("generation", "likelihood")
T5_ARCHITECTURES = ("T5ForConditionalGeneration", "MT5ForConditionalGeneration", "UMT5ForConditionalGeneration")


@dataclass(frozen=True)
class SetwiseOptions:
    """The sort, the set size (``num_child`` + 1), the top ``k``, how a set is judged, and the paper's truncation."""

    method: str = "heapsort"
    num_child: int = 3
    k: int = 10
    scoring: str = "generation"
    query_length: int = 32
    passage_length: int = 128
    backend: str = "hf"  # causal LMs only: the generation backend that runs them
    allow_fp16: bool = False

    def __post_init__(self) -> None:
        if self.method not in setwise_sort.METHODS:
            raise ConfigError(f"setwise: unknown method {self.method!r}; use one of {', '.join(setwise_sort.METHODS)}")
        if self.scoring not in SCORINGS:
            raise ConfigError(f"setwise: unknown scoring {self.scoring!r}; use one of {', '.join(SCORINGS)}")
        if not 1 <= self.num_child <= len(LABELS) - 1:
            raise ConfigError(f"setwise: num_child must be 1 to {len(LABELS) - 1} (sets are labelled A to W), got {self.num_child}")
        if self.k < 1 or self.query_length < 1 or self.passage_length < 1:
            raise ConfigError(f"setwise: k, query_length and passage_length must be positive, got {self.k}, {self.query_length}, {self.passage_length}")


@dataclass
class _Query:
    request: Request
    query: str
    texts: list[str]


class Setwise(Ranker):
    """Setwise heapsort or bubblesort on the ranking contract, with a seq2seq or causal-LM judge."""

    kind = "setwise"
    Options = SetwiseOptions
    QUERIES_PER_BATCH = 8  # the pending set of 8 queries per model call

    def __init__(self, located: Any, settings: Any, options: Any = None):
        super().__init__(located, settings, options)
        architectures = located.config().get("architectures") or [] if located is not None else []
        if any(a in T5_ARCHITECTURES for a in architectures):
            from .setwise_t5 import T5Judge

            self.judge: Any = T5Judge(located, settings, self.options)
        else:
            from .setwise_llm import BackendJudge

            self.judge = BackendJudge(located, settings, self.options)

    def load(self) -> None:
        self.judge.load()

    def warmup(self) -> None:
        texts = ("a short warm up passage", "another passage", "a passage " * 20, "a fourth one", "and a fifth")
        self.rank(self.prepare([Request("warmup", "warm up query", tuple("abcde"), texts)]))

    def describe(self) -> dict[str, Any]:
        return {**self.judge.describe(), "kind": self.kind}

    def prepare(self, requests: Sequence[Request]) -> list[_Query]:
        cut = self.judge.truncate
        return [_Query(r, cut(r.query, self.options.query_length), [cut(t, self.options.passage_length) for t in r.texts]) for r in requests]

    def rank(self, prepared: list[_Query]) -> list[Ranking]:
        opts = self.options
        sorts = [setwise_sort.make(opts.method, len(q.texts), opts.num_child, min(opts.k, len(q.texts))) for q in prepared]
        costs = [Cost() for _ in prepared]
        traces: list[list[dict[str, Any]]] = [[] for _ in prepared]
        calls = 0

        def judge(pending: list[tuple[int, list[int]]]) -> list[int]:
            nonlocal calls
            calls += 1
            prompts = [prompt(prepared[i].query, [prepared[i].texts[p] for p in positions]) for i, positions in pending]
            choices = self.judge.choose(prompts, [len(positions) for _, positions in pending])
            if len(choices) != len(pending):
                raise ModelError(f"model {self.located.spec!r}: the judge answered {len(choices)} of {len(pending)} sets")
            for (i, positions), choice in zip(pending, choices, strict=True):
                costs[i].add(Cost(calls=1, windows=1, input_tokens=choice.prompt_tokens, output_tokens=choice.output_tokens,
                                  malformed=int(choice.malformed)))
                traces[i].append({"call": calls, "queries_in_call": len(pending), "set": [prepared[i].request.doc_ids[p] for p in positions],
                                  "output": choice.output, "best": choice.best, "status": "malformed" if choice.malformed else "ok",
                                  "prompt_tokens": choice.prompt_tokens, "output_tokens": choice.output_tokens, **choice.extra})
            return [c.best for c in choices]

        tops = setwise_sort.drive(sorts, judge)
        out = []
        for q, top, cost, trace in zip(prepared, tops, costs, traces, strict=True):
            order = setwise_sort.final_order(top, len(q.texts))
            out.append(Ranking(q.request.qid, [q.request.doc_ids[p] for p in order], None, cost, trace))
        return out
