"""Initial orders: the same ranker run on its candidates as given, reversed, or shuffled, and the spread that results.

A pointwise family scores each pair alone, so its metrics cannot depend on the order its
candidates arrive in; a listwise one slides windows over that order, so they can
(``--initial-order input|reversed|shuffle:SEED``, repeatable). Each order is its own stage
(``<system>+reversed``, ``<system>+shuffle-7``), whose key holds the order (the input order
adds nothing, so its runs keep their hash). A shuffle is seeded per query
(``random.Random("SEED/qid")``): the same candidates in the same order on every run and worker.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import Any, TypeVar

from .errors import ConfigError

T = TypeVar("T")
INPUT = "input"
_ORDER = re.compile(r"^(input|reversed|shuffle:(\d+))$")


def check(order: str) -> str:
    if not isinstance(order, str) or not _ORDER.match(order):
        raise ConfigError(f"initial order {order!r}: use input, reversed or shuffle:SEED (SEED a whole number, e.g. shuffle:1)")
    return order


def suffix(order: str) -> str:
    """What the system name of a stage run in this order ends with (nothing for the input order)."""
    return "" if order == INPUT else "+" + order.replace(":", "-")


def permute(order: str, qid: str, items: Sequence[T]) -> list[T]:
    """``items`` (one query's candidates, best first) in the initial order ``order``."""
    if order == INPUT:
        return list(items)
    if order == "reversed":
        return list(reversed(items))
    out = list(items)
    random.Random(f"{order.split(':', 1)[1]}/{qid}").shuffle(out)
    return out


def robustness(systems: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    """Per system run in several initial orders: each order's metrics and the spread (max - min), and a note per system."""
    groups: dict[str, dict[str, dict[str, Any]]] = {}
    for system in systems:
        info = system.get("info") or {}
        if "initial_order" in info:
            groups.setdefault(info["order_of"], {})[info["initial_order"]] = system
    summary: dict[str, Any] = {}
    notes = []
    for base, by_order in groups.items():
        if len(by_order) < 2:
            continue
        measures = [m for m in next(iter(by_order.values()))["metrics"] if all(s["metrics"].get(m) is not None for s in by_order.values())]
        metrics = {order: {m: s["metrics"][m] for m in measures} for order, s in by_order.items()}
        spread = {m: max(v[m] for v in metrics.values()) - min(v[m] for v in metrics.values()) for m in measures}
        summary[base] = {"systems": {order: s["name"] for order, s in by_order.items()}, "metrics": metrics, "spread": spread}
        if measures:
            m = measures[0]
            values = ", ".join(f"{metrics[o][m]:.4f} ({o})" for o in by_order)
            notes.append(f"Initial order: {base} {m} {values}; spread {spread[m]:.4f}"
                         + (" (the same in every order)" if all(v == 0 for v in spread.values()) else "") + ".")
    return summary, notes
