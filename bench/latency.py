"""Latency summaries.

Per-query timings (milliseconds) become p50/p95/p99/mean and throughput. Timers around
model calls synchronise the device first (see ``bench.device.synchronize``), so GPU
work is measured, not kernel launches. Model load and warm-up are reported apart and
never mixed into per-query numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def summarize(per_query_ms: Mapping[str, float], pairs: int | None = None, wall_s: float | None = None) -> dict[str, Any] | None:
    """p50/p95/p99/mean ms per query, total seconds and (when pairs are given) pairs per second.

    ``wall_s`` is the stage's wall time; pairs/s is pairs over it (several workers overlap
    their queries, so the per-query times then add up to more than the wall time).
    """
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
    if wall_s is not None:
        out["wall_s"] = float(wall_s)
    if pairs is not None:
        seconds = wall_s if wall_s is not None else total_s
        out["pairs"] = int(pairs)
        out["pairs_per_s"] = float(pairs / seconds) if seconds > 0 else None
    return out


def cumulative(input_ms: Mapping[str, float] | None, own_ms: Mapping[str, float] | None, qids: list[str]) -> dict[str, float] | None:
    """What a query costs through a cascade up to this stage: its input's cumulative ms plus this stage's own."""
    if not input_ms and not own_ms:
        return None
    first, own = input_ms or {}, own_ms or {}
    return {qid: first.get(qid, 0.0) + own.get(qid, 0.0) for qid in qids}
