"""Reading a large TREC run: ``bench.trec.read_run`` against pytrec_eval's ``parse_run``.

A synthetic run the shape of an MS MARCO dev run (6,980 queries x 1,000 docs, ~246 MB) is
written once to a temporary folder, then read alternately by

* the peer, ``pytrec_eval.parse_run(open(path))`` (a plain ``line.split()`` loop that checks
  nothing but duplicates);
* bench, ``bench.trec.read_run(path)`` (comment and blank lines, extra fields, non-numeric and
  non-finite scores, duplicates, ASCII-blank splitting);
* optionally a previous bench checkout (``--previous DIR``, e.g. ``git worktree add DIR f0507ab``):
  its ``read_run`` imported under another package name.

Figures are the median of ``--repeat`` alternations; the ratio is taken per repetition.

    PYTHONPATH=. python benchmarks/read_run.py --out benchmarks/results/read_run.json
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

from common import emit, machine, median, timed


def write_run(path: Path, queries: int, depth: int) -> None:
    rng = random.Random(0)
    with path.open("w", encoding="utf-8") as fh:
        for q in range(queries):
            qid = str(1_000_000 + 7 * q)
            docs = rng.sample(range(8_841_823), depth)
            fh.write("".join(f"{qid} Q0 {d} {r} {20.0 - r * 0.01!r} bm25\n" for r, d in enumerate(docs, start=1)))


def previous_reader(folder: Path) -> Any:
    """``read_run`` of another checkout, as package ``bench_previous`` (its relative imports stay inside it)."""
    spec = importlib.util.spec_from_file_location("bench_previous", folder / "bench" / "__init__.py",
                                                  submodule_search_locations=[str(folder / "bench")])
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_previous"] = module
    spec.loader.exec_module(module)
    return importlib.import_module("bench_previous.trec").read_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=6980)
    parser.add_argument("--depth", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--previous", type=Path, help="another bench checkout whose read_run is timed too")
    parser.add_argument("--out")
    args = parser.parse_args()

    import pytrec_eval

    from bench.trec import read_run

    readers: dict[str, Any] = {
        "pytrec_eval.parse_run": lambda path: pytrec_eval.parse_run(open(path, encoding="utf-8")),
        "bench.trec.read_run": read_run,
    }
    if args.previous:
        readers["previous bench read_run"] = previous_reader(args.previous)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.trec"
        write_run(path, args.queries, args.depth)
        size = path.stat().st_size
        times: dict[str, list[float]] = {name: [] for name in readers}
        sizes = {}
        for _ in range(args.repeat):
            for name, reader in readers.items():
                run, (seconds,) = timed(lambda reader=reader: reader(path))
                times[name].append(seconds)
                sizes[name] = sum(map(len, run.values()))
                del run
    assert len(set(sizes.values())) == 1, sizes
    peer = times["pytrec_eval.parse_run"]
    emit({
        "machine": machine(),
        "run": {"queries": args.queries, "depth": args.depth, "lines": sizes["bench.trec.read_run"], "bytes": size},
        "seconds": {name: {"median": round(median(t), 2), "all": [round(x, 2) for x in t]} for name, t in times.items()},
        "ratio_to_peer": {name: round(median([p / x for p, x in zip(peer, t)]), 2) for name, t in times.items()},
    }, args.out)


if __name__ == "__main__":
    main()
