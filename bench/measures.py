"""Measure objects named in ir_measures syntax, mapped onto ranx metrics.

Every output of the harness keys metrics by these names (``nDCG@10``, ``RR(rel=2)@10``,
``AP(rel=2)``, ``R(rel=2)@1000`` ...), so numbers from bench, ir_measures and papers line
up. The relevance level is a per-measure parameter: it decides which labels count as
relevant for binary measures and never shifts the graded gains that nDCG uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ConfigError

# ir_measures name -> (ranx metric, whether a cut-off is required, whether rel= is allowed)
_MEASURES: dict[str, tuple[str, bool, bool]] = {
    "nDCG": ("ndcg", False, False),
    "RR": ("mrr", False, True),
    "AP": ("map", False, True),
    "R": ("recall", True, True),
    "P": ("precision", True, True),
    "Rprec": ("r-precision", False, True),
    "Success": ("hit_rate", True, True),
}

_PATTERN = re.compile(r"^(?P<name>[A-Za-z]+)(?:\(rel=(?P<rel>\d+)\))?(?:@(?P<cutoff>\d+))?$")

DL_MEASURES = ("nDCG@10", "RR(rel=2)", "RR(rel=2)@10", "AP(rel=2)", "R(rel=2)@100", "R(rel=2)@1000")
DEFAULT_MEASURES = ("nDCG@10", "RR@10", "AP", "R@100", "R@1000")


@dataclass(frozen=True)
class Measure:
    """One evaluation measure: its ir_measures name and the ranx call that computes it."""

    name: str
    metric: str
    cutoff: int | None
    rel: int

    @property
    def ranx_name(self) -> str:
        """ranx's spelling, e.g. ``mrr@10-l2`` (for logs and for users cross-checking with ranx)."""
        cut = f"@{self.cutoff}" if self.cutoff else ""
        lvl = f"-l{self.rel}" if self.rel != 1 else ""
        return f"{self.metric}{cut}{lvl}"

    def __str__(self) -> str:
        return self.name


def parse_measure(text: str) -> Measure:
    """Parse ``nDCG@10``, ``RR(rel=2)@10``, ``AP(rel=2)`` ...; unknown names raise a one-line error."""
    match = _PATTERN.match(text.strip())
    if not match or match["name"] not in _MEASURES:
        known = ", ".join(_MEASURES)
        raise ConfigError(f"unknown measure {text!r}; use ir_measures names such as nDCG@10, RR(rel=2)@10, AP, R@1000 (known: {known})")
    name = match["name"]
    metric, needs_cutoff, allows_rel = _MEASURES[name]
    cutoff = int(match["cutoff"]) if match["cutoff"] else None
    if needs_cutoff and not cutoff:
        raise ConfigError(f"measure {text!r} needs a cut-off, e.g. {name}@100")
    if cutoff == 0:
        raise ConfigError(f"measure {text!r}: the cut-off must be positive")
    if match["rel"] and not allows_rel:
        raise ConfigError(f"measure {text!r}: {name} uses graded labels and takes no rel= parameter")
    rel = int(match["rel"]) if match["rel"] else 1
    if rel < 1:
        raise ConfigError(f"measure {text!r}: rel must be at least 1")
    return Measure(name=text.strip(), metric=metric, cutoff=cutoff, rel=rel)


def parse_measures(texts: list[str] | tuple[str, ...]) -> list[Measure]:
    """Parse a list of measure names, refusing duplicates and empty lists."""
    if not texts:
        raise ConfigError("no measures given; name at least one, e.g. --measures nDCG@10")
    measures = [parse_measure(t) for t in texts]
    names = [m.name for m in measures]
    if len(set(names)) != len(names):
        raise ConfigError(f"measure listed twice in {names}")
    return measures


def official_measures(collection_id: str, collection_type: str | None = None) -> tuple[str, ...]:
    """The official measure set of a collection's family (the table is :mod:`bench.collection.official`)."""
    from .collection.official import family_for

    return family_for(collection_id, collection_type).measures
