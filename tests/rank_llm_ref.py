"""rank_llm 0.25.7's own listwise code, importable without vLLM: the reference for tests/test_listwise_parity.py.

``rank-llm`` requires vLLM, which does not install on a CPU CI machine, so it is installed
with ``--no-deps`` (noxfile.py) beside its small dependencies. Its package ``__init__`` files
import every backend (vLLM, Gemini, ...), so the modules are loaded from their files under
bare package entries, and ``vllm`` is a stand-in module for the duration of the import: its
``LLM`` only loads the model's tokenizer (what ``RankListwiseOSLLM`` asks of it before any
generation). Nothing of rank_llm's prompt, window, parse or repair code is replaced; the
tests replace only the model call (``run_llm_batched`` / ``run_llm``) with recorded answers.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

import pytest

VERSION = "0.25.7"


class _StandInLLM:
    """What RankListwiseOSLLM's VllmHandler asks of ``vllm.LLM`` at construction: a tokenizer."""

    def __init__(self, model: str, **kwargs: Any):
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(model)

    def get_tokenizer(self) -> Any:
        return self.tokenizer

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the tests answer rank_llm's model calls themselves")


def load() -> types.SimpleNamespace:
    """rank_llm's listwise modules (skips the test when rank-llm 0.25.7 is not installed)."""
    spec = importlib.util.find_spec("rank_llm")
    if spec is None or spec.origin is None:
        pytest.skip("rank-llm is not installed (pip install --no-deps rank-llm==0.25.7 ftfy dacite pyyaml openai tiktoken)")
    from importlib import metadata

    if metadata.version("rank-llm") != VERSION:
        pytest.skip(f"rank-llm {metadata.version('rank-llm')} installed; the parity tests pin {VERSION}")
    root = Path(spec.origin).parent
    for name, folder in (("rank_llm.rerank", root / "rerank"), ("rank_llm.rerank.listwise", root / "rerank" / "listwise")):
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = [str(folder)]
            sys.modules[name] = package
    added = []
    if importlib.util.find_spec("vllm") is None and "vllm" not in sys.modules:
        vllm = types.ModuleType("vllm")
        outputs = types.ModuleType("vllm.outputs")
        vllm.LLM, vllm.SamplingParams, vllm.RequestOutput = _StandInLLM, dict, object
        outputs.RequestOutput = object
        vllm.outputs = outputs
        sys.modules.update({"vllm": vllm, "vllm.outputs": outputs})
        added = ["vllm", "vllm.outputs"]
    try:
        os_llm = importlib.import_module("rank_llm.rerank.listwise.rank_listwise_os_llm")
        gpt = importlib.import_module("rank_llm.rerank.listwise.rank_gpt")
    finally:
        for name in added:  # nothing else in the session sees the stand-in
            sys.modules.pop(name, None)
    data = importlib.import_module("rank_llm.data")
    single = importlib.import_module("rank_llm.rerank.listwise.singleturn_listwise_inference_handler")
    multi = importlib.import_module("rank_llm.rerank.listwise.multiturn_listwise_inference_handler")
    return types.SimpleNamespace(os_llm=os_llm, gpt=gpt, data=data, single=single, multi=multi, templates=root / "rerank" / "prompt_templates")


def result(ref: types.SimpleNamespace, query: str, texts: list[str], qid: str = "q") -> Any:
    """A rank_llm Request holding ``texts`` as candidates d0, d1, ... (scores descending)."""
    data = ref.data
    candidates = [data.Candidate(docid=f"d{i}", score=float(len(texts) - i), doc={"text": t}) for i, t in enumerate(texts)]
    return data.Request(query=data.Query(text=query, qid=qid), candidates=candidates)


def as_result(ref: types.SimpleNamespace, request: Any) -> Any:
    return ref.data.Result(query=request.query, candidates=list(request.candidates), invocations_history=[])
