"""Reranker families' throughput: bench's ``score_stream`` against each family's reference loop, same pairs.

Random weights in the real shapes (benchmarks/make_random_models.py), DL19's BM25 top-100 pairs
in run order (the first ``--queries`` judged queries of a family, ``--depth`` pairs each), fp32
on both sides so that the rankings can be compared exactly (bench in bf16, its default on a CPU
with bf16 units, is timed too, with its Kendall tau against fp32):

* seq2seq (monoT5-base shape): rerankers' ``T5Ranker._get_scores`` (InRanker's loop);
* causal-lm (Qwen3-Reranker-0.6B shape): the model card's own ``process_inputs`` /
  ``compute_logits`` code over chunks of ``--batch-size`` pairs (rerankers has no Qwen3 ranker);
* late-interaction (answerai-colbert-small shape): sentence-transformers' ``MultiVectorEncoder``
  (``encode_query`` / ``encode_document`` / ``similarity``; PyLate itself could not be installed
  beside this torch).

Both sides use the same batch size; loading and one warm-up call are excluded. Reported:
pairs/s of each, the ratio, max |score difference| and whether every query's ranking is identical.

    PYTHONPATH=. python benchmarks/families_speed.py --out benchmarks/results/families_speed.json
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from pathlib import Path
from typing import Any

from common import DEFAULT_DATA, ROOT, dl19_pairs, emit, machine

log = logging.getLogger("families_speed")

QWEN3_PREFIX = (
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the Instruct provided. "
    'Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n'
)
QWEN3_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"


def peer_seq2seq(folder: Path, batch_size: int) -> Any:
    import torch
    from rerankers.models.t5ranker import T5Ranker

    ranker = T5Ranker(str(folder), batch_size=batch_size, dtype=torch.float32, device="cpu", verbose=0)
    return lambda query, docs: ranker._get_scores(query, docs)


def peer_causal_lm(folder: Path, batch_size: int, max_length: int = 512) -> Any:
    """The Qwen3-Reranker model card's code, run over chunks of ``batch_size`` pairs."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    false_id, true_id = tokenizer.convert_tokens_to_ids("no"), tokenizer.convert_tokens_to_ids("yes")
    prefix = tokenizer.encode(QWEN3_PREFIX, add_special_tokens=False)
    suffix = tokenizer.encode(QWEN3_SUFFIX, add_special_tokens=False)

    def score(query: str, docs: list[str]) -> list[float]:
        out: list[float] = []
        for at in range(0, len(docs), batch_size):
            pairs = [f"<Instruct>: {INSTRUCTION}\n<Query>: {query}\n<Document>: {d}" for d in docs[at : at + batch_size]]
            inputs = tokenizer(pairs, padding=False, truncation="longest_first", return_attention_mask=False, max_length=max_length - len(prefix) - len(suffix))
            for i, ele in enumerate(inputs["input_ids"]):
                inputs["input_ids"][i] = prefix + ele + suffix
            inputs = tokenizer.pad(inputs, padding=True, return_tensors="pt", max_length=max_length)
            with torch.no_grad():
                logits = model(**inputs).logits[:, -1, :]
                pair = torch.nn.functional.log_softmax(torch.stack([logits[:, false_id], logits[:, true_id]], dim=1), dim=1)
            out.extend((pair[:, 1] - pair[:, 0]).tolist())  # log-odds, the card's log P(yes) made comparable
        return out

    return score


def peer_late_interaction(folder: Path, batch_size: int) -> Any:
    from sentence_transformers import MultiVectorEncoder

    model = MultiVectorEncoder(str(folder), device="cpu")

    def score(query: str, docs: list[str]) -> list[float]:
        q = model.encode_query([query], batch_size=batch_size)
        d = model.encode_document(docs, batch_size=batch_size)
        return model.similarity(q, d)[0].tolist()

    return score


PEER_SCALE = {"seq2seq": math.exp}
PEERS = {"seq2seq": peer_seq2seq, "causal-lm": peer_causal_lm, "late-interaction": peer_late_interaction}
DEFAULT_QUERIES = {"seq2seq": 2, "causal-lm": 1, "late-interaction": 10}
DEFAULT_DEPTH = {"seq2seq": 100, "causal-lm": 24, "late-interaction": 100}
FOLDERS = {"seq2seq": "monot5-base-msmarco-random", "causal-lm": "qwen3-reranker-0.6b-random", "late-interaction": "answerai-colbert-small-v1-random"}


