"""BM25 query speed: the harness's retrieval against rank-bm25 and raw bm25s, same corpus, same queries.

Corpus: the synthetic MS MARCO-shaped passages of ``synthetic.py`` (default 200k, where
rank-bm25 is still feasible). Every side tokenises each query itself (timed) and returns
its top 10; the harness also at its default depth 1000.

* harness: ``bench.first_stage.bm25.retrieve`` over ``Bm25sIndex.cached`` (memory-mapped, numba kernel);
* rank-bm25: ``BM25Okapi.get_scores`` + argsort (Lucene idf, as bench.first_stage.bm25.RankBm25Index);
* raw bm25s: ``BM25.retrieve`` with its default numpy backend.

"Same top 10" compares the harness with bench's rank-bm25 reference backend ranked in the
same trec_eval order (score, then doc id descending); rank-bm25 scores in float64 and bm25s
in float32, so a near-tie can swap two documents, which is reported, not hidden.

    PYTHONPATH=. python benchmarks/bm25_speed.py --docs 200000 --queries 500 --rank-bm25-queries 50
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from common import emit, machine, median
from synthetic import passages, queries, vocabulary


def per_query_ms(fn: Any, items: list[str]) -> list[float]:
    out = []
    for item in items:
        started = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - started) * 1000.0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--rank-bm25-queries", type=int, default=50, help="rank-bm25 is slow: time it on the first N queries")
    parser.add_argument("--out")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import bm25s
    import numpy as np

    from bench.first_stage.bm25 import Bm25Params, Bm25sIndex, RankBm25Index, retrieve
    from bench.trec import ranked

    words = vocabulary()
    docs = list(passages(args.docs, words=words))
    qs = queries(args.queries, words=words)
    qids = list(qs)
    params = Bm25Params()
    result: dict[str, Any] = {"machine": machine(), "documents": args.docs, "queries": args.queries}

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        index = Bm25sIndex.cached(docs, f"synthetic-{args.docs}", params, root=Path(tmp))
        result["harness_index_build_s"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        index = Bm25sIndex.load(index.path, params)
        result["harness_index_load_s"] = round(time.perf_counter() - started, 3)
        started = time.perf_counter()
        index.search(["warm"], 10)  # numba kernel: loaded from its on-disk cache (compiled on first ever use)
        result["harness_kernel_load_s"] = round(time.perf_counter() - started, 3)
        harness10, lat10 = retrieve(index, qs, 10)
        harness1000, lat1000 = retrieve(index, qs, 1000)

        tokenizer = index.tokenizer
        texts = [text for _, text in docs]
        raw = bm25s.BM25(k1=params.k1, b=params.b, method=params.method)
        raw.index(bm25s.tokenize(texts, stopwords=tokenizer.stopwords, stemmer=tokenizer.stemmer, show_progress=False), show_progress=False)

        def raw_bm25s(qid: str) -> Any:
            tokens = bm25s.tokenize([qs[qid]], stopwords=tokenizer.stopwords, stemmer=tokenizer.stemmer, show_progress=False)
            return raw.retrieve(tokens, k=10, show_progress=False, n_threads=1)

        raw_ms = per_query_ms(raw_bm25s, qids)

        reference = RankBm25Index(docs, params)
        sample = qids[: args.rank_bm25_queries]

        def rank_bm25(qid: str) -> Any:
            scores = reference.model.get_scores(reference.tokenizer.tokens([qs[qid]])[0])
            return np.argsort(-scores, kind="stable")[:10]

        rank_ms = per_query_ms(rank_bm25, sample)
        ref_run, _ = retrieve(reference, {q: qs[q] for q in sample}, 10)

    same_list = sum([d for d, _ in ranked(harness10[q])] == [d for d, _ in ranked(ref_run[q])] for q in sample)
    same_set = sum({d for d in harness10[q]} == {d for d in ref_run[q]} for q in sample)
    same_1000_prefix = sum([d for d, _ in ranked(harness1000[q])][:10] == [d for d, _ in ranked(harness10[q])] for q in qids)
    h10, h1000, r_ms, b_ms = median(list(lat10.values())), median(list(lat1000.values())), median(rank_ms), median(raw_ms)
    result.update(
        {
            "median_ms_per_query": {
                "harness_top10": round(h10, 3),
                "harness_top1000": round(h1000, 3),
                "rank_bm25_top10": round(r_ms, 1),
                "raw_bm25s_numpy_top10": round(b_ms, 3),
            },
            "harness_queries_per_s_top1000": round(1000.0 / h1000, 1),
            "speedup_vs_rank_bm25_top10": round(r_ms / h10, 1),
            "speedup_vs_rank_bm25_top1000": round(r_ms / h1000, 1),
            "speedup_vs_raw_bm25s_top10": round(b_ms / h10, 2),
            "same_top10_list_as_rank_bm25": f"{same_list}/{len(sample)}",
            "same_top10_set_as_rank_bm25": f"{same_set}/{len(sample)}",
            "top1000_starts_with_top10": f"{same_1000_prefix}/{len(qids)}",
        }
    )
    emit(result, args.out)


if __name__ == "__main__":
    main()
