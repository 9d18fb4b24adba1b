"""ColBERT late interaction: token embeddings for query and document, scored by MaxSim.

Everything the model was trained with is read from its own files: a PyLate /
sentence-transformers folder (``modules.json`` with a Dense projection and
``config_sentence_transformers.json``) or a Stanford ColBERT checkpoint
(``artifact.metadata`` and a ``linear`` layer in the weights). As in the original:

* query: ``[CLS] [Q] tokens [SEP]`` padded with ``[MASK]`` to the query length (query
  augmentation; the encoder attends to the masks only if the model says so) and every
  position, masks included, is a query vector;
* document: ``[CLS] [D] tokens [SEP]`` cut at the document length, punctuation (the
  skip-list) dropped after encoding;
* both projected by the linear layer(s) and L2-normalised; the score is the sum over query
  vectors of the best dot product over document vectors. Each candidate is encoded once.
"""

from __future__ import annotations

import json
import logging
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ModelError
from ..models.hf import load_pretrained
from ..models.locate import LocatedModel, read_json
from .base import Batches, Reranker, pad

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LateInteractionOptions:
    """Query and document lengths in tokens (default: the model's own, document also capped by max_length)."""

    query_length: int | None = None
    document_length: int | None = None


@dataclass(frozen=True)
class ColBERTFiles:
    """What a ColBERT folder says about itself."""

    encoder: Path
    dense: tuple[tuple[Path, dict[str, Any]], ...]  # (weights file, config) per projection; () = inside the encoder weights
    query_marker: str
    document_marker: str
    query_length: int
    document_length: int
    expand_query: bool
    attend_to_expansion: bool
    skiplist: tuple[str, ...]


def _dense_modules(located: LocatedModel) -> list[dict[str, Any]]:
    return [m for m in located.modules() if str(m.get("type", "")).endswith("Dense")]


def read_files(located: LocatedModel) -> ColBERTFiles:
    """Markers, lengths, projection and skip-list from a PyLate/sentence-transformers folder or a Stanford checkpoint."""
    root = located.path
    dense = _dense_modules(located)
    if dense:
        st_file = root / "config_sentence_transformers.json"
        st = read_json(st_file) if st_file.is_file() else {}
        modules = located.modules()
        transformer = next((m for m in modules if str(m.get("type", "")).endswith("Transformer")), {"path": ""})
        layers = []
        for module in dense:
            folder = root / module.get("path", "")
            config = read_json(folder / "config.json")
            activation = str(config.get("activation_function", "torch.nn.modules.linear.Identity"))
            if not activation.endswith("Identity"):
                raise ModelError(f"{folder / 'config.json'}: projection activation {activation} is not supported (ColBERT uses Identity)")
            weights = next((folder / n for n in ("model.safetensors", "pytorch_model.bin") if (folder / n).is_file()), None)
            if weights is None:
                raise ModelError(f"{folder} has no projection weights (model.safetensors); the ColBERT folder is incomplete")
            layers.append((weights, config))
        skip = st.get("skiplist_words")
        return ColBERTFiles(
            encoder=root / transformer.get("path", ""),
            dense=tuple(layers),
            query_marker=str(st.get("query_prefix", "[unused0]")),
            document_marker=str(st.get("document_prefix", "[unused1]")),
            query_length=int(st.get("query_length") or 32),
            document_length=int(st.get("document_length") or 180),
            expand_query=st.get("do_query_expansion", True) is not False,
            attend_to_expansion=bool(st.get("attend_to_expansion_tokens", False)),
            skiplist=tuple(string.punctuation if skip is None else skip),
        )
    if located.has_file("artifact.metadata"):
        meta = read_json(root / "artifact.metadata")
        return ColBERTFiles(
            encoder=root,
            dense=(),
            query_marker=str(meta.get("query_token_id", "[unused0]")),
            document_marker=str(meta.get("doc_token_id", "[unused1]")),
            query_length=int(meta.get("query_maxlen") or 32),
            document_length=int(meta.get("doc_maxlen") or 180),
            expand_query=True,
            attend_to_expansion=bool(meta.get("attend_to_mask_tokens", False)),
            skiplist=tuple(string.punctuation) if meta.get("mask_punctuation", True) else (),
        )
    raise ModelError(f"model {located.spec!r}: no ColBERT projection found (a Dense module in modules.json or artifact.metadata)")


