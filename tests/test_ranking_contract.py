"""The ranking contract from outside bench: a toy listwise ranker registered from this file alone.

It reverses each window of 4, stride 2, back to front over the top 10 (rank_llm's sliding
window). Its order is written out by hand; it runs on the local engine and on Ray with two
workers with the same bytes, resumes after a SIGKILL to the same bytes, batches window k of
several queries into one call without changing any query's order, and bills its calls.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from test_resume import make_big_collection

from bench.cli import main
from bench.ranking import NONE, Cost, Ranker, Ranking
from bench.rerankers import FAMILIES
from bench.rerankers.window import slide, windows

ROOT = Path(__file__).resolve().parents[1]
QUERIES = 12
DEPTH = 12  # candidates per query; the toy reranks the top 10


@dataclass(frozen=True)
class ToyListwiseOptions:
    window: int = 4
    stride: int = 2
    hang_once: str = ""  # a marker file: the first worker to rank query 3 creates it and hangs (a worker stuck mid-batch)


class ToyListwise(Ranker):
    """Reverses every window: a listwise 'model' whose permutations a person can follow by hand."""

    kind = "toy-listwise"
    Options = ToyListwiseOptions
    SOURCE = NONE
    QUERIES_PER_BATCH = 4

    def rank(self, requests: list[Any]) -> list[Ranking]:
        if self.options.hang_once and any(r.qid == "3" for r in requests) and not os.path.exists(self.options.hang_once):
            Path(self.options.hang_once).touch()
            import time

            time.sleep(3600)
        calls: list[list[str]] = []

        def call(batch: list[Any]) -> list[tuple[list[int], dict[str, Any]]]:
            calls.append([w.qid for w in batch])  # one model call: window k of every query still sliding
            entry = {"call": len(calls), "qids_in_call": [w.qid for w in batch]}
            return [(list(reversed(range(len(w.doc_ids)))), {**entry, "window": [w.start, w.end], "input": w.doc_ids}) for w in batch]

        slid = slide(requests, self.options.window, self.options.stride, call)
        return [Ranking(r.qid, order, None, Cost(calls=len(trace), windows=len(trace)), trace)
                for r, (order, trace) in zip(requests, slid, strict=True)]


@pytest.fixture
def toy_listwise():
    FAMILIES.add("toy-listwise", ToyListwise)
    yield ToyListwise
    FAMILIES.remove("toy-listwise")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("listdata")
    make_big_collection(root / "big", queries=QUERIES, docs_per_query=DEPTH, words=8)
    return root


def _args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["-q", "run", "big", "--data-dir", str(data), "--first-stage", "candidates", "--model", "toy", "--kind", "toy-listwise",
            "--top-k", "10", "--output", str(out), *extra]


def _record(out: Path) -> dict[str, Any]:
    return json.loads((out / "reports" / "big" / "results.json").read_text(encoding="utf-8"))


def _toy(out: Path) -> dict[str, Any]:
    return _record(out)["systems"][1]


def _traces(system: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    import gzip

    path = Path(system["run_file"]).with_name(Path(system["run_file"]).stem + ".trace.jsonl.gz")
    return {line["qid"]: line["calls"] for line in map(json.loads, gzip.decompress(path.read_bytes()).decode().splitlines())}


def test_windows_are_rank_llms():
    assert windows(10, 4, 2) == [(6, 10), (4, 8), (2, 6), (0, 4)]
    assert windows(100, 20, 10) == [(80, 100), (70, 90), (60, 80), (50, 70), (40, 60), (30, 50), (20, 40), (10, 30), (0, 20)]
    assert windows(5, 20, 10) == [(0, 5)] and windows(25, 20, 10) == [(5, 25), (0, 15)]


def test_toy_listwise_order_by_hand_local_and_batched(toy_listwise, data: Path, tmp_path: Path, capsys):
    one, four = tmp_path / "one", tmp_path / "four"
    assert main(_args(data, one, "--queries-per-batch", "1")) == 0, capsys.readouterr().err
    assert main(_args(data, four, "--queries-per-batch", "4")) == 0, capsys.readouterr().err
    system = _toy(four)
    from bench.trec import ranked, read_run

    run = read_run(system["run_file"])
    # windows (6,10) (4,8) (2,6) (0,4), each reversed in turn, written out by hand:
    # 1..10 -> 1 2 3 4 5 6 10 9 8 7 -> 1 2 3 4 9 10 6 5 8 7 -> 1 2 10 9 4 3 6 5 8 7 -> 9 10 2 1 4 3 6 5 8 7; 11 and 12 keep their place
    by_hand = [9, 10, 2, 1, 4, 3, 6, 5, 8, 7, 11, 12]
    for q in range(1, QUERIES + 1):
        assert [d for d, _ in ranked(run[str(q)])] == [f"q{q}d{r}" for r in by_hand]
    # the order inside each query does not depend on how many queries share a call
    assert Path(system["run_file"]).read_bytes() == Path(_toy(one)["run_file"]).read_bytes()
    # accounting: 4 windows, 4 calls per query, in the record
    assert system["cost"]["per_query"] == {"calls": 4.0, "windows": 4.0} and system["cost"]["total"]["calls"] == 4 * QUERIES
    assert system["info"]["kind"] == "toy-listwise" and system["latency"]["queries_per_batch"] == 4
    # batching across queries: with 4 per batch, one call holds window k of 4 queries; with 1, of one
    traces = _traces(system)
    assert all(len(c["qids_in_call"]) == 4 for calls in traces.values() for c in calls)
    assert traces["1"][0]["qids_in_call"] == ["1", "2", "3", "4"] and [c["window"] for c in traces["1"]] == [[6, 10], [4, 8], [2, 6], [0, 4]]
    assert all(len(c["qids_in_call"]) == 1 for calls in _traces(_toy(one)).values() for c in calls)
    assert "calls/q" in (four / "reports" / "big" / "report.md").read_text(encoding="utf-8")


def test_toy_listwise_on_ray_gives_the_local_bytes(toy_listwise, data: Path, tmp_path: Path, capsys):
    ray = pytest.importorskip("ray")
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the toy lives in this test file, not in an installed module
    local, remote = tmp_path / "local", tmp_path / "ray"
    assert main(_args(data, local)) == 0, capsys.readouterr().err
    assert main(_args(data, remote, "--workers", "2")) == 0, capsys.readouterr().err
    system = _toy(remote)
    assert system["latency"]["engine"] == "ray" and system["latency"]["workers"] == 2
    assert Path(system["run_file"]).read_bytes() == Path(_toy(local)["run_file"]).read_bytes()
    assert sum(w["queries"] for w in system["latency"]["worker_info"]) == QUERIES


def test_a_ray_worker_hung_mid_batch_is_replaced_at_the_batch_deadline(toy_listwise, data: Path, tmp_path: Path, capsys, caplog):
    ray = pytest.importorskip("ray")
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    local, remote = tmp_path / "local", tmp_path / "ray"
    assert main(_args(data, local)) == 0, capsys.readouterr().err
    experiment = tmp_path / "hang.toml"
    experiment.write_text(f"""collection = "big"\ndata_dir = "{data}"\n[first_stage]\nkind = "candidates"\n
