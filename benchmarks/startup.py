"""Start-up: ``bench --help``, evaluating a finished DL19 run in a fresh process, and JIT caches.

* ``python -m bench --help``: fresh processes, median;
* ``python -m bench evaluate --qrels qrels.txt run.bm25.trec`` (5 default measures): fresh
  processes after a first use, median; beside it the same command with ``import ranx`` done
  first, which is what importing ``ranx.metrics`` used to cost (ranx's ``__init__`` imports
  fusion, plotting and statistics: pandas, scipy, matplotlib);
* first ever use: the same evaluation with an empty ``NUMBA_CACHE_DIR`` (numba compiles
  ranx's metric functions), then again with that directory (loaded from the cache); the
  same for the BM25 kernel (bench/bm25_kernel.py) on a 2,000-document index.

    PYTHONPATH=. python benchmarks/startup.py --out benchmarks/results/startup.json
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import DEFAULT_DATA, ROOT, emit, machine, median

KERNEL = r"""
import sys, time
sys.path.insert(0, {root!r}); sys.path.insert(0, {bench!r})
from pathlib import Path
from bench.first_stage.bm25 import Bm25Params, Bm25sIndex
from synthetic import passages
index = Bm25sIndex.cached(passages(2000), "synthetic-2000", Bm25Params(), root=Path({cache!r}))
started = time.perf_counter()
index.search(["dog"], 10)
print(f"KERNEL {{time.perf_counter() - started}}")
"""


def wall(args: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=ROOT, check=False)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    return time.perf_counter() - started, proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out")
    args = parser.parse_args()
    py = sys.executable
    env = {"PYTHONPATH": str(ROOT)}
    folder = args.data / "trec-dl-2019"
    evaluate = [py, "-m", "bench", "evaluate", "--qrels", str(folder / "qrels.txt"), str(folder / "run.bm25.trec")]
    run_cli = "import ranx, runpy, sys; sys.argv = ['bench', *sys.argv[1:]]; runpy.run_module('bench', run_name='__main__')"
    full_ranx = [py, "-c", run_cli, *evaluate[3:]]
    result: dict[str, Any] = {"machine": machine()}

    wall(evaluate, env)  # first use on this installation
    result["help_s"] = round(median([wall([py, "-m", "bench", "--help"], env)[0] for _ in range(args.repeat + 2)]), 3)
    result["evaluate_dl19_s"] = round(median([wall(evaluate, env)[0] for _ in range(args.repeat)]), 3)
    result["evaluate_dl19_with_full_ranx_import_s"] = round(median([wall(full_ranx, env)[0] for _ in range(args.repeat)]), 3)
    with tempfile.TemporaryDirectory() as numba_cache, tempfile.TemporaryDirectory() as cache:
        cold = {**env, "NUMBA_CACHE_DIR": numba_cache}
        result["evaluate_dl19_first_ever_s"] = round(wall(evaluate, cold)[0], 3)
        result["evaluate_dl19_second_s"] = round(wall(evaluate, cold)[0], 3)
        kernel = [py, "-c", KERNEL.format(root=str(ROOT), bench=str(Path(__file__).parent), cache=cache)]
        first = float(wall(kernel, cold)[1].split("KERNEL ")[1])
        second = float(wall(kernel, cold)[1].split("KERNEL ")[1])
        result["bm25_kernel_first_ever_s"] = round(first, 3)
        result["bm25_kernel_cached_s"] = round(second, 3)
    result["goals"] = {"help_s": "<= 0.5", "evaluate_dl19_s": "<= 2 (fresh process, after first use)"}
    emit(result, args.out)


if __name__ == "__main__":
    main()
