"""Fraction of bf16 peak reached by the harness's forward path on a MiniLM-L12-shaped cross-encoder at 512 tokens.

A BertForSequenceClassification with MiniLM-L12-H384's shape (12 layers, hidden 384, 12 heads,
FFN 1536; random weights: speed does not depend on them) runs full 512-token batches through
the harness's own ``Reranker.run_batches`` (weights in bf16 via ``Reranker.place``, SDPA
attention, CUDA OOM halving), batch sizes doubling until memory or ``--max-batch``. FLOPs per
sequence count the matmuls: 2 x (QKV/output/FFN weights) x tokens per layer, plus attention
scores and weighted sum (4 x tokens^2 x hidden per layer), plus the head. The fraction is
achieved FLOP/s over ``--peak-tflops`` (dense bf16, from the GPU's datasheet: e.g. H100 SXM
989, H200 989, A100 312, L4 121).

    PYTHONPATH=. python benchmarks/gpu_peak.py --device cuda --peak-tflops 989 --out benchmarks/results/gpu_peak.json

On a CPU it runs too (``--device cpu --max-batch 4``), to check the script, not to quote.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from common import emit, machine

LAYERS, HIDDEN, HEADS, FFN, VOCAB = 12, 384, 12, 1536, 30522


def flops_per_sequence(tokens: int) -> float:
    per_layer = 2 * tokens * (4 * HIDDEN * HIDDEN + 2 * HIDDEN * FFN) + 4 * tokens * tokens * HIDDEN
    return float(LAYERS * per_layer + 2 * HIDDEN * HIDDEN + 2 * HIDDEN)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--max-batch", type=int, default=1024)
    parser.add_argument("--peak-tflops", type=float, required=True, help="the device's dense bf16 peak, TFLOP/s")
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--out")
    args = parser.parse_args()
    import tempfile
    from pathlib import Path

    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    from bench.device import synchronize
    from bench.rerankers import ModelSettings, create, locate
    from bench.rerankers.base import Batches

    with tempfile.TemporaryDirectory() as tmp:
        config = BertConfig(
            vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
            intermediate_size=FFN, max_position_embeddings=512, num_labels=1,
        )
        torch.manual_seed(0)
        BertForSequenceClassification(config).save_pretrained(tmp)
        vocab = Path(tmp) / "vocab.txt"
        vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *(f"w{i}" for i in range(1000))]) + "\n")
        BertTokenizerFast(vocab_file=str(vocab)).save_pretrained(tmp)
        reranker = create(locate(tmp), ModelSettings(device=args.device, dtype=args.dtype, batch_size=args.max_batch, max_length=512))
        reranker.load()
    rows: list[dict[str, Any]] = []
    batch = 1
    while batch <= args.max_batch:
        features = [{"input_ids": [2] + [5 + (i * 7 + j) % 900 for j in range(args.tokens - 2)] + [3]} for i in range(batch)]
        reranker.batch_size = batch
        batches = Batches.build(features, pad_id=0, size=batch)
        forward = lambda b: reranker.model(**b).logits[:, 0]  # noqa: E731
        try:
            reranker.run_batches(batches, forward)  # warm-up
            synchronize(args.device)
            started = time.perf_counter()
            for _ in range(args.iters):
                reranker.run_batches(batches, forward)
            synchronize(args.device)
        except Exception as exc:  # noqa: BLE001 - report where it stopped
            rows.append({"batch": batch, "error": str(exc).splitlines()[0][:120]})
            break
        if reranker.batch_size != batch:  # OOM halving kicked in: this size does not fit
            break
        seconds = (time.perf_counter() - started) / args.iters
        achieved = flops_per_sequence(args.tokens) * batch / seconds / 1e12
        rows.append({"batch": batch, "pairs_per_s": round(batch / seconds, 1), "tflops": round(achieved, 2),
                     "fraction_of_peak": round(achieved / args.peak_tflops, 3)})
        print(rows[-1], flush=True)
        batch *= 2
    best = max((r for r in rows if "tflops" in r), key=lambda r: r["tflops"], default=None)
    emit({"machine": machine(), "device": args.device, "dtype": args.dtype, "tokens": args.tokens,
          "model": "MiniLM-L12-H384 shape, BertForSequenceClassification", "peak_tflops": args.peak_tflops,
          "best": best, "batches": rows}, args.out)


if __name__ == "__main__":
    main()
