"""The ``listwise`` family: windows of passages reordered by a generative model (RankZephyr, RankVicuna, RankGPT, FIRST).

Windows slide back to front (``window_size`` 20, ``stride`` 10, ``passes`` 1: 9 windows over
the top 100), window k of every query of the batch in one backend call
(:func:`bench.rerankers.window.slide`); a query's windows stay in order. Each window's prompt
is rank_llm 0.25.7's (:mod:`.prompt`), its answer is read and repaired as rank_llm does
(:mod:`.parse`), and the trace keeps, per window, the prompt, the raw answer, its parse
status and the missing / duplicate / out-of-range counts. Decoding is greedy unless the
user allows sampling, and is part of the stage's key. FIRST reads the identifiers'
log-probabilities at the first output position in one forward pass instead of generating.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ...backends import options as backend_options
from ...backends.base import Decoding, Prompt
from ...backends.options import BACKEND_FIELDS, BackendOptions
from ...errors import ConfigError, ModelError
from ...options import as_dict
from ...ranking import FOLDER, Cost, Ranker, Ranking, Request
from ..window import Window, slide
from .parse import Parsed, from_logprobs, parse
from .presets import PRESETS, RANK_LLM_VERSION, Preset, for_model
from .prompt import Built, Prompter, identifier, permutation_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ListwiseOptions(BackendOptions):
    """The preset (None: from the hub id), the windows, the word and context budgets, the backend and the decoding."""

    preset: str | None = None
    window_size: int = 20
    stride: int = 10
    passes: int = 1
    max_words: int = 300  # words per passage for a full window (rank_llm's 300), shrunk until the prompt fits
    context_size: int = 4096  # rank_llm's default context
    backend: str = "hf"
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    allow_sampling: bool = False

    def decoding(self, max_new_tokens: int = 1) -> Decoding:
        return Decoding(max_new_tokens=max_new_tokens, temperature=self.temperature, top_p=self.top_p, seed=self.seed,
                        allow_sampling=self.allow_sampling)


class Listwise(Ranker):
    kind = "listwise"
    Options = ListwiseOptions
    SOURCE = FOLDER
    QUERIES_PER_BATCH = 16  # window k of 16 queries per call (the order inside each query does not depend on it)

    @classmethod
    def recognises(cls, located: Any) -> int:
        """A hub id whose preset is known (their configs are ordinary causal LMs, which causal-lm claims at 10)."""
        return 20 if for_model(getattr(located, "spec", None)) else 0

    @classmethod
    def resolve(cls, options: ListwiseOptions, located: Any) -> ListwiseOptions:
        """The preset from the hub id when not given; every option checked before anything loads."""
        from ...backends import BACKENDS

        if options.preset is None:
            spec = getattr(located, "spec", None) or options.model  # a served model: its id
            name = for_model(spec)
            if name is None:
                raise ConfigError(f"model {spec!r}: no listwise preset is known for it; "
                                  f"set --option preset= one of {', '.join(PRESETS)}")
            options = replace(options, preset=name)
        if options.preset not in PRESETS:
            raise ConfigError(f"unknown listwise preset {options.preset!r}; use one of {', '.join(PRESETS)}")
        for name in ("window_size", "stride", "passes", "max_words", "context_size"):
            if getattr(options, name) < 1:
                raise ConfigError(f"listwise option {name} must be at least 1, got {getattr(options, name)}")
        if PRESETS[options.preset].alpha and options.window_size > 26:
            raise ConfigError(f"preset {options.preset} names passages A..Z, so window_size can be 26 at most, got {options.window_size}")
        if options.backend not in BACKENDS:
            raise ConfigError(f"unknown generation backend {options.backend!r}; use one of {', '.join(BACKENDS.names())}")
        options.decoding()  # refuses sampling unless allowed
        return options

    @classmethod
    def source(cls, options: Any) -> str:
        return backend_options.source(options)  # backend=openai: an endpoint, keyed by model id and stated revision

    @classmethod
    def endpoint_key(cls, options: Any) -> dict[str, Any]:
        return backend_options.endpoint_key(options, options.preset)

    @classmethod
    def key_options(cls, options: ListwiseOptions) -> dict[str, Any]:
        """Every option of the family, the backend's that change the output (never the URL), the decoding spelled out, the preset's text."""
        own = {k: v for k, v in as_dict(options).items() if k not in BACKEND_FIELDS or k in ("backend", "seed")}
        out = backend_options.key_options(own, options)
        d = options.decoding()
        out["decoding"] = "greedy" if d.greedy else {"temperature": d.temperature, "top_p": d.top_p, "seed": d.seed}
        if options.preset in PRESETS:
            text = json.dumps(PRESETS[options.preset].template, sort_keys=True)
            out["template"] = {"rank_llm": RANK_LLM_VERSION, "sha256": hashlib.sha256(text.encode()).hexdigest()[:16]}
        return out

    # -- lifecycle ------------------------------------------------------------------------------
    def __init__(self, located: Any, settings: Any, options: Any = None):
        super().__init__(located, settings, options)
        self.options = self.resolve(self.options, located)
        self.preset: Preset = PRESETS[str(self.options.preset)]
        self.backend: Any = None
        self.prompter: Prompter | None = None

    def load(self) -> None:
        from ...backends import BACKENDS

        try:
            import ftfy  # noqa: F401  (rank_llm's text repair: prompts are not rank_llm's without it)
        except ImportError:
            raise ModelError("the listwise family needs ftfy (rank_llm repairs every passage with it); pip install ftfy") from None
        self.backend = BACKENDS.get(self.options.backend)(self.located, self.settings, self.options)
        self.backend.load()
        o = self.options
        self.prompter = Prompter(self.preset, self.backend, o.max_words, o.window_size, o.context_size)
        limit = self.backend.context_length()
        if limit and limit < o.context_size:
            spec = getattr(self.located, "spec", self.options.model)
            raise ModelError(f"model {spec!r} reads {limit} tokens at most; set --option context_size={limit} or less")

    def warmup(self) -> None:
        self.backend.complete([Prompt(text="warm up")], Decoding(max_new_tokens=2))

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "options": as_dict(self.options), "preset": self.preset.name,
                               "rank_llm": RANK_LLM_VERSION, "template_source": self.preset.source,
                               "scoring": "identifier logits at the first output position" if self.preset.logits else "generation"}
        if self.backend is not None:
            out.update(self.backend.describe())
        out["model"] = self.located.spec if self.located is not None else self.options.model
        return out

    # -- ranking --------------------------------------------------------------------------------
    def rank(self, prepared: Sequence[Request]) -> list[Ranking]:
        requests = list(prepared)
        passes = [0] * len(requests)
        prompter = self.prompter
        if prompter is None:
            raise RuntimeError("listwise ranker used before load()")

        def call(batch: list[Window]) -> list[tuple[list[int], dict[str, Any]]]:
            for w in batch:
                passes[w.index] += w.step == 0
            built = [prompter.build(w.query, w.texts) for w in batch]
            answers = self._logits(batch, built) if self.preset.logits else self._generate(prompter, batch, built)
            out = []
            for w, b, (parsed, entry) in zip(batch, built, answers, strict=True):
                entry = {"pass": passes[w.index], "step": w.step, "window": [w.start, w.end], "batch": len(batch),
                         "max_words": b.max_words, "prompt": b.text, "prompt_tokens": b.tokens, **entry,
                         "status": parsed.status, **{k: v for k, v in parsed.counts().items() if k != "status"},
                         "order": [w.doc_ids[i] for i in parsed.permutation]}
                out.append((parsed.permutation, entry))
            return out

        slid = slide(requests, self.options.window_size, self.options.stride, call, self.options.passes)
        rankings = []
        for request, (order, trace) in zip(requests, slid, strict=True):
            cost = Cost(calls=len(trace), windows=len(trace), input_tokens=sum(t["prompt_tokens"] for t in trace),
                        output_tokens=sum(t.get("output_tokens", 0) for t in trace), malformed=sum(t["status"] != "ok" for t in trace),
                        cached=sum(bool(t.get("cached")) for t in trace))
            rankings.append(Ranking(request.qid, order, None, cost, trace))
        return rankings

    def _generate(self, prompter: Prompter, batch: list[Window], built: list[Built]) -> list[tuple[Parsed, dict[str, Any]]]:
        """One backend call per window length (only the last window of a query can be shorter)."""
        results: list[tuple[Parsed, dict[str, Any]] | None] = [None] * len(batch)
        for n in sorted({len(w.doc_ids) for w in batch}, reverse=True):
            rows = [i for i, w in enumerate(batch) if len(w.doc_ids) == n]
            budget = prompter.answer_tokens(n) + 1  # the whole permutation (rank_llm's estimate), then end of sequence
            completions = self.backend.complete([Prompt(text=built[i].text) for i in rows], self.options.decoding(budget))
            for i, c in zip(rows, completions, strict=True):
                parsed = parse(c.text, n, self.preset.alpha, self.preset.validation_regex)
                results[i] = (parsed, {"raw": c.text, "output_tokens": c.output_tokens, "finish_reason": c.finish_reason,
                                       **({"cached": True} if c.cached else {}), **({"request": c.extra["request"]} if "request" in c.extra else {})})
        return [r for r in results if r is not None]

    def _logits(self, batch: list[Window], built: list[Built]) -> list[tuple[Parsed, dict[str, Any]]]:
        """FIRST: one forward pass per window over the prompt and the answer's opening ``[``; every identifier ranked."""
        width = max(len(w.doc_ids) for w in batch)
        letters = [identifier(i + 1, True) for i in range(width)]
        rows = self.backend.next_token_logprobs([Prompt(text=b.text + "[") for b in built], letters)
        out = []
        for w, row in zip(batch, rows, strict=True):
            n = len(w.doc_ids)
            parsed, text = from_logprobs(row, n)
            out.append((parsed, {"raw": text, "output_tokens": 0, "logprobs": {k: round(v, 6) for k, v in list(row.items())[:n]},
                                 "answer_opening": "["}))
        return out


__all__ = ["Listwise", "ListwiseOptions", "permutation_text"]
