"""The reranker interface and the batching both model kinds share.

A reranker scores one query's candidate passages: ``score(query, passages)`` returns one
float per passage, higher is more relevant. Pairs are tokenised once, sorted by length
and cut into batches padded only to their own longest member (no padding waste), then
scattered back to the input order. On CUDA an out-of-memory batch is retried at half
the size (logged); only a batch of one that does not fit is an error.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ModelError
from .device import synchronize, torch_dtype
from .locate import LocatedModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSettings:
    """Resolved inference settings (no ``auto`` left): part of every reranker run's hash."""

    device: str
    dtype: str
    batch_size: int
    max_length: int
    trust_remote_code: bool = False
    allow_pickle: bool = False


class Reranker:
    """Base class: subclasses implement :meth:`_load` and :meth:`_score`."""

    kind = "reranker"

    def __init__(self, located: LocatedModel, settings: ModelSettings):
        self.located = located
        self.settings = settings
        self.model: Any = None
        self.tokenizer: Any = None
        self.batch_size = settings.batch_size

    # -- lifecycle -------------------------------------------------------------------
    def load(self) -> None:
        """Load weights and tokenizer onto the device (timed apart from scoring)."""
        import torch

        torch.manual_seed(0)
        self._load()
        self.model.eval()

    def _load(self) -> None:
        raise NotImplementedError

    def warmup(self) -> None:
        """One small forward pass so allocator and kernel set-up stay out of per-query timings."""
        self.score("warm up query", ["a short warm up passage", "another passage to score"])
        synchronize(self.settings.device)

    def parameters(self) -> int:
        return int(sum(p.numel() for p in self.model.parameters())) if self.model is not None else 0

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.located.spec,
            "kind": self.kind,
            "path": str(self.located.path),
            "source": self.located.source,
            "revision": self.located.revision,
            "parameters": self.parameters(),
            "device": self.settings.device,
            "dtype": self.settings.dtype,
            "batch_size": self.settings.batch_size,
            "max_length": self.settings.max_length,
        }

    # -- scoring ---------------------------------------------------------------------
    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        """One score per passage; non-finite scores are an error naming the pair."""
        if not passages:
            return []
        scores = self._score(query, list(passages))
        for passage, value in zip(passages, scores):
            if not math.isfinite(value):
                raise ModelError(
                    f"model {self.located.spec!r} gave a non-finite score ({value}) for query {query[:60]!r} "
                    f"and passage {passage[:60]!r}; try --dtype float32 or check the checkpoint"
                )
        return scores

    def _score(self, query: str, passages: list[str]) -> list[float]:
        raise NotImplementedError

    def autocast(self) -> Any:
        """bf16 autocast on the CPU (weights stay fp32, matmuls run in bf16); a no-op elsewhere."""
        import contextlib

        import torch

        if self.settings.device == "cpu" and self.settings.dtype != "float32":
            return torch.autocast("cpu", dtype=torch_dtype(self.settings.dtype))
        return contextlib.nullcontext()

    def place(self, model: Any) -> Any:
        """Move a model to the device; GPUs hold weights in the target dtype."""
        import torch

        if self.settings.device == "cpu":
            return model.to("cpu")
        try:
            return model.to(self.settings.device, dtype=torch_dtype(self.settings.dtype))
        except torch.cuda.OutOfMemoryError:
            raise ModelError(
                f"model {self.located.spec!r} does not fit in GPU memory ({self.settings.dtype}); "
                "free the GPU, use --dtype float16 or --device cpu"
            ) from None

    def run_batches(
        self, features: list[dict[str, list[int]]], forward: Callable[[dict[str, Any]], Any], pad_id: int
    ) -> list[Any]:
        """Run ``forward`` over length-sorted, dynamically padded batches; results in input order."""
        import torch

        order = sorted(range(len(features)), key=lambda i: len(features[i]["input_ids"]), reverse=True)
        results: list[Any] = [None] * len(features)
        start = 0
        while start < len(order):
            chunk = order[start : start + self.batch_size]
            batch = pad([features[i] for i in chunk], pad_id, self.settings.device)
            try:
                with torch.inference_mode(), self.autocast():
                    out = forward(batch)
            except torch.cuda.OutOfMemoryError:
                out = None  # handled outside the except block, so the failed batch's tensors can be freed
            if out is None:
                del batch
                if self.batch_size == 1:
                    raise ModelError(
                        f"model {self.located.spec!r} does not fit in GPU memory even at batch size 1; "
                        "use a smaller --max-length, --dtype float16 or --device cpu"
                    )
                torch.cuda.empty_cache()
                self.batch_size = max(1, self.batch_size // 2)
                log.warning("CUDA out of memory with %s: retrying with batch size %d", self.located.spec, self.batch_size)
                continue
            values = out.float().cpu().tolist()
            for i, value in zip(chunk, values):
                results[i] = value
            start += len(chunk)
        return results


def pad(features: list[dict[str, list[int]]], pad_id: int, device: str) -> dict[str, Any]:
    """Pad a batch to its longest member and build tensors on ``device``."""
    import torch

    longest = max(len(f["input_ids"]) for f in features)
    out: dict[str, Any] = {}
    for key in features[0]:
        fill = pad_id if key == "input_ids" else 0
        rows = [f[key] + [fill] * (longest - len(f[key])) for f in features]
        out[key] = torch.tensor(rows, dtype=torch.long)
    out["attention_mask"] = torch.tensor(
        [[1] * len(f["input_ids"]) + [0] * (longest - len(f["input_ids"])) for f in features], dtype=torch.long
    )
    if device != "cpu":
        out = {k: v.to(device, non_blocking=True) for k, v in out.items()}
    return out