[execution]\nworkers = 2\nbatch_timeout_s = 4\n[[rerankers]]\nmodel = "toy"\nkind = "toy-listwise"\ntop_k = 10\n
[rerankers.options]\nhang_once = "{tmp_path / 'hung'}"\n""", encoding="utf-8")
    with caplog.at_level("WARNING"):
        assert main(["-q", "run", str(experiment), "--output", str(remote), "--name", "big"]) == 0, capsys.readouterr().err
    system = _toy(remote)
    assert (tmp_path / "hung").exists() and system["latency"]["restarted_workers"] == 1
    assert "is past its deadline" in caplog.text and "batch_timeout_s" in caplog.text
    assert Path(system["run_file"]).read_bytes() == Path(_toy(local)["run_file"]).read_bytes()


_KILLER = r"""
import os, signal, sys
sys.path.insert(0, os.environ["BENCH_TESTS"])
from test_ranking_contract import ToyListwise
from bench.rerankers import FAMILIES
from bench.work import Runner
FAMILIES.add("toy-listwise", ToyListwise)
target = int(os.environ.get("BENCH_KILL_AFTER", "0"))
real = Runner.stream
def stream(self, batches):
    for count, rows in enumerate(real(self, batches), start=1):
        if count == target:
            os.kill(os.getpid(), signal.SIGKILL)  # batch `target` is finished, not yet written
        yield rows