class LateInteraction(Reranker):
    kind = "late-interaction"
    Options = LateInteractionOptions

    @classmethod
    def recognises(cls, located: LocatedModel) -> int:
        """A PyLate/sentence-transformers folder with a ColBERT projection, or a Stanford ColBERT checkpoint (above bi-encoder's 20)."""
        if located.has_file("artifact.metadata"):
            return 30
        if not _dense_modules(located):
            return 0
        types = " ".join(str(m.get("type", "")) for m in located.modules()).lower()
        try:
            st = json.loads((located.path / "config_sentence_transformers.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            st = {}
        marked = "pylate" in types or "multivector" in types or str(st.get("similarity_fn_name", "")).lower() == "maxsim" or "query_prefix" in st
        return 30 if marked else 0

    def _load(self) -> None:
        import torch

        files = read_files(self.located)
        self.files = files
        self.tokenizer, model, _ = load_pretrained(self, "AutoModel", files.encoder)
        layers = files.dense or (self._stanford_linear(),)
        self.projection = torch.nn.Sequential(*(self._linear(*layer) for layer in layers))
        hidden = int(getattr(model.config, "hidden_size", 0) or 0)
        first = self.projection[0]
        if hidden and first.in_features != hidden:
            raise ModelError(f"model {self.located.spec!r}: projection expects {first.in_features} features, the encoder gives {hidden}")
        self.query_marker = self._single_token(files.query_marker, "query marker")
        self.document_marker = self._single_token(files.document_marker, "document marker")
        self.mask_id = self.tokenizer.mask_token_id
        if files.expand_query and self.mask_id is None:
            raise ModelError(f"model {self.located.spec!r}: query augmentation needs a [MASK] token and the tokenizer has none")
        positions = self.fit_max_length(10**6, model.config)
        self.query_length = min(self.options.query_length or files.query_length, positions)
        self.document_length = min(self.options.document_length or files.document_length, self.settings.max_length, positions)
        if self.query_length < 4 or self.document_length < 4:
            raise ModelError(f"model {self.located.spec!r}: query and document lengths must be at least 4 tokens")
        unk = self.tokenizer.unk_token_id
        ids = {self.tokenizer.convert_tokens_to_ids(w) for w in files.skiplist}
        self.skip_ids = sorted(i for i in ids if i is not None and i != unk)
        self.model = self.place(model)
        self.projection = self.place(self.projection)
        self.skip = torch.tensor(self.skip_ids, dtype=torch.long, device=self.settings.device)

    def _stanford_linear(self) -> tuple[Path, dict[str, Any]]:
        path = self.located.path / "model.safetensors"
        if not path.is_file():
            path = self.located.path / "pytorch_model.bin"
        return path, {"prefix": "linear."}

    def _linear(self, path: Path, config: dict[str, Any]) -> Any:
        """A bias-free (or biased) ``torch.nn.Linear`` from a projection's weights file."""
        import torch

        prefix = config.get("prefix", "linear.")
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as fh:
                keys = set(fh.keys())
                if f"{prefix}weight" not in keys:
                    raise ModelError(f"{path}: no {prefix}weight tensor (the ColBERT projection)")
                weight = fh.get_tensor(f"{prefix}weight")
                bias = fh.get_tensor(f"{prefix}bias") if f"{prefix}bias" in keys else None
        else:
            if not self.settings.allow_pickle:
                raise ModelError(f"{path} is pickled and can run code when loaded; convert it to safetensors or pass --allow-pickle")
            state = torch.load(path, map_location="cpu", weights_only=True)
            weight, bias = state[f"{prefix}weight"], state.get(f"{prefix}bias")
        layer = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
        with torch.no_grad():
            layer.weight.copy_(weight)
            if bias is not None:
                layer.bias.copy_(bias)
        return layer

    def _single_token(self, marker: str, what: str) -> int:
        vocab = self.tokenizer.get_vocab()
        for candidate in (marker, marker.strip()):
            if candidate in vocab:
                return int(vocab[candidate])
        raise ModelError(f"model {self.located.spec!r}: {what} {marker!r} is not a token of its tokenizer")

    def parameters(self) -> int:
        extra = sum(p.numel() for p in self.projection.parameters()) if getattr(self, "projection", None) is not None else 0
        return super().parameters() + int(extra)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        if getattr(self, "files", None) is not None:
            out.update(
                query_length=self.query_length,
                document_length=self.document_length,
                dim=int(self.projection[-1].out_features),  # type: ignore[arg-type]
                query_augmentation=self.files.expand_query,
                skiplist_tokens=len(self.skip_ids),
            )
        return out

    # -- tokenisation ----------------------------------------------------------------
    def _ids(self, text: str, marker: int, length: int) -> list[int]:
        body = self.tokenizer(text, add_special_tokens=False)["input_ids"][: length - 3]
        return [self.tokenizer.cls_token_id, marker, *body, self.tokenizer.sep_token_id]

    def prepare(self, query: str, passages: list[str]) -> tuple[dict[str, Any], Batches]:
        ids = self._ids(query, self.query_marker, self.query_length)
        real = len(ids)
        if self.files.expand_query:
            ids = ids + [self.mask_id] * (self.query_length - real)
        q = pad([{"input_ids": ids}], self.tokenizer.pad_token_id or 0)
        if not self.files.attend_to_expansion:
            q["attention_mask"][0, real:] = 0
        docs = [{"input_ids": self._ids(p, self.document_marker, self.document_length)} for p in passages]
        return q, self.batches(docs, self.tokenizer.pad_token_id or 0)

    # -- scoring ---------------------------------------------------------------------
    def _embed(self, ids: Any, mask: Any) -> Any:
        import torch

        hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
        return torch.nn.functional.normalize(self.projection(hidden).float(), p=2, dim=-1)

    def forward(self, prepared: tuple[dict[str, Any], Batches]) -> list[float]:
        import torch

        query, docs = prepared
        device = self.settings.device
        with torch.inference_mode():
            # every position is a query vector, the [MASK]s included (query augmentation)
            q = self._embed(query["input_ids"].to(device), query["attention_mask"].to(device))[0]  # (Lq, dim)

        def score(batch: dict[str, Any]) -> Any:
            d = self._embed(batch["input_ids"], batch["attention_mask"])  # (B, Ld, dim)
            keep = batch["attention_mask"].bool() & ~torch.isin(batch["input_ids"], self.skip)
            sims = d @ q.T  # (B, Ld, Lq)
            sims = sims.masked_fill(~keep.unsqueeze(-1), float("-inf"))
            return sims.max(dim=1).values.sum(dim=1)

        return self.run_batches(docs, score)
