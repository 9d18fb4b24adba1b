"""End-to-end harness overhead: DL19 with one cross-encoder, everything but model forward passes and BM25 scoring.

Runs ``python -m bench run trec-dl-2019 --data-dir D --model M --output TMP --force`` in a fresh
process (``python -m bench`` itself, through ``runpy``), with timers wrapped around the harness's
functions: the model's forward passes (``Reranker.forward``, warm-up included), BM25 scoring
(``Bm25sIndex.search``, when the first stage is BM25), and for the breakdown collection
loading, first stage, model location + fingerprint, model load, evaluation, writing and the
report ``bench run`` writes next to the results.
Tokenisation runs in a background thread overlapped with the forward passes
(``Reranker.prepare``); its total is reported, and whatever of it is not hidden shows up as
overhead. Overhead = process wall time (interpreter start to exit, measured by the parent)
minus forward passes minus BM25 scoring; of it, ``framework_import_and_load_s`` is importing
torch and transformers and loading the weights (what any Hugging Face reranker pays per
process, sentence-transformers included) and ``harness_own_overhead_s`` the rest.

    PYTHONPATH=. python benchmarks/end_to_end.py --repeat 3 --out benchmarks/results/end_to_end.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import DEFAULT_DATA, ROOT, emit, machine, median, minilm_cross_encoder

CHILD = r"""
import json, runpy, sys, threading, time
sys.path.insert(0, {root!r})
TIMES, LOCK = {{}}, threading.Lock()
started = time.perf_counter()

def timed(owner, name, label):
    inner = getattr(owner, name)
    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            with LOCK:
                TIMES[label] = TIMES.get(label, 0.0) + time.perf_counter() - t
    setattr(owner, name, wrapper)

import bench.collection, bench.experiment, bench.evaluate, bench.first_stage.bm25
from bench.rerankers import base, cross_encoder
locate = sys.modules["bench.rerankers.locate"]
TIMES["import_bench_s"] = time.perf_counter() - started
timed(bench.experiment.collection_mod, "load", "collection_load_s")
import bench.first_stage.bm25_stage
timed(bench.first_stage.bm25_stage.Bm25Stage, "run", "first_stage_s")
timed(bench.first_stage.bm25.search.Bm25sIndex, "search", "bm25_scoring_s")
timed(locate.LocatedModel, "fingerprint", "model_fingerprint_s")
timed(bench.experiment, "_settings", "torch_import_and_device_s")
timed(bench.experiment.results, "git_commit", "git_commit_s")
timed(base.Reranker, "warmup", "warmup_s")
timed(base.Reranker, "load", "model_load_s")
timed(cross_encoder.CrossEncoder, "forward", "forward_s")
timed(cross_encoder.CrossEncoder, "prepare", "tokenise_background_s")
timed(bench.experiment.results, "build", "evaluate_and_record_s")
import bench.stages
timed(bench.stages, "write_run", "write_runs_s")
import bench.report
timed(bench.report, "report_for_run", "report_s")
import bench.cli
cli_main = bench.cli.main
def main_then_report(*args, **kwargs):  # python -m bench exits right after main() returns: report here
    code = cli_main(*args, **kwargs)
    TIMES["inside_process_s"] = time.perf_counter() - started
    print("E2E " + json.dumps(TIMES), flush=True)
    return code
bench.cli.main = main_then_report
sys.argv = ["bench", "-q", "run", "trec-dl-2019", "--data-dir", {data!r}, "--model", {model!r}, "--output", {output!r}, "--force"{extra}]
runpy.run_module("bench", run_name="__main__")
"""


def one_run(model: str, data: Path, extra: list[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        code = CHILD.format(root=str(ROOT), data=str(data), model=model, output=tmp, extra="".join(f", {e!r}" for e in extra))
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(proc.stderr[-3000:])
        times = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("E2E "))[4:])
        record = json.loads(next(Path(tmp, "reports").glob("*/results.json")).read_text())
    times["process_wall_s"] = wall
    times["record_wall_s"] = record["wall_s"]
    reranker = record["systems"][1]["latency"]
    times["rerank_loop_s"] = reranker["rerank"]["total_s"]
    times["pairs_per_s"] = reranker["rerank"]["pairs_per_s"]
    work = times.get("forward_s", 0.0) + times.get("bm25_scoring_s", 0.0)
    times["overhead_s"] = wall - work
    times["overhead_fraction"] = (wall - work) / wall
    # the part any Hugging Face reranker pays per process: importing torch + transformers, loading weights
    framework = times.get("torch_import_and_device_s", 0.0) + times.get("model_load_s", 0.0)
    times["framework_import_and_load_s"] = framework
    times["harness_own_overhead_s"] = wall - work - framework
    times["harness_own_overhead_fraction"] = (wall - work - framework) / wall
    return {k: round(v, 3) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--model", help="cross-encoder folder (default: the MiniLM cross-encoder of common.py)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--bm25", action="store_true", help="first stage BM25 over the DL19 corpus instead of the given candidates")
    parser.add_argument("--out")
    args = parser.parse_args()
    model = args.model or str(minilm_cross_encoder())
    extra = ["--first-stage", "bm25", "--depth", "1000"] if args.bm25 else []
    one_run(model, args.data, extra)  # first run: builds caches (BM25 index, numba, bytecode)
    runs = []
    for rep in range(args.repeat):
        runs.append(one_run(model, args.data, extra))
        print(f"run {rep + 1}: {runs[-1]}", flush=True)
    keys = runs[0].keys()
    result = {
        "machine": machine(),
        "command": f"python -m bench run trec-dl-2019 --data-dir {args.data} --model <minilm cross-encoder> --output TMP --force"
        + (" " + " ".join(extra) if extra else ""),
        "median": {k: round(median([r[k] for r in runs]), 3) for k in keys},
        "runs": runs,
    }
    emit(result, args.out)


if __name__ == "__main__":
    main()