Runner.stream = stream
from bench.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_toy_listwise_resumes_after_sigkill_to_the_same_bytes(data: Path, tmp_path: Path):
    env = {**os.environ, "BENCH_TESTS": str(Path(__file__).parent), "PYTHONPATH": str(ROOT), "BENCH_CACHE_DIR": str(tmp_path / "cache")}
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    args = _args(data, killed, "--queries-per-batch", "2")
    done = subprocess.run([sys.executable, "-c", _KILLER, *_args(data, whole, "--queries-per-batch", "2")], env=env, timeout=300,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    proc = subprocess.run([sys.executable, "-c", _KILLER, *args], env={**env, "BENCH_KILL_AFTER": "4"}, timeout=300,
                          capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    partial = list((killed / "runs" / "big").glob("toy-*.partial"))
    assert len(partial) == 1 and len(partial[0].read_text().splitlines()) == 1 + 6, "3 batches of 2 written before the kill"
    again = subprocess.run([sys.executable, "-c", _KILLER, *args], env=env, timeout=300, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    system = _toy(killed)
    assert system["latency"]["resumed_queries"] == 6
    assert Path(system["run_file"]).read_bytes() == Path(_toy(whole)["run_file"]).read_bytes()
    assert system["cost"]["total"]["calls"] == 4 * QUERIES  # the resumed queries' calls are billed from their saved rows


def test_the_record_states_the_batch_size_used_after_an_oom_back_off(tiny_cross_encoder: Path, tmp_path: Path):
    """A model that runs out of memory above 2 rows: scores as usual, and describe() (what the record holds) says 2, not 8."""
    import torch

    from bench.collection import load
    from bench.engines.local import LocalEngine
    from bench.partial import PartialRun
    from bench.rerankers import create, locate
    from bench.rerankers.base import ModelSettings
    from bench.rerankers.stage import RerankStage
    from bench.stages import Job

    class Tight(torch.nn.Module):
        def __init__(self, inner: Any):
            super().__init__()
            self.inner = inner

        def forward(self, **batch: Any) -> Any:
            if batch["input_ids"].shape[0] > 2:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
            return self.inner(**batch)

    data = tmp_path / "data"
    make_big_collection(data / "big", queries=3, docs_per_query=6, words=8)
    collection = load("big", data)
    settings = ModelSettings("cpu", "float32", 8, 64)
    reference = create(locate(str(tiny_cross_encoder)), settings, "cross-encoder")
    reference.load()
    stage = RerankStage("ce", reference.located, type(reference), reference.options, settings, 6, None)
    real_create = stage.create

    def tight_create(device: str | None = None) -> Any:
        ranker = real_create(device)
        real_load = ranker.scorer.load

        def load_tight() -> None:
            real_load()
            ranker.scorer.model = Tight(ranker.scorer.model)

        ranker.scorer.load = load_tight
        return ranker

    stage.create = tight_create  # type: ignore[method-assign]
    qids = sorted(collection.queries)
    out = stage.run(Job(collection, qids, tmp_path / "runs"), collection.candidates, PartialRun(tmp_path / "x.partial", "h"), LocalEngine)
    assert out.info["batch_size"] == 2 and out.info["batch_size_requested"] == 8
    for qid in qids:  # the same scores as a model that never ran out of memory
        ids = list(collection.candidates[qid])
        texts = collection.docs.get_many(ids)
        assert {d: out.run[qid][d] for d in ids} == pytest.approx(dict(zip(ids, reference.score(collection.queries[qid], [texts[d] for d in ids]))), abs=1e-6)
