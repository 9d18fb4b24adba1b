"""monoT5 and kin: a seq2seq model asked ``Query: {q} Document: {d} Relevant:``, scored from one decoder step.

The encoder reads the pair; the decoder runs a single step from its start token (no
``generate``) and the score is ``log_softmax([logit(false), logit(true)])[true]``, which
ranks exactly as monoT5's P(true) but keeps the full float range. When the input is too
long only the document is cut: the trailing ``Relevant:`` and ``</s>`` always stay (a plain
cut at 512 tokens would drop them and the model would answer a different question).

T5 activations overflow in float16, so fp16 is refused unless ``allow_fp16 = true``;
``--dtype auto`` gives bf16 on CUDA.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ..errors import ModelError
from ..models.hf import load_pretrained
from ..models.locate import LocatedModel
from .base import Batches, Reranker

log = logging.getLogger(__name__)

ARCHITECTURES = ("T5ForConditionalGeneration", "MT5ForConditionalGeneration", "UMT5ForConditionalGeneration")
# mT5 rerankers (unicamp-dl/mt5-base-*) answer yes/no; monoT5 answers true/false.
DEFAULT_TOKENS = {"mt5": ("▁yes", "▁no"), "umt5": ("▁yes", "▁no")}


@dataclass(frozen=True)
class Seq2SeqOptions:
    """The answer tokens (default ``▁true``/``▁false``, ``▁yes``/``▁no`` for mT5), the template and the fp16 override."""

    true_token: str | None = None
    false_token: str | None = None
    template: str = "Query: {query} Document: {document} Relevant:"
    allow_fp16: bool = False


class Seq2Seq(Reranker):
    kind = "seq2seq"
    Options = Seq2SeqOptions

    @classmethod
    def recognises(cls, located: LocatedModel) -> int:
        """A T5/mT5 conditional-generation architecture in config.json."""
        return 10 if any(a in ARCHITECTURES for a in located.config().get("architectures") or []) else 0

    def _load(self) -> None:
        opts = self.options
        if self.settings.dtype == "float16" and not opts.allow_fp16:
            raise ModelError(
                f"model {self.located.spec!r}: T5 activations overflow in float16 (inf/NaN scores); "
                "use --dtype bfloat16 or float32, or set option allow_fp16 = true to force it"
            )
        self._check_template(opts.template)
        self.tokenizer, model, _ = load_pretrained(self, "AutoModelForSeq2SeqLM")
        model_type = str(getattr(model.config, "model_type", "t5"))
        default_true, default_false = DEFAULT_TOKENS.get(model_type, ("▁true", "▁false"))
        self.true_id = self._token_id(opts.true_token or default_true, "true_token")
        self.false_id = self._token_id(opts.false_token or default_false, "false_token")
        start = model.config.decoder_start_token_id
        if start is None:
            raise ModelError(f"model {self.located.spec!r}: config.json has no decoder_start_token_id")
        self.decoder_start = int(start)
        self.max_length = self.fit_max_length(self.settings.max_length, model.config)
        self._split_template()
        self.model = self.place(model)

    FIELDS: tuple[str, ...] = ("{query}", "{document}")  # what the template must hold

    def _check_template(self, template: str) -> None:
        missing = [f for f in self.FIELDS if f not in template]
        if missing:
            raise ModelError(f"model {self.located.spec!r}: option template must contain {' and '.join(self.FIELDS)}, got {template!r}")

    def _token_id(self, token: str, option: str) -> int:
        """The id of an answer token in the model's own vocabulary (a one-line error when it is not one token)."""
        vocab = self.tokenizer.get_vocab()
        if token not in vocab:
            raise ModelError(
                f"model {self.located.spec!r}: answer token {token!r} is not in its vocabulary; set option {option} (e.g. ▁true, ▁yes)"
            )
        return int(vocab[token])

    def _split_template(self) -> None:
        """Token ids of the template around the document: the query part is per query, the tail is fixed."""
        head, _, tail = self.options.template.partition("{document}")
        self.head_text = head.rstrip()
        self.tail_ids = self.tokenizer(tail.strip(), add_special_tokens=True)["input_ids"]  # "Relevant:" + </s>
        if len(self.tail_ids) >= self.max_length // 2:
            raise ModelError(f"model {self.located.spec!r}: max_length {self.max_length} leaves no room for a document after the template")

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        if self.tokenizer is not None:
            out.update(true_token=self.tokenizer.convert_ids_to_tokens(self.true_id), false_token=self.tokenizer.convert_ids_to_tokens(self.false_id))
        return out

    def encode(self, query: str, passages: list[str]) -> list[dict[str, list[int]]]:
        """``template`` tokenised whole; over ``max_length`` the document's tokens are cut, never the tail."""
        texts = [self.options.template.format(query=query, document=p) for p in passages]
        enc = self.tokenizer(texts, add_special_tokens=True, truncation=False, padding=False, return_attention_mask=False)["input_ids"]
        out = []
        for ids, passage in zip(enc, passages, strict=True):
            if len(ids) > self.max_length:
                ids = self._truncate(query, passage)
            out.append({"input_ids": ids})
        return out

    def _truncate(self, query: str, passage: str) -> list[int]:
        """Head (query part) + as many document tokens as fit + tail; the head alone is cut only if it leaves no room."""
        tok = self.tokenizer
        head = tok(self.head_text.format(query=query), add_special_tokens=False)["input_ids"]
        doc = tok(passage, add_special_tokens=False)["input_ids"]
        room = self.max_length - len(self.tail_ids)
        head = head[: room // 2]  # a query longer than half the budget is cut too
        return head + doc[: room - len(head)] + self.tail_ids

    def prepare(self, query: str, passages: list[str]) -> Batches:
        return self.batches(self.encode(query, passages), self.tokenizer.pad_token_id or 0)

    def _score(self, batch: dict[str, Any]) -> Any:
        import torch

        ids, mask = batch["input_ids"], batch["attention_mask"]
        start = torch.full((ids.shape[0], 1), self.decoder_start, dtype=torch.long, device=ids.device)
        logits = self.model(input_ids=ids, attention_mask=mask, decoder_input_ids=start, use_cache=False).logits[:, 0]
        pair = torch.stack([logits[:, self.false_id], logits[:, self.true_id]], dim=1).float()
        return torch.log_softmax(pair, dim=1)[:, 1]

    def forward(self, prepared: Batches) -> list[float]:
        return self.run_batches(prepared, self._score)
