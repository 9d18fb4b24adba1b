"""bench: an IR evaluation harness for BM25 first stages and neural rerankers.

``python -m bench run trec-dl-2019 --model M`` produces TREC runs, trec_eval-exact
metrics (computed with ranx) and latency tables. Importing this package loads nothing
heavy; :func:`load_results`, :func:`load_per_query` and the report functions import what they need on use.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "load_per_query", "load_results"]


def load_results(path: str) -> Any:
    """A results record as a pandas DataFrame (one row per system and measure)."""
    from .results import load_results as _load

    return _load(path)


def load_per_query(path: str, baseline: str | None = None, text: bool = True) -> Any:
    """A record's per-query values as a DataFrame: value, baseline value and Δ per (query, system, measure)."""
    from .report.per_query import load_per_query as _load

    return _load(path, baseline, text)
