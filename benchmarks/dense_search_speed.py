"""Search throughput at 1M synthetic vectors: the dense stage's exact search against FAISS's flat index.

One million random unit vectors (``--dim``, default 384, fp32, seeded) and ``--queries`` random
unit queries; both sides return the top ``--k`` (default 1000, the first stage's depth) by
inner product, over the same in-memory matrix, with torch's and FAISS's own threads (the
machine's cores):

* harness: :func:`bench.first_stage.dense.search.exact_search` (blocks of 16 queries ×
  65,536 vectors, top k in trec_eval's order);
* peer: ``faiss.IndexFlatIP`` (``faiss-cpu``) searched with the same queries in one call.

Agreement: the share of the harness's top k that FAISS returns. HNSW is not built here (one
thread builds it in tens of minutes at this size); its recall is measured on Vaswani
(tests/test_dense_vaswani.py, slow).

    PYTHONPATH=. python benchmarks/dense_search_speed.py --out benchmarks/results/dense_search_speed.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from common import emit, machine, median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=256)
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out")
    args = parser.parse_args()
    import faiss
    import numpy as np
    import torch

    from bench.first_stage.dense.index import DenseIndex

    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((args.vectors, args.dim), dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    queries = rng.standard_normal((args.queries, args.dim), dtype=np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    ids = np.char.add("d", np.arange(args.vectors).astype(str))
    index = DenseIndex(Path("."), {"storage": "float32"}, ids, torch.from_numpy(matrix))
    flat = faiss.IndexFlatIP(args.dim)
    flat.add(matrix)
    from bench.first_stage.dense.search import exact_search

    exact_search(index, queries[:16], args.k)  # warm-up
    flat.search(queries[:32], args.k)
    figures: dict[str, list[float]] = {"bench exact": [], "faiss flat": []}
    for _ in range(args.repeat):
        started = time.perf_counter()
        ours = exact_search(index, queries, args.k)
        figures["bench exact"].append(len(queries) / (time.perf_counter() - started))
        started = time.perf_counter()
        _, found = flat.search(queries, args.k)
        figures["faiss flat"].append(len(queries) / (time.perf_counter() - started))
    overlap = float(np.mean([len(set(docs) & set(ids[found[i]].tolist())) / args.k for i, (docs, _) in enumerate(ours)]))
    emit({
        "benchmark": "dense_search_speed",
        "machine": {**machine(), "faiss": faiss.__version__, "faiss_threads": faiss.omp_get_max_threads()},
        "vectors": args.vectors, "dim": args.dim, "queries": args.queries, "k": args.k,
        "queries_per_s": {k: {"median": median(v), "runs": v} for k, v in figures.items()},
        "ratio_exact_to_faiss": median([a / b for a, b in zip(figures["bench exact"], figures["faiss flat"])]),
        "top_k_overlap": overlap,
    }, args.out)


if __name__ == "__main__":
    main()
