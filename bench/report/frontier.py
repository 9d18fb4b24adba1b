"""The Pareto frontier of effectiveness against latency: the systems worth considering.

A system is on the frontier when no other system is at least as fast and at least as
effective while strictly better in one of the two. Systems with equal coordinates are
all kept (neither dominates the other).
"""

from __future__ import annotations

from collections.abc import Sequence


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated points, lowest latency first; points are (latency, effectiveness)."""
    keep = []
    for i, (lat_i, eff_i) in enumerate(points):
        dominated = any(
            lat_j <= lat_i and eff_j >= eff_i and (lat_j < lat_i or eff_j > eff_i)
            for j, (lat_j, eff_j) in enumerate(points)
            if j != i
        )
        if not dominated:
            keep.append(i)
    return sorted(keep, key=lambda i: (points[i][0], -points[i][1]))
