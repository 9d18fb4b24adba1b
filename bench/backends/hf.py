"""Hugging Face ``generate`` in this process: the ``hf`` backend (CPU, CUDA, MPS).

Prompts are rendered by the tokenizer's own chat template, tokenised once, sorted by length
and cut into left-padded batches of ``batch_size`` prompts. Left padding with the attention
mask and positions counted from each row's first real token means a prompt's tokens and
positions do not depend on its neighbours, so (in fp32) its greedy output does not either
(tests/test_hf_backend.py). Weights load through :func:`bench.rerankers.hf.load_pretrained`
(safetensors only unless ``--allow-pickle``, no model code unless ``--trust-remote-code``)
in the stage's resolved dtype: bf16 where the device multiplies it natively
(:func:`bench.device.resolve_dtype`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError, ModelError
from .base import Backend, Completion, Decoding, Prompt

log = logging.getLogger(__name__)


class HfBackend(Backend):
    """A causal LM run by transformers' ``generate`` (greedy unless the decoding allows sampling)."""

    name = "hf"

    def __init__(self, model: Any, settings: Any, options: Any = None):
        super().__init__(model, settings, options)
        self.located = model  # load_pretrained reads .located and .settings
        self.tokenizer: Any = None
        self.lm: Any = None
        self.batch_size = int(getattr(settings, "batch_size", 8) or 8)

    # -- lifecycle --------------------------------------------------------------------------
    def load_kwargs(self) -> dict[str, Any]:
        """Weights straight into the target dtype (no fp32 copy first)."""
        import transformers
        from packaging.version import Version

        from ..device import torch_dtype

        key = "dtype" if Version(transformers.__version__) >= Version("4.56") else "torch_dtype"
        return {key: torch_dtype(self.settings.dtype)}

    def load(self) -> None:
        import torch

        from ..device import torch_dtype
        from ..rerankers.hf import load_pretrained

        if self.model is None:
            raise ConfigError("backend 'hf' runs a model folder; pass --model with a local folder or a Hugging Face id")
        torch.manual_seed(0)
        self.tokenizer, model, _ = load_pretrained(self, "AutoModelForCausalLM")
        try:
            self.lm = model.to(self.settings.device, dtype=torch_dtype(self.settings.dtype)).eval()
        except torch.cuda.OutOfMemoryError:
            raise ModelError(f"model {self.model.spec!r} does not fit in GPU memory ({self.settings.dtype}); "
                             "free the GPU, use --dtype float16 or --device cpu") from None
        self.pad_id = self.tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = self.tokenizer.eos_token_id if self.tokenizer.eos_token_id is not None else 0
        self.eos_ids = _eos_ids(self.tokenizer, self.lm)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"backend": self.name, "device": self.settings.device, "dtype": self.settings.dtype, "batch_size": self.batch_size}
        if self.model is not None:
            out.update(model=self.model.spec, revision=self.model.revision)
        if self.lm is not None:
            out["parameters"] = int(sum(p.numel() for p in self.lm.parameters()))
            out["context_length"] = self.context_length()
        return out

    # -- text -------------------------------------------------------------------------------
    def render(self, prompt: Prompt) -> str:
        """The chat template's text (or the raw text): exactly what :meth:`encode` tokenises."""
        if prompt.text is not None:
            return prompt.text
        if prompt.chat_template:
            return str(self.tokenizer.apply_chat_template(prompt.as_messages(), chat_template=prompt.chat_template, tokenize=False,
                                                          add_generation_prompt=prompt.add_generation_prompt))
        if not getattr(self.tokenizer, "chat_template", None):
            raise ModelError(f"model {self.model.spec!r} has no chat template (tokenizer_config.json chat_template); "
                             "add one to the folder or use a raw-text prompt")
        return str(self.tokenizer.apply_chat_template(prompt.as_messages(), tokenize=False, add_generation_prompt=prompt.add_generation_prompt))

    def encode(self, text: str) -> list[int]:
        """Token ids of a rendered prompt: the template writes its own special tokens, so none are added.

        A tokenizer that always starts with BOS (Llama, Mistral) gets it once: prepended when
        the template did not write it, as ``generate`` on the tokenizer's default output would.
        """
        ids = list(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        bos = self.tokenizer.bos_token_id
        if bos is not None and getattr(self.tokenizer, "add_bos_token", False) and (not ids or ids[0] != bos):
            ids = [bos, *ids]
        return ids

    def count_tokens(self, text: str) -> int:
        """What :meth:`encode` feeds the model (rank_llm's ``len(tokenizer.encode(prompt))`` for one-BOS tokenizers)."""
        return len(self.encode(text))

    def context_length(self) -> int | None:
        limit = getattr(self.tokenizer, "model_max_length", None)
        if not limit or limit > 1_000_000:  # transformers' "unset" is a huge number
            limit = getattr(getattr(self.lm, "config", None), "max_position_embeddings", None)
        return int(limit) if limit else None

    # -- generation -------------------------------------------------------------------------
    def _batches(self, ids: list[list[int]]) -> list[list[int]]:
        """Prompt indices, longest first, in chunks of ``batch_size`` (little padding; results go back by index)."""
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        return [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]

    def _left_padded(self, rows: list[list[int]]) -> dict[str, Any]:
        import torch

        width = max(len(r) for r in rows)
        input_ids = torch.tensor([[self.pad_id] * (width - len(r)) + r for r in rows], dtype=torch.long)
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], dtype=torch.long)
        return {"input_ids": input_ids.to(self.settings.device), "attention_mask": mask.to(self.settings.device)}

    def complete(self, prompts: Sequence[Prompt], decoding: Decoding) -> list[Completion]:
        import torch

        ids = [self.encode(self.render(p)) for p in prompts]
        out: list[Completion | None] = [None] * len(ids)
        for chunk in self._batches(ids):
            batch = self._left_padded([ids[i] for i in chunk])
            kwargs: dict[str, Any] = {"max_new_tokens": decoding.max_new_tokens, "pad_token_id": self.pad_id, "eos_token_id": self.eos_ids}
            if decoding.greedy:
                kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            else:
                torch.manual_seed(decoding.seed)
                kwargs.update(do_sample=True, temperature=decoding.temperature, top_p=decoding.top_p, top_k=None)
            if decoding.stop:  # transformers' own stop_strings assumes a BPE vocabulary; decoding the new text is exact for any
                kwargs["stopping_criteria"] = [_StopText(self.tokenizer, decoding.stop, batch["input_ids"].shape[1])]
            with torch.inference_mode():
                generated = self.lm.generate(**batch, **kwargs)
            new = generated[:, batch["input_ids"].shape[1] :].tolist()
            for i, tokens in zip(chunk, new, strict=True):
                out[i] = self._completion(tokens, len(ids[i]), decoding)
        return [c for c in out if c is not None]

    def _completion(self, tokens: list[int], prompt_tokens: int, decoding: Decoding) -> Completion:
        """One row of ``generate``'s output: cut after its end of sequence (the rest is padding)."""
        kept, reason = [], "length"
        for token in tokens:
            kept.append(token)
            if token in self.eos_ids:
                reason = "stop"
                break
        text = self.tokenizer.decode(kept, skip_special_tokens=True)
        for stop in decoding.stop:
            if stop in text:
                text, reason = text[: text.index(stop)], "stop"
        return Completion(text, prompt_tokens, len(kept), reason)

    def next_token_logprobs(self, prompts: Sequence[Prompt], candidates: Sequence[str]) -> list[dict[str, float]]:
        """Log-softmax over the whole vocabulary at the first generated position, read at each candidate's first token."""
        import torch

        ids = [self.encode(self.render(p)) for p in prompts]
        wanted = self.candidate_ids(candidates)
        out: list[dict[str, float]] = [{} for _ in ids]
        for chunk in self._batches(ids):
            batch = self._left_padded([ids[i] for i in chunk])
            positions = (batch["attention_mask"].cumsum(1) - 1).clamp(min=0)
            with torch.inference_mode():
                logits = self.lm(**batch, position_ids=positions, use_cache=False, logits_to_keep=1).logits[:, -1, :]
            logprobs = torch.log_softmax(logits.float(), dim=-1)[:, wanted].cpu().tolist()
            for i, row in zip(chunk, logprobs, strict=True):
                out[i] = dict(zip(candidates, row, strict=True))
        return out

    def candidate_ids(self, candidates: Sequence[str]) -> list[int]:
        """Each candidate's first token (a vocabulary entry as is, else its first token in context-free tokenisation)."""
        vocab = self.tokenizer.get_vocab()
        ids = []
        for text in candidates:
            if text in vocab:
                ids.append(int(vocab[text]))
                continue
            encoded = self.tokenizer(text, add_special_tokens=False)["input_ids"]
            if not encoded:
                raise ConfigError(f"candidate {text!r} is no token of model {self.model.spec!r}")
            ids.append(int(encoded[0]))
        if len(set(ids)) != len(ids):
            shared = [c for c, i in zip(candidates, ids) if ids.count(i) > 1]
            raise ConfigError(f"candidates {shared} share their first token in model {self.model.spec!r}, so their logits cannot tell them apart")
        return ids


class _StopText:
    """Stops a row once its generated text holds a stop string (rows are checked on their own)."""

    def __init__(self, tokenizer: Any, stops: Sequence[str], prompt_width: int):
        self.tokenizer, self.stops, self.width = tokenizer, tuple(stops), prompt_width

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        texts = self.tokenizer.batch_decode(input_ids[:, self.width :], skip_special_tokens=True)
        return torch.tensor([any(s in t for s in self.stops) for t in texts], dtype=torch.bool, device=input_ids.device)


def _eos_ids(tokenizer: Any, model: Any) -> list[int]:
    """Every id that ends a sequence: the generation config's (chat models list several) and the tokenizer's."""
    ids: list[int] = []
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in ([configured] if isinstance(configured, int) else list(configured or [])) + [tokenizer.eos_token_id]:
        if value is not None and int(value) not in ids:
            ids.append(int(value))
    if not ids:
        raise ModelError("the model's tokenizer and generation config name no end-of-sequence token; generation could not stop")
    return ids
