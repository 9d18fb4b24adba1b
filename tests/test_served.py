"""Served models through the openai backend: faults, the response cache, the key, the budget, resume and cost.

The server is the test's own (tests/helpers_served.py): it fails on demand and counts every
request, which is what these mechanics need. Its "model" is a hash of the prompt, so the
expected scores are derived here from the Qwen3-Reranker card's prompt text and that hash.
Score parity with a real model is tests/test_vllm.py's job, against a real vLLM server.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from helpers_served import MODEL, FakeServer, fake_logprobs
from test_resume import make_big_collection

from bench.backends.client import Client
from bench.cli import main
from bench.errors import ModelError

ROOT = Path(__file__).resolve().parents[1]
QUERIES, DEPTH = 8, 4
INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"
# The Qwen3-Reranker card's prompt, written out as its card does (prefix + pair + suffix)
PREFIX = ("<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the Instruct provided. "
          'Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n')
SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"


def card_prompt(query: str, doc: str) -> str:
    return f"{PREFIX}<Instruct>: {INSTRUCTION}\n<Query>: {query}\n<Document>: {doc}{SUFFIX}"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("served")
    make_big_collection(root / "big", queries=QUERIES, docs_per_query=DEPTH, words=8)
    return root


@pytest.fixture(autouse=True)
def _own_response_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test its own cache: what one test's server answered is never another test's cache hit."""
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))


def _args(data: Path, out: Path, url: str, *extra: str, model: str = MODEL) -> list[str]:
    return ["-q", "run", "big", "--data-dir", str(data), "--first-stage", "candidates", "--model", model, "--kind", "causal-lm",
            "--option", "backend=openai", "--option", f"endpoint={url}", "--option", "prompt=qwen3-reranker",
            "--option", "max_concurrency=2", "--top-k", str(DEPTH), "--output", str(out), *extra]


def _system(out: Path) -> dict[str, Any]:
    return json.loads((out / "reports" / "big" / "results.json").read_text(encoding="utf-8"))["systems"][1]


def _texts(data: Path) -> tuple[dict[str, str], dict[str, str]]:
    queries = dict(line.split("\t", 1) for line in (data / "big" / "queries.tsv").read_text().splitlines())
    docs = {d["doc_id"]: d["text"] for d in map(json.loads, (data / "big" / "corpus.jsonl").read_text().splitlines())}
    return queries, docs


def test_scores_are_the_servers_log_odds_and_the_record_states_the_server(data, tmp_path, capsys):
    with FakeServer() as server:
        assert main(_args(data, tmp_path, server.url, "--option", "price_prompt=2.0", "--option", "price_completion=10.0")) == 0, capsys.readouterr().err
        asked = server.requests
    system = _system(tmp_path)
    from bench.trec import read_run

    run = read_run(system["run_file"])
    queries, docs = _texts(data)
    for qid, scores in run.items():
        for doc, score in scores.items():
            yes, no, _ = fake_logprobs(card_prompt(queries[qid], docs[doc]))
            assert score == pytest.approx(yes - no, abs=1e-5)  # log P(yes) - log P(no), from the card's prompt text
    assert asked == QUERIES * DEPTH  # one request per pair, no warm-up requests
    info = system["info"]
    assert info["backend"] == "openai" and info["server"]["models"] == [MODEL] and info["server"]["version"] == "0.0-test"
    assert info["decoding"] == {"temperature": 0.0, "seed": 0} and info["source"] == "endpoint"
    cost = system["cost"]
    assert cost["total"]["calls"] == QUERIES * DEPTH and "cached" not in cost["total"] and cost["malformed_rate"] == 0
    tokens_in, tokens_out = cost["total"]["input_tokens"], cost["total"]["output_tokens"]
    assert tokens_out == QUERIES * DEPTH and tokens_in > 0  # from the server's usage
    assert cost["per_query"]["usd"] == pytest.approx((tokens_in * 2.0 + tokens_out * 10.0) / 1e6 / QUERIES, rel=1e-6)
    assert "$/q" in (tmp_path / "reports" / "big" / "report.md").read_text()


