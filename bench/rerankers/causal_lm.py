"""Decoder-only LLM rerankers that answer yes/no (Qwen3-Reranker, bge-reranker-v2-gemma, mxbai-rerank-v2).

Each pair is laid out with its model card's prompt (:mod:`bench.rerankers.prompts`) and the
score is read at the last real token of each row, whatever the padding side: the log-odds
``logit(yes) - logit(no)`` (ranks exactly as P(yes), which saturates at 1.0, in bf16 very
early, and ties documents), or the true token's logit where the card scores that way. Only
the two answer rows of the output head are applied to that one position, not the whole
vocabulary at every position. When a pair is too long the document is cut, never the
template: the query is cut only past ``max_query_tokens``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ..backends import options as backend_options
from ..backends.options import BackendOptions
from ..errors import ModelError
from ..models.hf import load_pretrained
from ..models.locate import LocatedModel
from .base import Reranker
from .prompts import Prompt, resolve

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CausalLMOptions(BackendOptions):
    """Prompt preset (default: from the hub id), instruction, answer tokens and the query's token budget; the backend's options."""

    prompt: str | None = None
    instruction: str | None = None
    true_token: str | None = None
    false_token: str | None = None  # "" scores the true token's logit alone
    max_query_tokens: int | None = None  # default: 3/4 of max_length, as the model cards do


class CausalLM(Reranker):
    kind = "causal-lm"
    Options = CausalLMOptions
    padding_side = "right"  # scores do not depend on it (tests/test_causal_lm.py); left is kept for those tests

    def __init__(self, located: Any, settings: Any, options: Any = None):
        super().__init__(located, settings, options)
        self.served: Any = None
        if backend_options.backend_of(self.options) != "hf":
            from .served_yes_no import ServedYesNo

            self.served = ServedYesNo(self)

    @classmethod
    def recognises(cls, located: LocatedModel) -> int:
        """A ``*ForCausalLM`` architecture in config.json."""
        return 10 if any(str(a).endswith("ForCausalLM") for a in located.config().get("architectures") or []) else 0

    # -- backends: hf (below, in this process) keys as before; vllm and openai through bench.backends --------------------
    @classmethod
    def source(cls, options: Any) -> str:
        return backend_options.source(options)

    @classmethod
    def key_options(cls, options: Any) -> dict[str, Any]:
        return backend_options.key_options(backend_options.family_options(options), options)

    @classmethod
    def endpoint_key(cls, options: Any) -> dict[str, Any]:
        from .prompts import known_prompt

        return backend_options.endpoint_key(options, options.prompt or known_prompt(str(options.model or "")))

    @property
    def spec(self) -> str:
        return str(self.located.spec if self.located is not None else self.options.model)

    def load(self) -> None:
        if self.served is None:
            return super().load()
        self.served.load()

    def warmup(self) -> None:
        if self.served is None:
            super().warmup()  # a served model is warm; requests here would be billed and cached

    def parameters(self) -> int:
        return super().parameters() if self.served is None else 0

    def take_calls(self, doc_ids: list[str]) -> tuple[dict[str, int], list[dict[str, Any]]]:
        """Cost units and trace of the served calls since the last take (nothing for hf: pairs are its cost)."""
        return self.served.take(doc_ids) if self.served is not None else ({}, [])

    def _load(self) -> None:
        opts = self.options
        self.prompt, parts = resolve(self.spec, opts.prompt, opts.instruction)
        if opts.max_query_tokens is not None and opts.max_query_tokens < 1:
            raise ModelError(f"model {self.spec!r}: option max_query_tokens must be at least 1, got {opts.max_query_tokens}")
        self.tokenizer, model, _ = load_pretrained(self, "AutoModelForCausalLM")
        self.max_length = self.fit_max_length(self.settings.max_length, model.config)
        self.max_query_tokens = opts.max_query_tokens or self.max_length * 3 // 4
        self.true_id = self._token_id(opts.true_token or self.prompt.true_token, "true_token")
        false = self.prompt.false_token if opts.false_token is None else opts.false_token
        self.false_id = self._token_id(false, "false_token") if false else None
        self.softcap = getattr(model.config, "final_logit_softcapping", None)
        self._tokenise_parts(parts)
        self.model = self.place(model)
        head = self.model.get_output_embeddings()
        rows = [self.true_id] + ([self.false_id] if self.false_id is not None else [])
        self.answer_rows = head.weight[rows].detach().clone()  # (1 or 2, hidden): the only logits we need
        self.answer_bias = head.bias[rows].detach().clone() if getattr(head, "bias", None) is not None else None

    def _token_id(self, token: str, option: str) -> int:
        """An answer token's id: a vocabulary entry, or text that encodes to exactly one token."""
        vocab = self.tokenizer.get_vocab()
        if token in vocab:
            return int(vocab[token])
        ids = self.tokenizer(token, add_special_tokens=False)["input_ids"]
        if len(ids) != 1:
            raise ModelError(f"model {self.spec!r}: answer {token!r} is not one token of its vocabulary; set option {option}")
        return int(ids[0])

    def _tokenise_parts(self, parts: tuple[str, ...]) -> None:
        """Fixed parts once; the parts holding the query and the document are kept as text."""
        self.parts: list[list[int] | str] = []
        if self.prompt.bos:
            if self.tokenizer.bos_token_id is None:
                raise ModelError(f"model {self.spec!r}: prompt {self.prompt.name!r} needs a BOS token and the tokenizer has none")
            self.parts.append([int(self.tokenizer.bos_token_id)])
        for part in parts:
            self.parts.append(part if "{query}" in part or "{document}" in part else self._ids(part))
        if sum(1 for p in self.parts if isinstance(p, str) and "{document}" in p) != 1:
            raise ModelError(f"prompt {self.prompt.name!r} must have exactly one part holding the document")
        fixed = sum(len(p) for p in self.parts if isinstance(p, list))
        if fixed >= self.max_length // 2:
            raise ModelError(f"model {self.spec!r}: max_length {self.max_length} leaves no room for the pair after the {fixed}-token template")

    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def describe(self) -> dict[str, Any]:
        if self.served is not None:
            return self.served.describe()
        out = super().describe()
        out["options"] = self.key_options(self.options)  # the family's own options, as before backends
        prompt: Prompt | None = getattr(self, "prompt", None)
        if prompt is not None:
            out.update(prompt=prompt.name, score="log-odds" if self.false_id is not None else "true-token logit", max_query_tokens=self.max_query_tokens)
        return out

    def encode(self, query: str, passage: str) -> list[int]:
        """The pair's token ids: each part tokenised alone; over ``max_length`` only the document is cut."""
        query_ids = self._ids(query)
        if len(query_ids) > self.max_query_tokens:
            query = self.tokenizer.decode(query_ids[: self.max_query_tokens])
        texts = [p.replace("{query}", query) if isinstance(p, str) else p for p in self.parts]
        whole = [self._ids(p.replace("{document}", passage)) if isinstance(p, str) else p for p in texts]
        if sum(len(p) for p in whole) <= self.max_length:
            return [i for p in whole for i in p]
        out: list[int] = []
        cut_at = next(i for i, p in enumerate(texts) if isinstance(p, str) and "{document}" in p)
        head_text, _, tail_text = texts[cut_at].partition("{document}")  # type: ignore[union-attr]
        stripped = head_text.rstrip()
        head = self._ids(stripped) if stripped else []
        doc = self._ids(head_text[len(stripped) :] + passage)  # the space before the document stays with it, as in the whole text
        tail = self._ids(tail_text) if tail_text else []
        others = sum(len(p) for i, p in enumerate(whole) if i != cut_at)
        room = self.max_length - others - len(head) - len(tail)
        if room < 1:
            raise ModelError(f"model {self.spec!r}: max_length {self.max_length} leaves no room for the document; lower max_query_tokens")
        for i, p in enumerate(whole):
            out.extend(head + doc[:room] + tail if i == cut_at else p)
        return out

    def prepare(self, query: str, passages: list[str]) -> Any:
        if self.served is not None:
            return self.served.prepare(query, passages)
        features = [{"input_ids": self.encode(query, p)} for p in passages]
        batches = self.batches(features, self.tokenizer.pad_token_id or 0)
        if self.padding_side == "left":
            batches.tensors = [(chunk, to_left(t)) for chunk, t in batches.tensors]
        return batches

    def _score(self, batch: dict[str, Any]) -> Any:
        import torch

        mask = batch["attention_mask"]
        positions = (mask.cumsum(1) - 1).clamp(min=0)  # real positions whatever the padding side
        hidden = self.model.base_model(input_ids=batch["input_ids"], attention_mask=mask, position_ids=positions, use_cache=False).last_hidden_state
        last = (mask * torch.arange(mask.shape[1], device=mask.device)).argmax(1)  # the last real token of each row
        logits = hidden[torch.arange(hidden.shape[0], device=hidden.device), last] @ self.answer_rows.T
        if self.answer_bias is not None:
            logits = logits + self.answer_bias
        logits = logits.float()
        if self.softcap:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        return logits[:, 0] - logits[:, 1] if logits.shape[1] == 2 else logits[:, 0]

    def forward(self, prepared: Any) -> list[float]:
        if self.served is not None:
            return self.served.forward(prepared)
        return self.run_batches(prepared, self._score)


def to_left(batch: dict[str, Any]) -> dict[str, Any]:
    """A right-padded batch re-padded on the left (rows rolled so their real tokens end the row)."""
    import torch

    lengths = batch["attention_mask"].sum(1)
    width = batch["attention_mask"].shape[1]
    out = {}
    for key, value in batch.items():
        out[key] = torch.stack([torch.roll(row, int(width - n)) for row, n in zip(value, lengths, strict=True)])
    return out
