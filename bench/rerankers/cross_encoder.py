"""Cross-encoders: any Hugging Face sequence-classification model.

The model reads ``[CLS] query [SEP] passage [SEP]`` and returns logits. A 1-logit head's
logit is the score; for a 2-logit head the score is the logit of the relevant class
(index 1, or the label named relevant/positive/true in the config). Truncation is
``longest_first`` at ``max_length``, as sentence-transformers' ``CrossEncoder`` does, so
scores match it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ..errors import ModelError
from ..models.hf import features, load_pretrained
from ..models.locate import LocatedModel, read_json
from .base import Batches, Reranker

log = logging.getLogger(__name__)

_RELEVANT_LABELS = ("relevant", "positive", "true", "yes", "label_1")


def relevant_index(config: Any) -> int:
    """Which logit means "relevant" for a multi-logit head."""
    labels = {int(i): str(name).lower() for i, name in (getattr(config, "id2label", None) or {}).items()}
    for index, name in sorted(labels.items()):
        if name in _RELEVANT_LABELS:
            return index
    return 1


@dataclass(frozen=True)
class CrossEncoderOptions:
    """``label``: which logit of a multi-logit head is the score (default: the label named relevant, else 1)."""

    label: int | None = None


class CrossEncoder(Reranker):
    kind = "cross-encoder"
    Options = CrossEncoderOptions

    @classmethod
    def recognises(cls, located: LocatedModel) -> int:
        """A sequence-classification head in config.json; any other plain transformers folder as a fallback."""
        config = located.config()
        if any("SequenceClassification" in a for a in config.get("architectures") or []):
            return 10
        return 1 if config and not located.has_file("modules.json") else 0

    def _load(self) -> None:
        config = read_json(self.located.path / "config.json")
        architectures = config.get("architectures") or []
        if not any("SequenceClassification" in a for a in architectures):
            raise ModelError(
                f"model {self.located.spec!r} has no sequence-classification head (architectures: {architectures or 'none'}); "
                "use a cross-encoder checkpoint, or a sentence-transformers folder for bi-encoder reranking"
            )
        self.tokenizer, model, info = load_pretrained(self, "AutoModelForSequenceClassification")
        missing = [k for k in info.get("missing_keys", []) if "classifier" in k or "score" in k]
        if missing:
            raise ModelError(
                f"model {self.located.spec!r}: classification head weights missing ({missing[0]}); "
                "the checkpoint is not a trained cross-encoder"
            )
        self.num_labels = int(model.config.num_labels)
        if self.options.label is not None and not 0 <= self.options.label < self.num_labels:
            raise ModelError(f"model {self.located.spec!r}: option label={self.options.label} but the head has {self.num_labels} logits")
        self.label = 0 if self.num_labels == 1 else relevant_index(model.config) if self.options.label is None else self.options.label
        self.max_length = self.fit_max_length(self.settings.max_length, model.config)
        self.model = self.place(model)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out["num_labels"] = getattr(self, "num_labels", None)
        return out

    def encode(self, query: str, passages: list[str]) -> list[dict[str, list[int]]]:
        """Tokenise (query, passage) pairs without padding."""
        enc = self.tokenizer(
            [query] * len(passages),
            passages,
            truncation="longest_first",
            max_length=self.max_length,
            padding=False,
            return_attention_mask=False,
        )
        return features(enc, len(passages))

    def prepare(self, query: str, passages: list[str]) -> Batches:
        return self.batches(self.encode(query, passages), self.tokenizer.pad_token_id or 0)

    def forward(self, prepared: Batches) -> list[float]:
        label = self.label
        return self.run_batches(prepared, lambda batch: self.model(**batch).logits[:, label])
