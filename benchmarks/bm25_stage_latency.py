"""BM25 first-stage latency as the results record reports it, before and after the stage contract.

Before the seams the BM25 query kernel's first load (numba's cache, the tokeniser's first
call) landed in the first query's time, so the mean per query overstated BM25's cost. The
stage now times index load and a warm-up query apart. This runs ``bench run FOLDER
--first-stage bm25`` on a synthetic 100k-passage collection with 50 queries, with the code
before the seams (``git archive`` of that commit) and with this checkout, in one run, each in
a fresh process with the index already cached, and reports the first query's ms, p50 and mean.

    python benchmarks/bm25_stage_latency.py [--docs 100000] [--queries 50] [--out benchmarks/results/bm25_stage_latency.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from common import emit, machine
from synthetic import passages, queries

ROOT = Path(__file__).resolve().parents[1]
BEFORE_SEAMS = "0834e614cd1adba9b354f5a93b58ad49a982a59e"


def make_collection(folder: Path, docs: int, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    qs = queries(count)
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as fh:
        ids = []
        for doc_id, text in passages(docs):
            fh.write(json.dumps({"doc_id": doc_id, "text": text}) + "\n")
            ids.append(doc_id)
    (folder / "queries.tsv").write_text("".join(f"{q}\t{t}\n" for q, t in qs.items()), encoding="utf-8")
    (folder / "qrels.txt").write_text("".join(f"{q} 0 {ids[i * 997 % len(ids)]} 1\n" for i, q in enumerate(qs)), encoding="utf-8")


def one(pythonpath: Path, folder: Path, output: Path, cache: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath), "BENCH_CACHE_DIR": str(cache)}
    cmd = [sys.executable, "-m", "bench", "-q", "run", str(folder), "--first-stage", "bm25", "--output", str(output), "--force"]
    subprocess.run(cmd, cwd=output.parent, env=env, check=True, capture_output=True)  # not ROOT: `-m` puts the cwd first on sys.path
    record = json.loads(next(output.glob("reports/*/results.json")).read_text())
    latency = record["systems"][0]["latency"]
    per_query = latency.get("stage_ms") or latency.get("first_stage_ms")
    first_qid = next(iter(per_query))
    values = sorted(per_query.values())
    return {
        "schema_version": record["schema_version"],
        "first_query_ms": per_query[first_qid],
        "max_ms": values[-1],
        "second_largest_ms": values[-2],
        "p50_ms": latency["p50_ms"],
        "mean_ms": latency["mean_ms"],
        "load_s": latency.get("load_s"),
        "warmup_s": latency.get("warmup_s"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--out")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-bm25-latency-") as tmp:
        root = Path(tmp)
        folder = root / "synthetic"
        make_collection(folder, args.docs, args.queries)
        old = root / "old"
        old.mkdir()
        archive = subprocess.run(["git", "archive", BEFORE_SEAMS, "bench"], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        cache_old, cache_new = root / "cache-old", root / "cache-new"
        one(old, folder, root / "warm-old", cache_old)  # builds the index and numba's cache once
        one(ROOT, folder, root / "warm-new", cache_new)
        before = one(old, folder, root / "before", cache_old)
        after = one(ROOT, folder, root / "after", cache_new)
    emit({"machine": machine(), "docs": args.docs, "queries": args.queries, "before_seams": before, "after_seams": after,
          "mean_over_p50": {"before": before["mean_ms"] / before["p50_ms"], "after": after["mean_ms"] / after["p50_ms"]}}, args.out)


if __name__ == "__main__":
    main()
