"""The reranker interface and the batching both model kinds share.

A reranker scores one query's candidate passages: ``score(query, passages)`` returns one
float per passage, higher is more relevant. Scoring has two halves:

* ``prepare`` (CPU only, no model): pairs are tokenised once, sorted by length and cut
  into batches padded only to their own longest member (no padding waste);
* ``forward``: the model runs over those batches and the scores are scattered back to
  the input order.

The engines run the two halves as a two-stage pipeline (:class:`bench.work.Runner`): while
the model scores one query, a background thread prepares the next (Hugging Face fast
tokenizers and tensor construction release the GIL), so tokenisation is hidden behind the
forward pass. It gives exactly the scores of ``score`` called in a loop
(tests/test_perf_paths.py). :class:`bench.rerankers.pointwise.Pointwise` puts a family
behind the ranking contract.

On CUDA an out-of-memory batch is retried at half the size (logged); only a batch of one
that does not fit is an error.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..device import synchronize, torch_dtype
from ..errors import ModelError
from ..models.locate import LocatedModel
from ..options import NoOptions, as_dict
from ..ranking import Family

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


@dataclass
class Batches:
    """Tokenised inputs, length-sorted and cut into padded CPU tensors of ``size`` rows at most."""

    features: list[dict[str, list[int]]]
    pad_id: int
    size: int
    order: list[int] = field(default_factory=list)
    tensors: list[tuple[list[int], dict[str, Any]]] = field(default_factory=list)

    @classmethod
    def build(cls, features: list[dict[str, list[int]]], pad_id: int, size: int) -> Batches:
        out = cls(features, pad_id, size)
        out.order = sorted(range(len(features)), key=lambda i: len(features[i]["input_ids"]), reverse=True)
        out.tensors = out.cut(0, size)
        return out

    def cut(self, start: int, size: int) -> list[tuple[list[int], dict[str, Any]]]:
        """Padded batches for ``order[start:]``: as many as ``size`` requires, of near-equal length.

        100 pairs at size 32 become 4 batches of 25 rather than 32+32+32+4: the same number
        of forward passes, no tiny trailing batch.
        """
        rest = self.order[start:]
        if not rest:
            return []
        count = -(-len(rest) // size)
        base, extra = divmod(len(rest), count)
        out = []
        at = 0
        for b in range(count):
            n = base + (1 if b < extra else 0)
            chunk = rest[at : at + n]
            out.append((chunk, pad([self.features[i] for i in chunk], self.pad_id)))
            at += n
        return out


class Reranker(Family):
    """A pointwise reranker family: subclasses implement :meth:`_load`, :meth:`prepare` and :meth:`forward`.

    A family also declares ``kind`` (its registry name), ``Options`` (a frozen dataclass of
    its own options, validated from ``[rerankers.options]`` and part of the run's hash) and
    :meth:`recognises` (how sure it is that a located model is one of its own, for
    ``kind = "auto"``). Batching, padding, the tokenise/forward pipeline, OOM back-off and
    timing live here and are shared.
    """

    kind = "reranker"
    Options: type = NoOptions

    def __init__(self, located: LocatedModel, settings: ModelSettings, options: Any = None):
        self.located = located
        self.settings = settings
        self.options = options if options is not None else self.Options()
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
        """Small forward passes so allocator and kernel set-up stay out of per-query timings."""
        self.score("warm up query", ["a short warm up passage", "another passage to score"])
        self.score("a second warm up query about something else", ["a passage " * 20] * 3)
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
            "batch_size": self.batch_size,  # the size used: smaller than asked after a CUDA OOM back-off
            **({"batch_size_requested": self.settings.batch_size} if self.batch_size != self.settings.batch_size else {}),
            "max_length": self.settings.max_length,
            "pipelined_tokenisation": True,
            "options": as_dict(self.options),
        }

    # -- scoring ---------------------------------------------------------------------
    def prepare(self, query: str, passages: list[str]) -> Any:
        """Tokenise and batch one query's pairs on the CPU (safe to run in a background thread)."""
        raise NotImplementedError

    def forward(self, prepared: Any) -> list[float]:
        """Run the model over prepared inputs: one score per passage, input order."""
        raise NotImplementedError

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        """One score per passage; non-finite scores are an error naming the pair."""
        if not passages:
            return []
        passages = list(passages)
        return self._checked(query, passages, self.forward(self.prepare(query, passages)))

    def score_prepared(self, query: str, passages: list[str], prepared: Any) -> list[float]:
        """The forward half of :meth:`score` for inputs :meth:`prepare` made (engines that pipeline the halves themselves)."""
        return self._checked(query, passages, self.forward(prepared)) if passages else []

    def _checked(self, query: str, passages: list[str], scores: list[float]) -> list[float]:
        for passage, value in zip(passages, scores, strict=True):
            if not math.isfinite(value):
                raise ModelError(
                    f"model {getattr(self.located, 'spec', None) or getattr(self.options, 'model', None)!r} gave a non-finite "
                    f"score ({value}) for query {query[:60]!r} "
                    f"and passage {passage[:60]!r}; try --dtype float32 or check the checkpoint"
                )
        return scores

    def load_kwargs(self) -> dict[str, Any]:
        """``from_pretrained`` arguments that load weights straight into the target dtype (no fp32 copy first)."""
        import transformers
        from packaging.version import Version

        key = "dtype" if Version(transformers.__version__) >= Version("4.56") else "torch_dtype"
        return {key: torch_dtype(self.settings.dtype)}

    def place(self, model: Any) -> Any:
        """Move a model to the device with its weights in the target dtype.

        On the CPU too: with bf16 weights the matmuls run on the CPU's bf16 units (AMX,
        AVX512-BF16) without autocast's per-call weight casts, about twice fp32's speed
        where autocast gains a third (BENCHMARKS.md); LayerNorm and softmax still
        accumulate in fp32 inside PyTorch's bf16 kernels.
        """
        import torch

        try:
            return model.to(self.settings.device, dtype=torch_dtype(self.settings.dtype))
        except torch.cuda.OutOfMemoryError:
            raise ModelError(
                f"model {self.located.spec!r} does not fit in GPU memory ({self.settings.dtype}); "
                "free the GPU, use --dtype float16 or --device cpu"
            ) from None

    def fit_max_length(self, requested: int, model_config: Any) -> int:
        """``requested`` capped at what the model can embed (tokenizer limit, else position embeddings)."""
        limit = getattr(self.tokenizer, "model_max_length", None)
        if not limit or limit > 100_000:  # "unset" in transformers is a huge number
            limit = getattr(model_config, "max_position_embeddings", None)
        if limit and requested > limit:
            log.info("%s: max_length %d capped at the model's limit %d", self.located.spec, requested, limit)
            return int(limit)
        return requested

    def batches(self, features: list[dict[str, list[int]]], pad_id: int) -> Batches:
        """Length-sorted, padded CPU batches at the current batch size."""
        return Batches.build(features, pad_id, self.batch_size)

    def run_batches(self, batches: Batches, forward: Callable[[dict[str, Any]], Any]) -> list[Any]:
        """Run ``forward`` over prepared batches; results in input order (halving the batch on CUDA OOM)."""
        import torch

        results: list[Any] = [None] * len(batches.features)
        queue = list(batches.tensors) if batches.size == self.batch_size else batches.cut(0, self.batch_size)
        done = 0
        while queue:
            chunk, tensors = queue[0]
            if self.settings.device != "cpu":
                tensors = {k: v.to(self.settings.device, non_blocking=True) for k, v in tensors.items()}
            try:
                with torch.inference_mode():
                    out = forward(tensors)
            except torch.cuda.OutOfMemoryError:
                out = None  # handled outside the except block, so the failed batch's tensors can be freed
            if out is None:
                del tensors
                if self.batch_size == 1:
                    raise ModelError(
                        f"model {self.located.spec!r} does not fit in GPU memory even at batch size 1; "
                        "use a smaller --max-length, --dtype float16 or --device cpu"
                    )
                torch.cuda.empty_cache()
                self.batch_size = max(1, self.batch_size // 2)
                log.warning("CUDA out of memory with %s: retrying with batch size %d", self.located.spec, self.batch_size)
                queue = batches.cut(done, self.batch_size)
                continue
            values = out.float().cpu().tolist()
            for i, value in zip(chunk, values, strict=True):
                results[i] = value
            done += len(chunk)
            queue.pop(0)
        return results


def pad(features: list[dict[str, list[int]]], pad_id: int) -> dict[str, Any]:
    """Pad a batch to its longest member and build CPU tensors (plus the attention mask)."""
    import torch

    lengths = [len(f["input_ids"]) for f in features]
    longest = max(lengths)
    out: dict[str, Any] = {}
    for key in features[0]:
        fill = pad_id if key == "input_ids" else 0
        out[key] = torch.tensor([f[key] + [fill] * (longest - len(f[key])) for f in features], dtype=torch.long)
    out["attention_mask"] = (torch.arange(longest).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)).long()
    return out
