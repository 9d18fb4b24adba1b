"""Yes/no LLM rerankers through a generation backend (``vllm`` in process, ``openai`` on a server).

The score is the model card's log-odds ``log P(yes) - log P(no)`` at the first generated
position, which equals ``logit(yes) - logit(no)`` (the softmax's normaliser cancels): the
``hf`` path's score, from log-probabilities instead of logits. Where a tokenizer is at hand
(``vllm`` always, ``openai`` with ``--option tokenizer=FOLDER``) the prompt is the very token
ids the ``hf`` path builds, truncation included, sent as a token-id prompt; otherwise the
prompt's text, which the server tokenises (and does not truncate). A preset scored by the
true token's raw logit alone (bge-reranker-v2-gemma) cannot be served: a server returns
log-probabilities, never logits.
"""

from __future__ import annotations

import logging
from typing import Any

from ..backends import BACKENDS
from ..backends.base import Prompt as BackendPrompt
from ..backends.base import Scored
from ..backends.options import backend_of
from ..errors import ConfigError

log = logging.getLogger(__name__)


class ServedYesNo:
    """The served half of :class:`~bench.rerankers.causal_lm.CausalLM`: prompts in, log-odds and call records out."""

    def __init__(self, family: Any):
        self.family = family
        self.backend: Any = None
        self.calls: list[tuple[dict[str, Any], Scored]] = []

    @property
    def spec(self) -> str:
        f = self.family
        return str(f.located.spec if f.located is not None else f.options.model)

    def load(self) -> None:
        from .prompts import resolve

        f, opts = self.family, self.family.options
        name = backend_of(opts)
        f.prompt, parts = resolve(self.spec, opts.prompt, opts.instruction)
        false = f.prompt.false_token if opts.false_token is None else opts.false_token
        if not false:
            raise ConfigError(f"prompt {f.prompt.name!r} scores the raw logit of {f.prompt.true_token!r}, which a {name} backend cannot give "
                              "(only log-probabilities); use --option backend=hf, or set false_token to score log-odds")
        tokenizer_path = f.located.path if f.located is not None else opts.tokenizer
        f.tokenizer = None
        if tokenizer_path:
            from transformers import AutoTokenizer

            f.tokenizer = AutoTokenizer.from_pretrained(tokenizer_path, trust_remote_code=f.settings.trust_remote_code)
        true = opts.true_token or f.prompt.true_token
        f.max_length = f.settings.max_length
        if f.located is not None:
            limit = f.located.config().get("max_position_embeddings")
            f.max_length = min(f.max_length, int(limit)) if limit else f.max_length
        f.max_query_tokens = opts.max_query_tokens or f.max_length * 3 // 4
        f.parts_text = parts
        if f.tokenizer is not None:
            f.true_id, f.false_id = f._token_id(true, "true_token"), f._token_id(false, "false_token")
            f._tokenise_parts(parts)
            self.candidates = [f.tokenizer.decode([f.true_id]), f.tokenizer.decode([f.false_id])]
        else:
            f.true_id = f.false_id = None
            self.candidates = [true, false]
        if self.candidates[0] == self.candidates[1]:
            raise ConfigError(f"answer tokens {true!r} and {false!r} read the same; set true_token/false_token")
        path = f.located.path if f.located is not None else None
        identity = {**f.endpoint_key(opts), "options": f.key_options(opts)} if name == "openai" else None
        self.backend = BACKENDS.get(name)(path, f.settings, opts, identity) if identity else BACKENDS.get(name)(path, f.settings, opts)
        self.backend.load()

    def describe(self) -> dict[str, Any]:
        f = self.family
        out = {"model": self.spec, "kind": f.kind, "options": f.key_options(f.options), "max_length": f.max_length,
               "prompt": f.prompt.name, "score": "log-odds", "answers": self.candidates, "max_query_tokens": f.max_query_tokens}
        out.update(self.backend.describe() if self.backend is not None else {})
        return out

    def prepare(self, query: str, passages: list[str]) -> list[BackendPrompt]:
        f = self.family
        if f.tokenizer is not None:
            return [BackendPrompt(token_ids=tuple(f.encode(query, p))) for p in passages]
        text = "".join(f.parts_text)
        return [BackendPrompt(text=text.replace("{query}", query).replace("{document}", p)) for p in passages]

    def forward(self, prompts: list[BackendPrompt]) -> list[float]:
        scored = self.backend.score_next_token(prompts, self.candidates)
        true, false = self.candidates
        out = []
        for s in scored:
            out.append(s.logprobs[true] - s.logprobs[false])
            call: dict[str, Any] = {"logprobs": {k: round(v, 6) for k, v in s.logprobs.items()}, "prompt_tokens": s.prompt_tokens,
                                    "status": "ok" if not s.missing else f"not in the top {self.family.options.top_logprobs}: {', '.join(s.missing)}"}
            if s.request:
                call["request"] = s.request
            if s.cached:
                call["cached"] = True
            self.calls.append((call, s))
        return out

    def take(self, doc_ids: list[str]) -> tuple[dict[str, int], list[dict[str, Any]]]:
        """The cost units and trace of the calls since the last take (one call per pair, in the pairs' order)."""
        calls, self.calls = self.calls, []
        cost = {"calls": len(calls), "input_tokens": 0, "output_tokens": 0, "cached": 0, "malformed": 0}
        trace = []
        for doc, (call, s) in zip(doc_ids, calls, strict=True):
            cost["input_tokens"] += s.prompt_tokens
            cost["output_tokens"] += s.output_tokens
            cost["cached"] += int(s.cached)
            cost["malformed"] += int(bool(s.missing))
            trace.append({"doc": doc, **call})
        return cost, trace
