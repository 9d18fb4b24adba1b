"""Reranking on Ray workers: the same bytes as one process, and no query lost or written twice when something dies.

One real local Ray instance (4 logical CPUs: two workers with as many torch threads as this process) is started for the in-process tests of this module
and stopped at its end; the driver-kill test runs ``python -m bench`` in a subprocess that
starts and stops its own. Workers are killed for real (SIGKILL of the worker process, or
``ray.kill``); the driver SIGKILLs itself at an exact moment (before its N+1-th row is
written). "Without Ray" runs a subprocess in which ``import ray`` fails.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from test_resume import make_big_collection

from bench.cli import main
from bench.config import ExecutionConfig, from_dict
from bench.engines.execution import cpus, gpus
from bench.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
QUERIES = 40
TOP_K = 5
NO_RAY_ERROR = ("bench: error: 2 workers run on Ray, which is not installed; install it with pip install -e '.[ray]' "
                "(or pip install 'ray>=2.9'), or use --workers 1")


def _args(data: Path, model: Path, out: Path, *extra: str) -> list[str]:
    return ["-q", "run", "big", "--data-dir", str(data), "--model", str(model), "--top-k", str(TOP_K), "--output", str(out), *extra]


def _record(out: Path) -> dict:
    return json.loads((out / "reports" / "big" / "results.json").read_text(encoding="utf-8"))


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
               BENCH_CACHE_DIR=str(tmp / "cache"), HF_HUB_OFFLINE="1")
    env.pop("RAY_ADDRESS", None)
    return env


def _subprocess(runner: str, args: list[str], tmp: Path, extra_env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """``runner`` then the real CLI, in its own process group (cleaned up afterwards: a killed driver's Ray helpers too)."""
    proc = subprocess.Popen([sys.executable, "-c", runner, *args], cwd=tmp, env={**_env(tmp), **(extra_env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("raydata")
    make_big_collection(root / "big", queries=QUERIES)
    return root


@pytest.fixture(scope="module")
def reference(big: Path, tiny_cross_encoder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reranker's run file from the in-process engine (explicit --workers 1)."""
    out = tmp_path_factory.mktemp("local")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCH_CACHE_DIR", str(out / "cache"))
        assert main(_args(big, tiny_cross_encoder, out, "--workers", "1")) == 0
    system = _record(out)["systems"][1]
    assert system["latency"]["engine"] == "local" and system["latency"]["workers"] == 1
    return Path(system["run_file"])


@pytest.fixture(scope="module")
def ray_instance():
    """One real local Ray instance for the module; its workers import this checkout of bench."""
    ray = pytest.importorskip("ray")
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep), "HF_HUB_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    ray.init(address="local", num_cpus=4, include_dashboard=False, logging_level="WARNING", runtime_env={"env_vars": env})
    yield ray
    ray.shutdown()


def _ray_run(big: Path, model: Path, out: Path, *extra: str) -> dict:
    assert main(_args(big, model, out, "--workers", "2", *extra)) == 0
    return _record(out)["systems"][1]


def test_two_workers_give_the_bytes_of_one_process(ray_instance, big, tiny_cross_encoder, reference, tmp_path, capsys):
    system = _ray_run(big, tiny_cross_encoder, tmp_path / "out")
    capsys.readouterr()
    run_file = Path(system["run_file"])
    assert run_file.name == reference.name, "the worker count is not part of the run's hash"
    assert run_file.read_bytes() == reference.read_bytes()
    latency = system["latency"]
    assert latency["engine"] == "ray" and latency["workers"] == 2 and latency["nodes"] == 1
    workers = latency["worker_info"]
    assert [w["worker"] for w in workers] == [0, 1] and len({w["pid"] for w in workers}) == 2
    assert all(w["device"] == "cpu" and w["load_s"] > 0 and w["warmup_s"] > 0 and w["node"] for w in workers)
    assert sum(w["queries"] for w in workers) == QUERIES
    assert sum(w["busy_s"] for w in workers) == pytest.approx(sum(latency["stage_ms"].values()) / 1000.0)
    stage = latency["stage"]
    assert stage["queries"] == QUERIES and stage["pairs"] == QUERIES * TOP_K
    assert stage["pairs_per_s"] == pytest.approx(stage["pairs"] / stage["wall_s"])
    assert all(ms > 0 for ms in latency["stage_ms"].values())


def _killing_progress(count: int, kill):
    """The Ray engine's progress iterator, plus ``kill(slot)`` of worker 0 once ``count`` rows have arrived."""
    import bench.engines.ray as engine

    real = engine.progress

    def progress(items, total, desc, unit="queries"):
        for n, item in enumerate(real(items, total, desc, unit)):
            if n == count:
                kill()
            yield item

    return progress


@pytest.mark.parametrize("how", ["sigkill", pytest.param("ray.kill", marks=pytest.mark.slow)])
def test_a_worker_killed_mid_run_loses_no_query_and_writes_none_twice(ray_instance, big, tiny_cross_encoder, reference, tmp_path,
                                                                      capsys, caplog, how):
    from bench.engines.ray_worker import Pool
    from bench.partial import PartialRun

    slots, appended = [], []
    real_add, real_append = Pool.add, PartialRun.append

    def add(self):
        slot = real_add(self)
        slots.append(slot)
        return slot

    def append(self, row):
        appended.append(row["qid"])
        return real_append(self, row)

    def kill():
        victim = slots[0]
        assert victim.in_flight > 0, "worker 0 holds queries when it is killed"
        if how == "sigkill":
            os.kill(victim.info["pid"], signal.SIGKILL)  # the worker process, as the OOM killer would
        else:
            ray_instance.kill(victim.actor)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Pool, "add", add)
        mp.setattr(PartialRun, "append", append)
        mp.setattr("bench.engines.ray.progress", _killing_progress(5, kill))
        with caplog.at_level("WARNING"):
            system = _ray_run(big, tiny_cross_encoder, tmp_path / "out")
    capsys.readouterr()
    assert sorted(appended) == sorted(set(appended)) and len(appended) == QUERIES, "every query written exactly once"
    assert Path(system["run_file"]).read_bytes() == reference.read_bytes()
    latency = system["latency"]
    assert latency["restarted_workers"] == 1
    died = [w for w in latency["worker_info"] if w.get("died")]
    assert [w["worker"] for w in died] == [0] and len(latency["worker_info"]) == 3
    assert sum(w["queries"] for w in latency["worker_info"]) == QUERIES
    assert "worker 0 died" in caplog.text and "queued again" in caplog.text


# The driver SIGKILLs itself just before writing its N+1-th finished query (the others are in the partial run).
_KILL_DRIVER = r"""
import os, signal, sys
from bench.partial import PartialRun

real, target, seen = PartialRun.append, int(os.environ["BENCH_TEST_KILL_AFTER"]), []


def append(self, row):
    if len(seen) == target:
        os.kill(os.getpid(), signal.SIGKILL)
    seen.append(row["qid"])
    return real(self, row)


PartialRun.append = append
from bench.cli import main

sys.exit(main(sys.argv[1:]))
"""


def test_driver_sigkilled_mid_run_resumes_with_the_same_bytes(ray_instance, big, tiny_cross_encoder, reference, tmp_path, capsys, caplog):
    out = tmp_path / "out"
    killed = _subprocess(_KILL_DRIVER, _args(big, tiny_cross_encoder, out, "--workers", "2"), tmp_path, {"BENCH_TEST_KILL_AFTER": "7"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    partials = list((out / "runs" / "big").glob("tiny-ce-*.trec.partial"))
    assert len(partials) == 1 and partials[0].read_text(encoding="utf-8").count("\n") == 1 + 7
    assert not list((out / "runs" / "big").glob("tiny-ce-*.trec"))
    with caplog.at_level("INFO"):
        system = _ray_run(big, tiny_cross_encoder, out)
    capsys.readouterr()
    assert system["latency"]["resumed_queries"] == 7
    assert f"resuming, 7 of {QUERIES} queries already done" in caplog.text
    assert sum(w["queries"] for w in system["latency"]["worker_info"]) == QUERIES - 7
    assert Path(system["run_file"]).read_bytes() == reference.read_bytes()
    assert not list(out.rglob("*.partial*"))


# ``import ray`` fails in this process, as if Ray were not installed; prints whether anything imported it.
_NO_RAY = r"""
import sys
sys.modules["ray"] = None
from bench.cli import main

code = main(sys.argv[1:])
print("ray imported:", sys.modules.get("ray") is not None)
sys.exit(code)
"""


def test_without_ray_two_workers_is_a_one_line_error_and_one_worker_the_same_bytes(big, tiny_cross_encoder, reference, tmp_path):
    out = tmp_path / "two"
    failed = _subprocess(_NO_RAY, _args(big, tiny_cross_encoder, out, "--workers", "2"), tmp_path)
    assert failed.returncode == 2
    assert failed.stderr.splitlines() == [NO_RAY_ERROR]
    assert not (out / "reports").exists() and not list(out.rglob("tiny-ce-*")), "nothing written before the error"

    out = tmp_path / "one"
    ok = _subprocess(_NO_RAY, _args(big, tiny_cross_encoder, out, "--workers", "1"), tmp_path)
    assert ok.returncode == 0, ok.stderr[-3000:]
    assert "ray imported: False" in ok.stdout
    assert Path(_record(out)["systems"][1]["run_file"]).read_bytes() == reference.read_bytes()


def test_execution_table_and_engine_choice(tmp_path):
    assert ExecutionConfig().engine_name() == "local"
    assert ExecutionConfig(workers=2).engine_name() == "ray"
    assert ExecutionConfig(address="ray://head:10001").engine_name() == "ray"
    assert ExecutionConfig(engine="ray").engine_name() == "ray"
    assert gpus(ExecutionConfig(), "cuda:1") == 1.0 and gpus(ExecutionConfig(), "cpu") == 0.0
    assert gpus(ExecutionConfig(gpus_per_worker=0.5), "cuda") == 0.5
    import torch

    assert cpus(ExecutionConfig(), "cpu") == torch.get_num_threads(), "CPU workers default to one process's threads (same bytes)"
    assert cpus(ExecutionConfig(), "cuda") == 1 and cpus(ExecutionConfig(cpus_per_worker=3), "cpu") == 3
    config = from_dict({"collection": "v", "execution": {"engine": "ray", "workers": 8, "gpus_per_worker": 1, "cpus_per_worker": 4}})
    assert config.execution == ExecutionConfig(engine="ray", workers=8, gpus_per_worker=1, cpus_per_worker=4)
    with pytest.raises(ConfigError, match=r"experiment.execution: unknown key 'gpus'; known keys: engine, workers"):
        from_dict({"collection": "v", "execution": {"gpus": 1}})
    from bench.experiment import _engine

    with pytest.raises(ConfigError, match="unknown execution engine 'spark'; use auto, local, ray"):
        _engine(from_dict({"collection": "v", "execution": {"engine": "spark"}}))  # checked in plan, through the registry
    with pytest.raises(ConfigError, match="engine 'local' runs one worker"):
        ExecutionConfig(engine="local", workers=2)
    with pytest.raises(ConfigError, match="--workers must be 1 or more, got 0"):
        ExecutionConfig(workers=0)


def test_cuda_without_a_gpu_per_worker_is_an_error():
    from bench.engines.ray_worker import worker_device

    assert worker_device("cuda:3", 1) == "cuda" and worker_device("cpu", 0) == "cpu"
    with pytest.raises(ConfigError, match="needs a GPU per worker; set gpus_per_worker above 0"):
        worker_device("cuda", 0)


@pytest.mark.slow
def test_dl19_minilm_two_workers_same_run_file(dl19, minilm, tmp_path, capsys):
    """The real MiniLM bi-encoder over DL19's BM25 top-100: --workers 2 (its own local Ray) against in-process."""
    args = ["-q", "run", "trec-dl-2019", "--data-dir", str(dl19.parent), "--model", "sentence-transformers/all-MiniLM-L6-v2",
            "--limit-queries", "10"]
    assert main([*args, "--output", str(tmp_path / "local")]) == 0
    done = _subprocess("import sys\nfrom bench.cli import main\nsys.exit(main(sys.argv[1:]))",
                       [*args, "--output", str(tmp_path / "ray"), "--workers", "2"], tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    capsys.readouterr()
    local = json.loads((tmp_path / "local" / "reports" / "trec-dl-2019" / "results.json").read_text())["systems"][1]
    ray = json.loads((tmp_path / "ray" / "reports" / "trec-dl-2019" / "results.json").read_text())["systems"][1]
    assert ray["latency"]["workers"] == 2 and ray["latency"]["engine"] == "ray"
    assert Path(ray["run_file"]).name == Path(local["run_file"]).name
    assert Path(ray["run_file"]).read_bytes() == Path(local["run_file"]).read_bytes()
    assert ray["metrics"] == local["metrics"]