def test_rerun_asks_nothing_and_writes_the_same_bytes(data, tmp_path, capsys):
    with FakeServer() as server:
        assert main(_args(data, tmp_path / "one", server.url)) == 0, capsys.readouterr().err
        first = server.requests
        assert main(_args(data, tmp_path / "two", server.url)) == 0, capsys.readouterr().err  # a new output folder: recomputed
        assert server.requests == first  # every answer from the response cache
        two = _system(tmp_path / "two")
        assert two["cost"]["total"]["cached"] == QUERIES * DEPTH
        assert main(_args(data, tmp_path / "three", server.url, "--no-response-cache")) == 0, capsys.readouterr().err
        assert server.requests == 2 * first  # asked again
    runs = [Path(_system(tmp_path / name)["run_file"]).read_bytes() for name in ("one", "two", "three")]
    assert runs[0] == runs[1] == runs[2]


def test_key_follows_model_and_revision_never_the_url(data, tmp_path, capsys):
    other = "tiny/another-reranker"
    with FakeServer(models=(MODEL, other)) as a, FakeServer(models=(MODEL, other)) as b:
        assert main(_args(data, tmp_path, a.url)) == 0, capsys.readouterr().err
        base = _system(tmp_path)["hash"]
        assert main(_args(data, tmp_path, b.url)) == 0, capsys.readouterr().err  # the same model behind another URL
        assert _system(tmp_path)["hash"] == base and b.requests == 0  # the finished run is reused: nothing asked
        assert main(_args(data, tmp_path, b.url, "--option", "revision=2025-06-01")) == 0, capsys.readouterr().err
        assert _system(tmp_path)["hash"] != base
        assert main(_args(data, tmp_path, b.url, model=other)) == 0, capsys.readouterr().err
        assert _system(tmp_path)["hash"] != base
        assert main(_args(data, tmp_path, b.url, "--option", "max_concurrency=7", "--option", "timeout_s=9.0")) == 0
        assert _system(tmp_path)["hash"] == base


def test_hf_keys_as_before_backends():
    from bench.rerankers.causal_lm import CausalLM, CausalLMOptions

    # the key of an hf run holds the family's own options only, as before backends existed (old runs keep their hashes)
    assert CausalLM.key_options(CausalLMOptions(prompt="qwen3-reranker")) == {
        "prompt": "qwen3-reranker", "instruction": None, "true_token": None, "false_token": None, "max_query_tokens": None}
    served = CausalLM.key_options(CausalLMOptions(prompt="qwen3-reranker", backend="openai", endpoint="http://127.0.0.1:1", max_concurrency=8))
    assert served["backend"] == "openai" and "endpoint" not in served and "max_concurrency" not in served and "api_key_env" not in served


@pytest.mark.parametrize("fault", ["429", "500", "drop", "slow", "malformed"])
def test_each_fault_is_retried(fault, caplog):
    with FakeServer() as server:
        client = Client(server.url, timeout_s=1.0, retries=3, backoff_s=0.01)
        server.faults = [fault]
        with caplog.at_level(logging.WARNING, logger="bench.backends.client"):
            answer = client.post("/v1/completions", json.dumps({"model": MODEL, "prompt": "x"}).encode())
    assert answer["choices"][0]["logprobs"]["top_logprobs"][0]["yes"] == pytest.approx(fake_logprobs("x")[0])
    assert client.counters.retries == 1 and client.counters.requests == 2
    expected = {"429": "429", "500": "500", "drop": "connection", "slow": "timeout", "malformed": "malformed"}[fault]
    assert client.counters.failures == {expected: 1}
    if fault == "429":  # Retry-After: 1 is respected, whatever the jitter drew
        assert "retry 1 of 3 in 1.0 s" in caplog.text


