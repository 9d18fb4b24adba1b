"""BM25 at scale: index time, peak memory and query rate at 1M and 2M synthetic passages, projected to 8.8M.

For each size the synthetic MS MARCO-shaped corpus (``synthetic.py``) is written once to a
JSONL file; a fresh process then streams it through ``Bm25sIndex.cached`` (the harness's
build path) and reports wall time and peak resident memory (``ru_maxrss`` of that process
alone), and another fresh process loads the index (memory-mapped) and runs queries at
depth 1000 and 10. MS MARCO's 8,841,823 passages are projected linearly from the 1M->2M
step (``t(8.8M) = t(2M) + (t(2M) - t(1M)) * 6.84``): index arrays grow with postings, i.e.
linearly; the vocabulary grows more slowly (Heaps' law), so a linear projection is on the
high side.

    PYTHONPATH=. python benchmarks/bm25_scale.py --sizes 1000000 2000000 --out benchmarks/results/bm25_scale.json
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

from common import ROOT, emit, machine

MS_MARCO = 8_841_823

BUILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
from bench.first_stage.bm25 import Bm25Params, Bm25sIndex

def docs(path):
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            yield row["doc_id"], row["text"]

started = time.perf_counter()
index = Bm25sIndex.cached(docs({corpus!r}), "synthetic-{size}", Bm25Params(), root=__import__("pathlib").Path({cache!r}))
wall = time.perf_counter() - started
size = sum(f.stat().st_size for f in index.path.iterdir())
print(json.dumps({{"build_s": wall, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "index_mb": size / 2**20, "postings": int(index.retriever.scores["data"].size),
                  "vocabulary": len(index.retriever.vocab_dict)}}))
"""

QUERY = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r}); sys.path.insert(0, {bench!r})
from bench.first_stage.bm25 import Bm25Params, Bm25sIndex, retrieve
from synthetic import queries
qs = queries({queries})
started = time.perf_counter()
index = Bm25sIndex.cached(None, "synthetic-{size}", Bm25Params(), root=__import__("pathlib").Path({cache!r}))
index.search(["warm"], 10)
load = time.perf_counter() - started
out = {{"load_s": load}}
for k in (1000, 10):
    started = time.perf_counter()
    run, lat = retrieve(index, qs, k)
    wall = time.perf_counter() - started
    out[f"queries_per_s_top{{k}}"] = len(qs) / wall
    out[f"p50_ms_top{{k}}"] = sorted(lat.values())[len(lat) // 2]
started = time.perf_counter()
run, lat = retrieve(index, qs, 1000, threads=2)
out["queries_per_s_top1000_2threads"] = len(qs) / (time.perf_counter() - started)
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def run_python(code: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 2_000_000])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--workdir", help="keep corpora and indexes here (default: a temporary folder)")
    parser.add_argument("--out")
    args = parser.parse_args()
    from synthetic import passages, vocabulary

    result: dict[str, Any] = {"machine": machine(), "sizes": {}}
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        words = vocabulary()
        for size in args.sizes:
            corpus = Path(tmp) / f"corpus-{size}.jsonl"
            with open(corpus, "w", encoding="utf-8") as fh:
                for doc_id, text in passages(size, words=words):
                    fh.write(json.dumps({"doc_id": doc_id, "text": text}) + "\n")
            cache = str(Path(tmp) / "cache")
            fmt = {"root": str(ROOT), "bench": str(Path(__file__).parent), "corpus": str(corpus), "cache": cache, "size": size}
            build = run_python(BUILD.format(**fmt))
            query = run_python(QUERY.format(queries=args.queries, **fmt))
            result["sizes"][str(size)] = {"build": build, "query": query, "load_avg": [round(x, 2) for x in os.getloadavg()]}
            print(json.dumps({size: result["sizes"][str(size)]}), flush=True)
            corpus.unlink()
            for folder in (Path(cache) / "bm25").iterdir():
                if folder.is_dir():
                    import shutil

                    shutil.rmtree(folder)
    if len(args.sizes) >= 2:
        lo, hi = sorted(args.sizes)[:2]
        a, b = result["sizes"][str(lo)], result["sizes"][str(hi)]
        steps = (MS_MARCO - hi) / (hi - lo)

        def project(x: float, y: float) -> float:
            return y + (y - x) * steps

        result["projection_8.8M"] = {
            "build_min": round(project(a["build"]["build_s"], b["build"]["build_s"]) / 60, 1),
            "peak_rss_gb": round(project(a["build"]["peak_rss_mb"], b["build"]["peak_rss_mb"]) / 1024, 2),
            "index_gb": round(project(a["build"]["index_mb"], b["build"]["index_mb"]) / 1024, 2),
            "queries_per_s_top1000": round(
                1 / project(1 / a["query"]["queries_per_s_top1000"], 1 / b["query"]["queries_per_s_top1000"]), 1
            ),
            "queries_per_s_top1000_2threads": round(
                1 / project(1 / a["query"]["queries_per_s_top1000_2threads"], 1 / b["query"]["queries_per_s_top1000_2threads"]), 1
            ),
            "goal": "build <= 10 min, peak memory <= 8 GB, >= 100 queries/s",
        }
    emit(result, args.out)


if __name__ == "__main__":
    main()
