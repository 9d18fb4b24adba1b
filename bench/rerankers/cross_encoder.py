"""Cross-encoders: any Hugging Face sequence-classification model.

The model reads ``[CLS] query [SEP] passage [SEP]`` and returns logits. A 1-logit head's
logit is the score; for a 2-logit head the score is the logit of the relevant class
(index 1, or the label named relevant/positive/true in the config). Truncation is
``longest_first`` at ``max_length``, as sentence-transformers' ``CrossEncoder`` does, so
scores match it.
"""

from __future__ import annotations

import logging
from typing import Any

from ..errors import ModelError
from .base import Batches, Reranker
from .locate import check_code, check_weights, read_json

log = logging.getLogger(__name__)

_RELEVANT_LABELS = ("relevant", "positive", "true", "yes", "label_1")


def relevant_index(config: Any) -> int:
    """Which logit means "relevant" for a multi-logit head."""
    labels = {int(i): str(name).lower() for i, name in (getattr(config, "id2label", None) or {}).items()}
    for index, name in sorted(labels.items()):
        if name in _RELEVANT_LABELS:
            return index
    return 1


class CrossEncoder(Reranker):
    kind = "cross-encoder"

    def _load(self) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        path = self.located.path
        config = read_json(path / "config.json")
        architectures = config.get("architectures") or []
        if not any("SequenceClassification" in a for a in architectures):
            raise ModelError(
                f"model {self.located.spec!r} has no sequence-classification head (architectures: {architectures or 'none'}); "
                "use a cross-encoder checkpoint, or a sentence-transformers folder for bi-encoder reranking"
            )
        check_weights(path, self.settings.allow_pickle)
        check_code(path, self.located.spec, self.settings.trust_remote_code)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=self.settings.trust_remote_code)
            model, info = AutoModelForSequenceClassification.from_pretrained(
                path,
                trust_remote_code=self.settings.trust_remote_code,
                use_safetensors=not self.settings.allow_pickle or None,
                output_loading_info=True,
                **self.load_kwargs(),
            )
        except ValueError as exc:
            if "trust_remote_code" in str(exc):
                raise ModelError(f"model {self.located.spec!r} needs custom code; pass --trust-remote-code if you trust it") from None
            raise ModelError(f"model {self.located.spec!r} could not be loaded: {str(exc).splitlines()[0]}") from None
        except OSError as exc:
            raise ModelError(f"model {self.located.spec!r} could not be loaded: {str(exc).splitlines()[0]}") from None
        missing = [k for k in info.get("missing_keys", []) if "classifier" in k or "score" in k]
        if missing:
            raise ModelError(
                f"model {self.located.spec!r}: classification head weights missing ({missing[0]}); "
                "the checkpoint is not a trained cross-encoder"
            )
        self.num_labels = int(model.config.num_labels)
        self.label = 0 if self.num_labels == 1 else relevant_index(model.config)
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
        keys = [k for k in ("input_ids", "token_type_ids") if k in enc]
        return [{k: enc[k][i] for k in keys} for i in range(len(passages))]

    def prepare(self, query: str, passages: list[str]) -> Batches:
        return self.batches(self.encode(query, passages), self.tokenizer.pad_token_id or 0)

    def forward(self, prepared: Batches) -> list[float]:
        label = self.label
        return self.run_batches(prepared, lambda batch: self.model(**batch).logits[:, label])
