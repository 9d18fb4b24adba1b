"""FAISS HNSW and IVF against exact search on Vaswani with all-MiniLM-L6-v2: R@k of the approximate top k against the exact top k.

Runs the dense first stage of ``experiments/vaswani-dense.toml`` (its cached index is reused)
with ``index = "exact"``, ``"hnsw"`` (M=32, efConstruction=200, efSearch=256: the defaults)
and ``"ivf"`` (nlist 4·√N, nprobe 16: the defaults), and reports, per query and averaged,
the share of the exact top 100 (and top 1000) the approximate index returns, and the
queries/s of each search.

    BENCH_SHARED_DATA=../shared/data PYTHONPATH=. python benchmarks/dense_hnsw_recall.py --out benchmarks/results/dense_hnsw_recall.json
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile

from common import DEFAULT_DATA, ROOT, emit, machine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out")
    args = parser.parse_args()
    import faiss

    from bench import experiment
    from bench.config import load_toml
    from bench.trec import ranked, read_run

    config = load_toml(ROOT / "experiments" / "vaswani-dense.toml")
    dense = config.first_stages[0]
    runs, speed = {}, {}
    for index in ("exact", "hnsw", "ivf"):
        first = dataclasses.replace(dense, options={**dense.options, "index": index})
        one = dataclasses.replace(config, data_dir=str(DEFAULT_DATA), first_stage=first, first_stages=(), name=f"hnsw-{index}")
        with tempfile.TemporaryDirectory() as tmp:
            system = experiment.run(one, output=tmp).record["systems"][0]
            runs[index] = read_run(system["run_file"])
        stage = system["latency"]["stage"]
        speed[index] = stage["queries"] / stage["wall_s"]
    recall = {}
    for index in ("hnsw", "ivf"):
        for k in (100, 1000):
            shares = [len({d for d, _ in ranked(runs[index][q])[:k]} & {d for d, _ in ranked(runs["exact"][q])[:k]}) / k for q in runs["exact"]]
            recall[f"{index} R@{k}"] = sum(shares) / len(shares)
    emit({"benchmark": "dense_hnsw_recall", "machine": {**machine(), "faiss": faiss.__version__}, "queries": len(runs["exact"]),
          "recall_against_exact": recall, "search_queries_per_s": speed}, args.out)


if __name__ == "__main__":
    main()