def test_a_fault_that_outlasts_the_retries_is_one_line():
    with FakeServer() as server:
        client = Client(server.url, timeout_s=1.0, retries=2, backoff_s=0.01)
        server.faults = ["500", "500", "500"]
        with pytest.raises(ModelError) as err:
            client.post("/v1/completions", b"{}")
        server.faults = ["400"]
        with pytest.raises(ModelError) as bad:
            client.post("/v1/completions", b"{}")
    message = str(err.value)
    assert "\n" not in message and server.url in message and "HTTP 500: internal error" in message and "after 3 attempts" in message
    assert "HTTP 400" in str(bad.value) and "maximum context length" in str(bad.value) and server.requests == 4  # 400 is not retried


def test_concurrency_is_bounded():
    seen = {"now": 0, "most": 0}
    lock = threading.Lock()
    with FakeServer(delay_s=0.1) as server:
        client = Client(server.url, max_concurrency=3, backoff_s=0.01)
        real = client._once

        def counting(*args: Any) -> Any:
            with lock:
                seen["now"] += 1
                seen["most"] = max(seen["most"], seen["now"])
            try:
                return real(*args)
            finally:
                with lock:
                    seen["now"] -= 1

        client._once = counting  # type: ignore[method-assign]
        threads = [threading.Thread(target=client.post, args=("/v1/completions", json.dumps({"model": MODEL, "prompt": str(i)}).encode()))
                   for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert seen["most"] == 3 and server.requests == 12


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_endpoint_and_wrong_model_are_one_line(data, tmp_path, capsys):
    url = f"http://127.0.0.1:{_free_port()}"
    assert main(_args(data, tmp_path, url)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and url in err and "unreachable" in err and "connection refused" in err
    with FakeServer() as server:
        assert main(_args(data, tmp_path, server.url, model="tiny/typo")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{server.url}/v1/models does not serve model 'tiny/typo'; it serves: {MODEL}" in err
    assert not [p for p in (tmp_path / "runs").rglob("*") if "served-reranker" in p.name and not p.name.endswith(".lock")]  # nothing half-written


def test_hosted_api_needs_a_stated_revision_and_a_set_key(data, tmp_path, capsys, monkeypatch):
    args = _args(data, tmp_path, "http://127.0.0.1:9")
    assert main([a for i, a in enumerate(args) if a != "--kind" and args[i - 1] != "--kind"]) == 2
    assert "a served model has no folder to recognise its family from; set --kind" in capsys.readouterr().err
    assert main(_args(data, tmp_path, "https://api.example.com")) == 2
    err = capsys.readouterr().err
    assert "https://api.example.com is a hosted API" in err and "--option revision=" in err and len(err.strip().splitlines()) == 1
    with FakeServer() as server:
        monkeypatch.delenv("BENCH_TEST_KEY", raising=False)
        assert main(_args(data, tmp_path, server.url, "--option", "api_key_env=BENCH_TEST_KEY")) == 2
        assert "$BENCH_TEST_KEY, which is not set" in capsys.readouterr().err
        assert server.requests == 0


def test_request_budget_stops_cleanly_and_the_rerun_resumes(data, tmp_path, capsys):
    with FakeServer() as server:
        budget = 3 * DEPTH + 1  # three queries and one request of the fourth
        assert main(_args(data, tmp_path, server.url, "--option", f"max_requests={budget}", "--option", "max_concurrency=1",
                          "--no-response-cache")) == 2
        err = capsys.readouterr().err
        assert f"request budget of {budget} spent" in err and len(err.strip().splitlines()) == 1
        assert server.requests == budget
        partial = next((tmp_path / "runs").rglob("*.partial"))
        assert len(partial.read_text().splitlines()) - 1 == 3  # three finished queries kept
        assert main(_args(data, tmp_path, server.url, "--option", "max_concurrency=1", "--no-response-cache")) == 0
        assert server.requests == budget + (QUERIES - 3) * DEPTH  # the finished three are not asked again


def test_sigkill_mid_stage_resumes_with_no_duplicate_request(data, tmp_path, capsys):
    """A real `python -m bench run` is killed mid-stage; the rerun asks nothing again for a query the partial run holds."""
    killed_at = threading.Event()

    def on_request(body: dict[str, Any]) -> None:
        if sum(server.bodies.values()) >= 5 * DEPTH + 2:
            killed_at.set()

    with FakeServer(delay_s=0.05, on_request=on_request) as server:
        env = dict(os.environ, PYTHONPATH=str(ROOT), BENCH_CACHE_DIR=str(tmp_path / "cache"))
        args = _args(data, tmp_path, server.url, "--option", "max_concurrency=1", "--no-response-cache")
        with open(tmp_path / "kill.err", "w") as stderr:
            proc = subprocess.Popen([sys.executable, "-m", "bench", *args], env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            assert killed_at.wait(timeout=180), (tmp_path / "kill.err").read_text()
            proc.send_signal(signal.SIGKILL)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=60)
        partial = next((tmp_path / "runs").rglob("*.partial"))
        finished = [json.loads(line)["qid"] for line in partial.read_text().splitlines()[1:] if line.endswith("}")]
        assert 0 < len(finished) < QUERIES
        before = dict(server.bodies)
        assert main(_args(data, tmp_path, server.url, "--option", "max_concurrency=1", "--no-response-cache")) == 0, capsys.readouterr().err
        after = dict(server.bodies)
    queries, _ = _texts(data)
    for body, count in after.items():
        prompt = json.loads(body)["prompt"]
        qid = next(q for q, text in queries.items() if f"<Query>: {text}\n" in prompt)
        if qid in finished:
            assert count == 1 and before.get(body) == 1, f"query {qid} was finished before the kill and asked again"
    assert len(after) == QUERIES * DEPTH  # every pair asked, the unfinished ones at most twice


def test_reproduce_requests_counts_differing_answers(data, tmp_path, capsys):
    with FakeServer() as server:
        assert main(_args(data, tmp_path, server.url)) == 0, capsys.readouterr().err
        capsys.readouterr()
        record = str(tmp_path / "reports" / "big" / "results.json")
        assert main(["reproduce", record, "--requests", "5"]) == 0
        assert "served-reranker: 0 of 5 re-asked responses differ" in capsys.readouterr().out
        assert server.requests == QUERIES * DEPTH + 5  # the cache was bypassed
    with FakeServer(skew=0.001) as drifted:
        assert main(["reproduce", record, "--requests", "5", "--endpoint", drifted.url]) == 0
        assert "served-reranker: 5 of 5 re-asked responses differ (largest log-probability change 0.001)" in capsys.readouterr().out


def test_response_cache_is_atomic_and_shared(tmp_path):
    """Two runs answering the same requests at once share one cache: every entry is whole, a damaged one is asked again."""
    import concurrent.futures

    from bench.backends.cache import ResponseCache, request_key

    bodies = [json.dumps({"model": MODEL, "prompt": f"p{i}"}).encode() for i in range(20)]
    keys = [request_key(b"identity", body, "/v1/completions") for body in bodies]
    answers = [{"choices": [{"text": "x" * 5000 + str(i)}]} for i in range(20)]
    caches = [ResponseCache(tmp_path), ResponseCache(tmp_path)]  # two runs, one folder

    def write(n: int) -> None:
        for key, body, answer in zip(keys, bodies, answers):
            caches[n % 2].put(key, "/v1/completions", body, answer)
            got = caches[(n + 1) % 2].get(key)
            assert got is None or got == answer  # never half an entry

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(8)))
    assert [caches[0].get(k) for k in keys] == answers
    assert not [p for p in tmp_path.rglob("*") if ".tmp-" in p.name]
    caches[0].path(keys[0]).write_text('{"response": {"choi')  # a torn file (e.g. written by hand): ignored, never trusted
    assert caches[0].get(keys[0]) is None
    assert request_key(b"identity", bodies[0], "/v1/completions") != request_key(b"identity2", bodies[0], "/v1/completions")


def test_retry_after_as_an_http_date():
    import email.utils
    import time as _time

    from bench.backends.client import _retry_after

    assert _retry_after("3") == 3.0 and _retry_after(None) is None and _retry_after("soon") is None
    later = email.utils.formatdate(_time.time() + 30, usegmt=True)
    assert 25 <= (_retry_after(later) or 0) <= 31
