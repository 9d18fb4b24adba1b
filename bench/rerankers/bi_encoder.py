"""Bi-encoders: a sentence-transformers folder used as a reranker.

Query and passage are embedded separately (the folder's pooling: mean, CLS or max,
then L2 normalisation when its ``modules.json`` has a Normalize module) and the score
is their cosine similarity. This lets bi- and cross-encoders sit in one table. The
pooling is read from the folder's own config, so sentence-transformers is not needed
at run time; a plain Hugging Face encoder folder (no ``modules.json``) gets
sentence-transformers' default for one, mean pooling without normalisation (the dense
first stage encodes corpora with this class too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ModelError
from ..models.hf import features, load_pretrained
from ..models.locate import LocatedModel, read_json
from .base import Batches, Reranker


@dataclass(frozen=True)
class BiEncoderOptions:
    """Text put before each query and each passage (E5-style models want ``"query: "`` and ``"passage: "``)."""

    query_prefix: str = ""
    document_prefix: str = ""


class BiEncoder(Reranker):
    kind = "bi-encoder"
    Options = BiEncoderOptions

    @classmethod
    def recognises(cls, located: LocatedModel) -> int:
        """A sentence-transformers folder: modules.json with a Transformer and a Pooling module."""
        modules = located.modules()
        types = [str(m.get("type", "")) for m in modules]
        return 20 if any(t.endswith("Transformer") for t in types) and any(t.endswith("Pooling") for t in types) else 0

    def _load(self) -> None:
        root = self.located.path
        if not (root / "modules.json").is_file():  # a plain Hugging Face encoder: sentence-transformers' default, mean pooling
            self.pooling, self.normalize = "mean", False
            self.max_length = self.settings.max_length
            self.tokenizer, model, _ = load_pretrained(self, "AutoModel", root)
            self.max_length = self.fit_max_length(self.max_length, model.config)
            self.model = self.place(model)
            return
        modules = read_json(root / "modules.json")
        transformer = next((m for m in modules if m.get("type", "").endswith("Transformer")), None)
        pooling = next((m for m in modules if m.get("type", "").endswith("Pooling")), None)
        if transformer is None or pooling is None:
            raise ModelError(f"sentence-transformers folder {root} needs a Transformer and a Pooling module in modules.json")
        path = root / transformer.get("path", "")
        pool_cfg = read_json(root / pooling["path"] / "config.json")
        if pool_cfg.get("pooling_mode_cls_token"):
            self.pooling = "cls"
        elif pool_cfg.get("pooling_mode_max_tokens"):
            self.pooling = "max"
        elif pool_cfg.get("pooling_mode_mean_tokens") or pool_cfg.get("pooling_mode_mean_sqrt_len_tokens"):
            self.pooling = "mean"
        else:
            raise ModelError(f"{root / pooling['path'] / 'config.json'}: unsupported pooling mode; use mean, cls or max")
        self.normalize = any(m.get("type", "").endswith("Normalize") for m in modules)
        st_cfg_path = path / "sentence_bert_config.json"
        st_cfg = read_json(st_cfg_path) if st_cfg_path.is_file() else {}
        self.max_length = min(self.settings.max_length, int(st_cfg.get("max_seq_length") or self.settings.max_length))
        self.tokenizer, model, _ = load_pretrained(self, "AutoModel", path)
        self.max_length = self.fit_max_length(self.max_length, model.config)
        self.model = self.place(model)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.update(pooling=getattr(self, "pooling", None), normalize=getattr(self, "normalize", None))
        return out

    def _embed(self, batch: dict[str, Any]) -> Any:
        import torch

        hidden = self.model(**batch).last_hidden_state.float()
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        if self.pooling == "cls":
            pooled = hidden[:, 0]
        elif self.pooling == "max":
            pooled = hidden.masked_fill(mask == 0, float("-inf")).max(dim=1).values
        else:
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        if self.normalize:
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=-1)
        return pooled

    def tokenise(self, texts: list[str]) -> Batches:
        enc = self.tokenizer(texts, truncation=True, max_length=self.max_length, padding=False, return_attention_mask=False)
        return self.batches(features(enc, len(texts)), self.tokenizer.pad_token_id or 0)

    def embed(self, texts: list[str]) -> Any:
        return self.embed_prepared(self.tokenise(texts))

    def embed_prepared(self, batches: Batches) -> Any:
        import torch

        return torch.tensor(self.run_batches(batches, self._embed), dtype=torch.float32)

    def prepare(self, query: str, passages: list[str]) -> tuple[Batches, Batches]:
        prefix = self.options.document_prefix
        return self.tokenise([self.options.query_prefix + query]), self.tokenise([prefix + p for p in passages] if prefix else passages)

    def forward(self, prepared: tuple[Batches, Batches]) -> list[float]:
        import torch

        q = self.embed_prepared(prepared[0])
        p = self.embed_prepared(prepared[1])
        if not self.normalize:
            q = torch.nn.functional.normalize(q, dim=-1)
            p = torch.nn.functional.normalize(p, dim=-1)
        return (p @ q[0]).tolist()
