"""Reranking throughput: the harness's default path against sentence-transformers' CrossEncoder.predict.

Both sides score the same pairs (each DL19 judged query's BM25 top-100, in run order) with the
same cross-encoder folder: all-MiniLM-L6-v2's weights plus a seeded random 1-logit head (the
architecture of cross-encoder/ms-marco-MiniLM-L-6-v2, see common.minilm_cross_encoder).

* peer: ``CrossEncoder(folder).predict(pairs)`` with its defaults (batch 32, fp32, its own
  length sort), one call over all pairs;
* harness: ``bench.engines.local.LocalEngine`` (the loop ``bench run`` uses, partial file included) with a
  reranker built from the default ``RerankerConfig`` (device/dtype ``auto``, batch 32, 512 tokens).

Runs alternate (peer, harness, harness fp32, ...) ``--repeat`` times so load changes hit all
sides alike; the ratio is taken per repetition and its median reported. Model loading and one
warm-up call are excluded on both sides.

Agreement: the default (bf16 where the CPU has it) scores are compared with fp32 scores of the
same model: nDCG@10 on DL19, Kendall tau per query and top-10 overlap. For this random-head
cross-encoder only agreement means anything; ``--quality`` adds the real trained model here,
the all-MiniLM-L6-v2 bi-encoder, whose fp32 and default nDCG@10 are both meaningful.

    PYTHONPATH=. python benchmarks/rerank_speed.py --repeat 3 --out benchmarks/results/rerank_speed.json
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from common import DEFAULT_DATA, dl19_pairs, emit, machine, median, minilm_cross_encoder, minilm_folder


def harness_reranker(model: str, **overrides: Any) -> Any:
    """A loaded, warmed-up reranker with the harness's default settings (plus overrides)."""
    from bench.config import ExperimentConfig, RerankerConfig
    from bench.experiment import _settings
    from bench.rerankers import create, locate

    config = RerankerConfig(model=model, **overrides)
    settings = _settings(config, ExperimentConfig(collection="trec-dl-2019"))
    reranker = create(locate(model), settings)
    reranker.load()
    reranker.warmup()
    return reranker


def run_harness(reranker: Any, collection: Any, qids: list[str], top_k: int = 100) -> tuple[dict[str, dict[str, float]], float, float]:
    """The in-process engine's loop (what ``bench run`` uses, partial file included) over the queries.

    Returns (run of reranked top-k, wall seconds, sum of per-query ms / 1000). The already
    loaded ``reranker`` is reused (its load and warm-up are not part of the loop).
    """
    from bench.engines.local import LocalEngine
    from bench.partial import PartialRun
    from bench.rerankers.stage import RerankStage
    from bench.stages import Job

    stage = RerankStage("bench", reranker.located, reranker.kind, reranker.options, reranker.settings, top_k, None)
    stage.create = lambda device=None: _Loaded(reranker)  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        out = LocalEngine.run(stage, Job(collection, qids, Path(tmp)), collection.candidates, PartialRun(Path(tmp) / "run.partial", "bench"))
        wall = time.perf_counter() - started
    top = {q: dict(list(sorted(out.run[q].items(), key=lambda kv: -kv[1]))[:top_k]) for q in qids}
    return top, wall, sum(out.latency_ms.values()) / 1000.0


class _Loaded:
    """An already loaded reranker behind the engine's create/load/warmup calls (they become no-ops)."""

    def __init__(self, reranker: Any):
        self._r = reranker

    def load(self) -> None:
        pass

    def warmup(self) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._r, name)


