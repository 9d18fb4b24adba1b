"""duoT5 pairs/s: bench's ``pairwise`` family against rank_llm 0.25.7's pairwise loop, same pairs, same device.

Random weights in the duoT5-base shape (t5-base; benchmarks/make_random_models.py --only pairwise),
DL19's BM25 top ``--k`` of the first ``--queries`` judged queries, fp32 on the CPU. rank_llm scores
only the pairs i < j (``PairwiseRankLLM.rerank_batch``), so both sides run those pairs:
bench with ``aggregation = "half"`` (rank_llm's aggregation), rank_llm's ``rerank_batch`` with
``DuoT5.run_llm_batched`` (``generate`` of one token with scores, batches of ``--batch-size``
pairs of one query, padded to the longest). bench tokenises each pair once, sorts the pairs of
all queries by length, and runs one decoder step (no ``generate``). Loading and one warm-up call
are excluded; each side runs ``--repeat`` times, alternating, and the medians are compared.

rank_llm imports vLLM from two package ``__init__`` files that its pairwise code does not use;
they are skipped as in tests/test_pairwise.py, and its ``T5Tokenizer`` is pointed at
``AutoTokenizer`` (the random model's tokenizer is a fast BPE, which transformers 5's Unigram
``T5Tokenizer`` cannot read).

    PYTHONPATH=. python benchmarks/duot5_speed.py --out benchmarks/results/duot5_speed.json
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import types
from pathlib import Path
from typing import Any

from common import DEFAULT_DATA, ROOT, dl19_pairs, emit, machine, median, timed

log = logging.getLogger("duot5_speed")


def rank_llm_duot5() -> Any:
    import rank_llm
    from transformers import AutoTokenizer

    for name in ("rank_llm.rerank", "rank_llm.rerank.listwise"):
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = [str(Path(rank_llm.__file__).parent.joinpath(*name.split(".")[1:]))]
            sys.modules[name] = package
    module = importlib.import_module("rank_llm.rerank.pairwise.duot5")
    module.T5Tokenizer = AutoTokenizer
    return module.DuoT5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "scratch" / "models" / "duot5-base-msmarco-random"))
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--queries", type=int, default=3)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    import torch

    from bench.ranking import Request
    from bench.rerankers import ModelSettings, locate
    from bench.rerankers.pairwise import Pairwise, PairwiseOptions

    collection, qids, ids, texts = dl19_pairs(Path(args.data), args.k)
    qids = qids[: args.queries]
    requests = [Request(q, collection.queries[q], tuple(ids[q]), tuple(texts[q])) for q in qids]
    pairs = sum(len(r) * (len(r) - 1) // 2 for r in requests)

    settings = ModelSettings(device="cpu", dtype="float32", batch_size=args.batch_size, max_length=512)
    mine = Pairwise(locate(args.model), settings, PairwiseOptions(k=args.k, aggregation="half"))
    mine.load()
    mine.rank(mine.prepare(requests[:1]))  # warm-up

    from rank_llm.data import Candidate, Query
    from rank_llm.data import Request as RLRequest

    peer = rank_llm_duot5()(args.model, device="cpu", batch_size=args.batch_size)
    peer_requests = [RLRequest(Query(r.query, r.qid), [Candidate(d, 0.0, {"contents": t}) for d, t in zip(r.doc_ids, r.texts)]) for r in requests]
    peer.rerank_batch(peer_requests[:1])  # warm-up

    bench_s, peer_s = [], []
    with torch.inference_mode():
        for _ in range(args.repeat):
            rankings, t = timed(lambda: mine.rank(mine.prepare(requests)))
            bench_s += t
            results, t = timed(lambda: peer.rerank_batch(peer_requests))
            peer_s += t
    same_top = sum(r.order()[:3] == [c.docid for c in res.candidates][:3] for r, res in zip(rankings, results))
    payload = {
        "benchmark": "duoT5 pairs/s, bench pairwise (half) vs rank_llm 0.25.7 PairwiseRankLLM.rerank_batch",
        "machine": machine(),
        "model": Path(args.model).name, "queries": len(requests), "k": args.k, "pairs": pairs, "batch_size": args.batch_size,
        "dtype": "float32", "repeat": args.repeat,
        "bench_s": [round(x, 3) for x in bench_s], "rank_llm_s": [round(x, 3) for x in peer_s],
        "bench_pairs_per_s": round(pairs / median(bench_s), 2), "rank_llm_pairs_per_s": round(pairs / median(peer_s), 2),
        "speedup": round(median(peer_s) / median(bench_s), 2),
        "queries_with_same_top3": same_top,
        "note": "random weights: rankings are compared only as a sanity check (rank_llm pads without an attention mask, so its scores move)",
    }
    emit(payload, args.out)


if __name__ == "__main__":
    main()
