"""bench: an IR evaluation harness for BM25 first stages and neural rerankers.

``python -m bench run trec-dl-2019 --model M`` produces TREC runs, trec_eval-exact
metrics (computed with ranx) and latency tables. Importing this package loads nothing
heavy; :func:`load_results` and the report functions import what they need on use.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "load_results"]


def load_results(path: str) -> Any:
    """A results record as a pandas DataFrame (one row per system and measure)."""
    from .results import load_results as _load

    return _load(path)
