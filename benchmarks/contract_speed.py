"""The pointwise path's throughput before and after the ranking contract, in one run, interleaved.

The code before the contract (``git archive`` of the commit) and this checkout each run the
same DL19 MiniLM rerank (given candidates, top 100) in a fresh process, alternating old, new,
old, new ... so machine load drifts over both alike. Each run is ``--force`` (no cache) and
reports the reranker stage's pairs/s (pairs over the stage's wall time, load and warm-up
apart) and p50 ms per query from its record; BM25 is not involved (given candidates).

    PYTHONPATH=. python benchmarks/contract_speed.py --repeat 3 --limit-queries 20 --out benchmarks/results/contract_speed.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "f0507ab95e466bb14e03dffb7f58b678df59860d"
log = logging.getLogger("contract_speed")


def _cpu() -> str:
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or platform.machine()


def _run(code: Path, data: Path, out: Path, args: argparse.Namespace) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(code), "HF_HUB_OFFLINE": "1", "BENCH_CACHE_DIR": str(out / "cache")}
    cmd = [sys.executable, "-m", "bench", "-q", "run", "trec-dl-2019", "--data-dir", str(data), "--first-stage", "candidates",
           "--model", "sentence-transformers/all-MiniLM-L6-v2", "--top-k", "100", "--dtype", args.dtype, "--force",
           "--output", str(out), "--name", "speed"]
    if args.limit_queries:
        cmd += ["--limit-queries", str(args.limit_queries)]
    subprocess.run(cmd, cwd=out.parent, env=env, check=True, capture_output=True, text=True, timeout=3600)
    record = json.loads((out / "reports" / "speed" / "results.json").read_text())
    stage = record["systems"][1]["latency"]["stage"]
    return {"pairs_per_s": stage["pairs_per_s"], "p50_ms": stage["p50_ms"], "wall_s": stage["wall_s"], "pairs": stage["pairs"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--limit-queries", type=int, default=20)
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--out", default="benchmarks/results/contract_speed.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        old = tmp / "before"
        old.mkdir()
        archive = subprocess.run(["git", "archive", BEFORE, "bench"], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
        for i in range(args.repeat):
            for label, code in (("before", old), ("after", ROOT)):
                got = _run(code, Path(args.data), tmp / f"{label}-{i}", args)
                runs[label].append(got)
                log.info("%s #%d: %.1f pairs/s, p50 %.1f ms/q", label, i + 1, got["pairs_per_s"], got["p50_ms"])
    summary = {label: {k: statistics.median(r[k] for r in rs) for k in ("pairs_per_s", "p50_ms", "wall_s")} for label, rs in runs.items()}
    ratio = summary["after"]["pairs_per_s"] / summary["before"]["pairs_per_s"]
    result = {"cpu": _cpu(), "cores": os.cpu_count(), "dtype": args.dtype, "queries": args.limit_queries, "repeat": args.repeat,
              "runs": runs, "median": summary, "after_over_before_pairs_per_s": ratio}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    log.info("median pairs/s: before %.1f, after %.1f (after/before %.3f)", summary["before"]["pairs_per_s"],
             summary["after"]["pairs_per_s"], ratio)


if __name__ == "__main__":
    main()
