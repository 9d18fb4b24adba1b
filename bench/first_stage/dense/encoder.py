"""A bi-encoder folder loaded for encoding: the bi-encoder family's loading and pooling, prompts from the folder.

The dense stage reuses :class:`bench.rerankers.bi_encoder.BiEncoder` whole: its safe loading
(safetensors, no remote code unasked), its pooling read from the folder (mean, CLS or max,
then the Normalize module when ``modules.json`` has one) and its length-sorted, padded
batches (:class:`bench.rerankers.base.Batches`) with CUDA OOM back-off. What this module adds
is what a corpus needs and a reranker does not: prompts and similarity read from
``config_sentence_transformers.json``, fp32 numpy output and the on-disk dtype.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ...errors import ModelError


@dataclass(frozen=True)
class FolderDefaults:
    """What a sentence-transformers folder says about how it is used (sentence-transformers' own defaults when absent)."""

    query_prefix: str = ""
    document_prefix: str = ""
    similarity: str = "cosine"


def folder_defaults(located: Any) -> FolderDefaults:
    """Prompts (``query``; ``document``, ``passage`` or ``corpus``) and ``similarity_fn_name`` from the folder."""
    path = located.path / "config_sentence_transformers.json"
    if not path.is_file():
        return FolderDefaults()
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: not valid JSON ({exc}); fix or remove it") from None
    prompts = cfg.get("prompts") or {}
    document = next((prompts[k] for k in ("document", "passage", "corpus") if prompts.get(k)), "")
    similarity = {"cosine": "cosine", "dot": "dot", "dot_product": "dot"}.get(str(cfg.get("similarity_fn_name") or "cosine"))
    if similarity is None:
        raise ModelError(f"{path}: similarity_fn_name {cfg.get('similarity_fn_name')!r} is not supported; set similarity = \"cosine\" or \"dot\"")
    return FolderDefaults(str(prompts.get("query") or ""), str(document), similarity)


class Encoder:
    """Texts in, fp32 embeddings (numpy) out, in input order; unit vectors when ``normalize``."""

    def __init__(self, located: Any, settings: Any, query_prefix: str, document_prefix: str, normalize: bool):
        self.located = located
        self.settings = settings
        self.query_prefix = query_prefix
        self.document_prefix = document_prefix
        self.normalize = normalize
        self.model: Any = None
        self.device = settings.device

    def load(self) -> None:
        from ...rerankers.bi_encoder import BiEncoder, BiEncoderOptions

        self.model = BiEncoder(self.located, self.settings, BiEncoderOptions(self.query_prefix, self.document_prefix))
        self.model.load()

    def warmup(self) -> None:
        self.model.warmup()

    def describe(self) -> dict[str, Any]:
        out = self.model.describe()
        out.update(kind="dense", query_prefix=self.query_prefix, document_prefix=self.document_prefix, normalize_output=self.normalize,
                   max_length=self.model.max_length, max_length_requested=self.settings.max_length)  # the folder's max_seq_length caps it
        out.pop("options", None)
        return out

    def tokenise_documents(self, texts: list[str]) -> Any:
        prefix = self.document_prefix
        return self.model.tokenise([prefix + t for t in texts] if prefix else list(texts))

    def tokenise_query(self, text: str) -> Any:
        return self.model.tokenise([self.query_prefix + text])

    def embed(self, batches: Any) -> Any:
        """fp32 embeddings [n, dim] of prepared batches (the model's own pooling, then unit length when asked)."""
        import torch

        out = self.model.embed_prepared(batches)
        if self.normalize and not self.model.normalize:
            out = torch.nn.functional.normalize(out, p=2, dim=-1)
        array = out.numpy()
        if not bool(torch.isfinite(out).all()):
            raise ModelError(f"model {self.located.spec!r} gave a non-finite embedding; try dtype = \"float32\" or check the checkpoint")
        return array

    def parameters(self) -> int:
        return self.model.parameters()


def to_storage(array: Any, storage: str) -> Any:
    """fp32 embeddings as stored on disk: fp32, fp16, or bf16 kept as its raw 16 bits (numpy has no bf16)."""
    import numpy as np

    if storage == "float32":
        return np.ascontiguousarray(array, dtype=np.float32)
    if storage == "float16":
        return array.astype(np.float16)
    import torch

    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)


def from_storage(array: Any, storage: str) -> Any:
    """A stored block as a torch tensor in its stored dtype (bf16 from its raw bits), without copying when it can."""
    import numpy as np
    import torch

    if storage == "bfloat16":
        return torch.from_numpy(np.ascontiguousarray(array).view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(np.ascontiguousarray(array))