def agreement(a: dict[str, dict[str, float]], b: dict[str, dict[str, float]], qrels: Any) -> dict[str, Any]:
    """nDCG@10 of both runs (ranx via bench.evaluate), mean Kendall tau per query and mean top-10 overlap."""
    from scipy.stats import kendalltau

    from bench.evaluate import compute as evaluate
    from bench.measures import parse_measures
    from bench.trec import ranked

    measures = parse_measures(["nDCG@10"])
    judged = {q: qrels[q] for q in a}
    ndcg_a = evaluate(judged, a, measures).metrics["nDCG@10"]
    ndcg_b = evaluate(judged, b, measures).metrics["nDCG@10"]
    taus, overlaps = [], []
    for qid in a:
        docs = sorted(a[qid])
        taus.append(float(kendalltau([a[qid][d] for d in docs], [b[qid][d] for d in docs]).statistic))
        top_a = {d for d, _ in ranked(a[qid])[:10]}
        top_b = {d for d, _ in ranked(b[qid])[:10]}
        overlaps.append(len(top_a & top_b) / 10)
    return {
        "ndcg@10_a": round(ndcg_a, 4),
        "ndcg@10_b": round(ndcg_b, 4),
        "ndcg@10_abs_diff": round(abs(ndcg_a - ndcg_b), 4),
        "kendall_tau_mean": round(sum(taus) / len(taus), 4),
        "kendall_tau_min": round(min(taus), 4),
        "top10_overlap_mean": round(sum(overlaps) / len(overlaps), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--queries", type=int, help="only the first N judged queries (quick runs)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-fp32", action="store_true", help="skip the harness fp32 row (and the agreement check)")
    parser.add_argument("--quality", action="store_true", help="also DL19 nDCG@10 of the real MiniLM bi-encoder, fp32 vs default")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import os

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    from sentence_transformers import CrossEncoder

    folder = str(minilm_cross_encoder())
    collection, qids, ids, texts = dl19_pairs(args.data)
    qids = qids[: args.queries] if args.queries else qids
    pairs = [(collection.queries[q], t) for q in qids for t in texts[q]]

    peer = CrossEncoder(folder)
    peer.predict(pairs[:32])  # warm-up, like the harness's
    default = harness_reranker(folder)
    fp32 = None if args.no_fp32 else harness_reranker(folder, dtype="float32")
    result: dict[str, Any] = {
        "machine": machine(),
        "model": "all-MiniLM-L6-v2 weights + seeded random 1-logit head (BertForSequenceClassification)",
        "pairs": len(pairs),
        "queries": len(qids),
        "peer": {"call": "CrossEncoder(folder).predict(pairs)", "device": str(peer.device), "batch_size": 32, "dtype": "float32"},
        "harness": {k: default.describe()[k] for k in ("device", "dtype", "batch_size", "max_length")},
        "repeats": [],
    }
    peer_scores = None
    runs: dict[str, Any] = {}
    for rep in range(args.repeat):
        row: dict[str, Any] = {"load_avg": [round(x, 2) for x in os.getloadavg()]}
        started = time.perf_counter()
        with torch.inference_mode():
            peer_scores = peer.predict(pairs)
        row["peer_pairs_per_s"] = len(pairs) / (time.perf_counter() - started)
        runs["default"], wall, per_query_s = run_harness(default, collection, qids)
        row["harness_pairs_per_s"] = len(pairs) / wall
        row["harness_per_query_sum_over_wall"] = round(per_query_s / wall, 4)
        if fp32 is not None:
            runs["fp32"], wall32, _ = run_harness(fp32, collection, qids)
            row["harness_fp32_pairs_per_s"] = len(pairs) / wall32
        row["ratio"] = row["harness_pairs_per_s"] / row["peer_pairs_per_s"]
        result["repeats"].append({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()})
        print(f"repeat {rep + 1}: {result['repeats'][-1]}", flush=True)
    reps = result["repeats"]
    result["median"] = {
        "peer_pairs_per_s": round(median([r["peer_pairs_per_s"] for r in reps]), 1),
        "harness_pairs_per_s": round(median([r["harness_pairs_per_s"] for r in reps]), 1),
        "ratio": round(median([r["ratio"] for r in reps]), 2),
    }
    if fp32 is not None:
        result["median"]["harness_fp32_pairs_per_s"] = round(median([r["harness_fp32_pairs_per_s"] for r in reps]), 1)
        result["median"]["harness_fp32_ratio"] = round(
            median([r["harness_fp32_pairs_per_s"] / r["peer_pairs_per_s"] for r in reps]), 2
        )
        result["agreement_default_vs_fp32"] = agreement(runs["default"], runs["fp32"], collection.qrels)
    assert peer_scores is not None
    flat = iter(peer_scores.tolist())
    peer_run = {q: {d: next(flat) for d in ids[q]} for q in qids}
    result["agreement_default_vs_peer"] = agreement(runs["default"], peer_run, collection.qrels)
    if fp32 is not None:  # same model, same pairs: the harness's fp32 path ranks as CrossEncoder.predict does
        result["agreement_fp32_vs_peer"] = agreement(runs["fp32"], peer_run, collection.qrels)
    if args.quality:
        bi = str(minilm_folder())
        bi_default = harness_reranker(bi)
        bi_fp32 = harness_reranker(bi, dtype="float32")
        run_default, _, _ = run_harness(bi_default, collection, qids)
        run_fp32, _, _ = run_harness(bi_fp32, collection, qids)
        quality = agreement(run_default, run_fp32, collection.qrels)
        result["quality_minilm_bi_encoder"] = {"dtype_default": bi_default.settings.dtype, **quality}
    emit(result, args.out)


if __name__ == "__main__":
    main()
