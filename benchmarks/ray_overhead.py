"""Ray's own cost: reranking DL19 in-process against the same stage on Ray workers, in one script.

Every configuration runs the real reranker stage (``RerankStage.run`` through its engine,
partial file included) over DL19's 43 judged queries x the BM25 top-100 (4,300 pairs), with
``all-MiniLM-L6-v2`` (the model of ``bench run trec-dl-2019 --model
sentence-transformers/all-MiniLM-L6-v2``), default settings (bf16 on CPUs with AMX/AVX512-BF16).
The figures are the stage's wall time (``latency.stage.wall_s``: model load, warm-up and Ray
start-up excluded, each reported apart), per repetition:

* ``local``: the in-process engine, torch at ``--threads`` threads (the peer);
* ``ray1``: one Ray worker holding ``--threads`` CPUs (torch threads = CPUs): overhead =
  ray1 / local - 1 is serialisation, scheduling and result transfer (plus load noise between runs);
  measured inside the same run, 1 - (worker busy time / stage wall time) is the share of the
  wall time in which the one worker was not scoring: Ray's cost that is not hidden;
* ``local_1t``, ``ray1_1t``, ``ray2_1t``: one torch thread per worker, 1 vs 2 workers (the default set:
  on this shared 2-core machine two OpenMP threads in one process are erratic under load, see BENCHMARKS.md).

Configurations alternate within each repetition so load changes hit all alike; one local Ray
instance serves every Ray configuration (its start-up is timed once). Every configuration's
run must be byte-identical to the in-process one (checked).

    PYTHONPATH=. python benchmarks/ray_overhead.py --repeat 3 --out benchmarks/results/ray_overhead.json
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from common import DEFAULT_DATA, ROOT, emit, machine, median

MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def setup(data: Path, limit: int | None) -> tuple[Any, Any, Any]:
    """The DL19 job, its BM25 (official candidates) run and the reranker stage, as ``bench run`` plans them."""
    from bench.collection import load
    from bench.config import ExperimentConfig, RerankerConfig
    from bench.experiment import _query_ids, plan
    from bench.stages import Job

    config = ExperimentConfig(collection="trec-dl-2019", rerankers=(RerankerConfig(model=MODEL),), limit_queries=limit)
    collection = load("trec-dl-2019", str(data))
    first, reranker = plan(config, collection)
    job = Job(collection, _query_ids(config, collection), Path(tempfile.mkdtemp()) / "runs")
    first_run = first.stage.run(job, None, None).run
    return job, first_run, reranker.stage


def run_once(stage: Any, job: Any, first_run: Any, engine: str, workers: int, threads: int) -> dict[str, Any]:
    """One stage run on a fresh partial file; its wall time, load/warm-up and run bytes."""
    import torch

    from bench.engines.execution import ExecutionConfig
    from bench.partial import PartialRun
    from bench.trec import write_run

    stage.engine = engine
    stage.engine_options = ExecutionConfig(engine=engine, workers=workers, cpus_per_worker=threads)
    torch.set_num_threads(threads)  # the in-process engine's threads (Ray workers set their own)
    with tempfile.TemporaryDirectory() as tmp:
        result = stage.run(job, first_run, PartialRun(Path(tmp) / "run.partial", "bench"))
        write_run(result.run, Path(tmp) / "run.trec", tag="bench")
        data = (Path(tmp) / "run.trec").read_bytes()
    return {"wall_s": result.wall_s, "model_s": sum(result.latency_ms.values()) / 1000.0, "load_s": result.load_s,
            "warmup_s": result.warmup_s, "pairs": result.pairs, "pairs_per_s": result.pairs / result.wall_s,
            "workers": result.extra.get("workers"), "worker_busy_s": [w.get("busy_s") for w in result.extra.get("worker_info", [])],
            "bytes": data}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the in-process peer and the one Ray worker")
    parser.add_argument("--configs", default="local_1t,ray1_1t,ray2_1t", help="which of local, ray1, local_1t, ray1_1t, ray2_1t")
    parser.add_argument("--limit-queries", type=int, help="fewer DL19 queries (a quick look)")
    parser.add_argument("--out")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import ray

    job, first_run, stage = setup(args.data, args.limit_queries)
    started = time.perf_counter()
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]), "TOKENIZERS_PARALLELISM": "false",
           "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_HUB_OFFLINE": "1"}
    ray.init(address="local", num_cpus=max(2, args.threads), include_dashboard=False, logging_level="WARNING",
             runtime_env={"env_vars": env})
    ray_start_s = time.perf_counter() - started
    every = {
        "local": ("local", 1, args.threads),
        "ray1": ("ray", 1, args.threads),
        "local_1t": ("local", 1, 1),
        "ray1_1t": ("ray", 1, 1),
        "ray2_1t": ("ray", 2, 1),
    }
    configs = {name: every[name] for name in args.configs.split(",")}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in configs}
    reference: bytes | None = None
    for rep in range(args.repeat):
        for name, (engine, workers, threads) in configs.items():
            out = run_once(stage, job, first_run, engine, workers, threads)
            data = out.pop("bytes")
            reference = reference or data
            out["same_bytes_as_local"] = data == reference
            runs[name].append(out)
            logging.warning("rep %d %s: %.2f s wall, %.0f pairs/s", rep, name, out["wall_s"], out["pairs_per_s"])
    ray.shutdown()
    def ratio(a: str, b: str, i: int) -> float | None:
        return runs[a][i]["wall_s"] / runs[b][i]["wall_s"] if a in runs and b in runs else None

    per_rep = [
        {
            "ray_overhead": _minus_one(ratio("ray1", "local", i)),
            "ray_overhead_1t": _minus_one(ratio("ray1_1t", "local_1t", i)),
            "two_vs_one_worker": ratio("ray1_1t", "ray2_1t", i),
        }
        for i in range(args.repeat)
    ]
    summary = {name: {"wall_s": median([r["wall_s"] for r in rs]), "pairs_per_s": median([r["pairs_per_s"] for r in rs])}
               for name, rs in runs.items()}
    emit({
        "benchmark": "ray_overhead",
        "machine": machine(),
        "model": MODEL,
        "queries": len(job.qids),
        "pairs": next(iter(runs.values()))[0]["pairs"],
        "threads": args.threads,
        "ray_version": ray.__version__,
        "ray_start_s": ray_start_s,
        "median": summary,
        # with one worker: the share of the stage's wall time in which the worker was not scoring
        # (serialisation, scheduling, result transfer and the driver's own per-query work, not hidden)
        "median_ray1_not_scoring_share": {name: _median([1.0 - r["worker_busy_s"][0] / r["wall_s"] for r in runs[name]])
                                          for name in ("ray1", "ray1_1t") if name in runs},
        **{f"median_{key}": _median([r[key] for r in per_rep]) for key in ("ray_overhead", "ray_overhead_1t", "two_vs_one_worker")},
        "per_repetition": per_rep,
        "runs": runs,
        "all_same_bytes": all(r["same_bytes_as_local"] for rs in runs.values() for r in rs),
    }, args.out)


def _minus_one(value: float | None) -> float | None:
    return None if value is None else value - 1.0


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return median(present) if present else None


if __name__ == "__main__":
    main()
