"""Latency summaries.

Per-query timings (milliseconds) become p50/p95/p99/mean and throughput. Timers around
model calls synchronise the device first (see ``rerankers.device.synchronize``), so GPU
work is measured, not kernel launches. Model load and warm-up are reported apart and
never mixed into per-query numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def summarize(per_query_ms: Mapping[str, float], pairs: int | None = None) -> dict[str, Any] | None:
    """p50/p95/p99/mean ms per query, total seconds and (when pairs are given) pairs per second."""
    import numpy as np

    if not per_query_ms:
        return None
    values = np.fromiter(per_query_ms.values(), dtype=np.float64)
    total_s = float(values.sum() / 1000.0)
    out: dict[str, Any] = {
        "queries": int(values.size),
        "p50_ms": float(np.percentile(values, 50)),
        "p95_ms": float(np.percentile(values, 95)),
        "p99_ms": float(np.percentile(values, 99)),
        "mean_ms": float(values.mean()),
        "total_s": total_s,
    }
    if pairs is not None:
        out["pairs"] = int(pairs)
        out["pairs_per_s"] = float(pairs / total_s) if total_s > 0 else None
    return out


def combine(first_stage_ms: Mapping[str, float] | None, rerank_ms: Mapping[str, float]) -> dict[str, float]:
    """End-to-end ms per query: first stage plus rerank (first stage alone when precomputed)."""
    first = first_stage_ms or {}
    return {qid: first.get(qid, 0.0) + ms for qid, ms in rerank_ms.items()}
