"""Backends that run generative models for the generative families (yes/no, listwise, setwise), by name in :data:`BACKENDS`.

A backend is an option of its family (``--option backend=vllm``), as lm-evaluation-harness
makes ``vllm`` and ``local-completions`` model types with ``model_args``: one family, many
backends, uniform options. ``hf`` runs transformers in this process, ``vllm`` an in-process
``vllm.LLM``, ``openai`` any OpenAI-compatible endpoint. The interface is
:class:`bench.backends.base.Backend`. Adding one is one file plus one line here.
"""

from __future__ import annotations

from typing import Any

from ..registry import Registry

BACKENDS: Registry[Any] = Registry("generation backend", {
    "hf": "bench.backends.hf:HfBackend",
    "vllm": "bench.backends.vllm:VllmBackend",
    "openai": "bench.backends.openai:OpenAIBackend",
})