def bench_reranker(kind: str, folder: Path, batch_size: int, dtype: str = "float32") -> Any:
    from bench.rerankers import ModelSettings, create, locate

    settings = ModelSettings(device="cpu", dtype=dtype, batch_size=batch_size, max_length=512)
    reranker = create(locate(str(folder)), settings, kind=kind)
    reranker.load()
    reranker.warmup()
    return reranker


def run_family(kind: str, folder: Path, queries: dict[str, str], texts: dict[str, list[str]], batch_size: int, repeat: int) -> dict[str, Any]:
    from scipy.stats import kendalltau

    qids = list(texts)
    pairs = sum(len(texts[q]) for q in qids)
    reranker = bench_reranker(kind, folder, batch_size)
    peer = PEERS[kind](folder, batch_size)
    peer(queries[qids[0]], texts[qids[0]][:4])  # warm-up
    rows = []
    for _ in range(repeat):  # alternate so load changes hit both sides alike
        started = time.perf_counter()
        ref = {q: peer(queries[q], texts[q]) for q in qids}
        peer_s = time.perf_counter() - started
        started = time.perf_counter()
        ours = dict(reranker.score_stream((q, queries[q], texts[q]) for q in qids))
        bench_s = time.perf_counter() - started
        rows.append((peer_s, bench_s))
    best_peer, best_bench = min(r[0] for r in rows), min(r[1] for r in rows)
    scale = PEER_SCALE.get(kind, lambda x: x)  # T5Ranker returns P(true), bench log P(true)
    diff = max(abs(scale(a) - b) for q in qids for a, b in zip(ours[q], ref[q], strict=True))
    identical = sum(1 for q in qids if _order(ours[q]) == _order(ref[q]))
    tau = sum(float(kendalltau(ours[q], ref[q]).statistic) for q in qids) / len(qids)
    described = reranker.describe()
    del reranker, peer
    # bench's default on a CPU with bf16 units (--dtype auto): bf16 weights; its ranking against fp32
    fast = bench_reranker(kind, folder, batch_size, "bfloat16")
    started = time.perf_counter()
    low = dict(fast.score_stream((q, queries[q], texts[q]) for q in qids))
    bf16_s = time.perf_counter() - started
    tau_bf16 = sum(float(kendalltau(low[q], ours[q]).statistic) for q in qids) / len(qids)
    del fast
    return {
        "kind": kind,
        "model_shape": folder.name,
        "parameters": described["parameters"],
        "queries": len(qids),
        "pairs": pairs,
        "batch_size": batch_size,
        "dtype": "float32",
        "peer_pairs_per_s": round(pairs / best_peer, 2),
        "bench_pairs_per_s": round(pairs / best_bench, 2),
        "ratio": round(best_peer / best_bench, 2),
        "seconds": [[round(p, 2), round(b, 2)] for p, b in rows],
        "bench_bf16_pairs_per_s": round(pairs / bf16_s, 2),
        "ratio_bf16": round(best_peer / bf16_s, 2),
        "mean_kendall_tau_bf16_vs_fp32": round(tau_bf16, 4),
        "max_abs_score_diff": diff,
        "identical_rankings": f"{identical}/{len(qids)}",
        "mean_kendall_tau_vs_peer": round(tau, 6),
    }


def _order(scores: list[float]) -> list[int]:
    return sorted(range(len(scores)), key=lambda i: -scores[i])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=str(ROOT / "scratch" / "models"))
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--family", choices=sorted(PEERS), action="append")
    parser.add_argument("--queries", type=int, help="judged queries per family (default: 3 seq2seq, 1 causal-lm, 10 late-interaction)")
    parser.add_argument("--depth", type=int, help="BM25 candidates per query (default: 100; 24 for causal-lm)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--out")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    collection, qids, _, texts = dl19_pairs(Path(args.data))
    results = []
    for kind in args.family or list(PEERS):
        n, depth = args.queries or DEFAULT_QUERIES[kind], args.depth or DEFAULT_DEPTH[kind]
        subset = {q: texts[q][:depth] for q in qids[:n]}
        log.info("%s: %d queries x %d pairs", kind, n, depth)
        results.append(run_family(kind, Path(args.models) / FOLDERS[kind], collection.queries, subset, args.batch_size, args.repeat))
        log.info("%s", results[-1])
    emit({"benchmark": "families_speed", "machine": machine(), "results": results}, args.out)


if __name__ == "__main__":
    main()
