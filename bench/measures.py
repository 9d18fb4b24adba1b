"""Measure names: the vocabulary every output keys metrics by (ir_measures' syntax), and the standard sets.

Any measure ir_measures can name is accepted (``nDCG@20``, ``RR(rel=2)@10``, ``Judged@10``,
``Bpref``, ``P(rel=2)@10``, ``ERR@20`` ...): ir_measures parses it, so numbers from bench,
ir_measures and papers line up. A parsed :class:`Measure` says who computes it
(:mod:`bench.evaluate`): ranx where ranx has the measure with these parameters (``metric``),
else ir_measures' providers. The relevance level is a per-measure parameter: it decides
which labels count as relevant for binary measures and never shifts the graded gains nDCG
uses. This module is a leaf: it imports nothing from bench but its errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError

# ir_measures measure name -> ranx metric; ranx computes a measure when its only parameters are these
_RANX: dict[str, str] = {
    "nDCG": "ndcg",
    "RR": "mrr",
    "AP": "map",
    "R": "recall",
    "P": "precision",
    "Rprec": "r-precision",
    "Success": "hit_rate",
}
_RANX_PARAMS = {"cutoff", "rel"}
_NEEDS_CUTOFF = {"R", "P", "Success", "Judged"}
_GRADED = {"nDCG"}  # graded gains: a rel= parameter would not mean what the user expects

DL_MEASURES = ("nDCG@10", "RR(rel=2)", "RR(rel=2)@10", "AP(rel=2)", "R(rel=2)@100", "R(rel=2)@1000", "Judged@10")
DEFAULT_MEASURES = ("nDCG@10", "RR@10", "AP", "R@100", "R@1000")
EXAMPLES = "nDCG@10, RR(rel=2)@10, AP, R@1000, P@10, Judged@10, Bpref"


@dataclass(frozen=True)
class Measure:
    """One evaluation measure: the name as written, ir_measures' family and parameters, and ranx's metric when it has it."""

    name: str
    family: str
    cutoff: int | None
    rel: int
    metric: str | None = None  # ranx's metric when ranx computes it, else None (ir_measures' providers do)
    params: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def ranx_name(self) -> str | None:
        """ranx's spelling, e.g. ``mrr@10-l2`` (for logs and for users cross-checking with ranx)."""
        if self.metric is None:
            return None
        cut = f"@{self.cutoff}" if self.cutoff else ""
        lvl = f"-l{self.rel}" if self.rel != 1 else ""
        return f"{self.metric}{cut}{lvl}"

    @property
    def provider(self) -> str:
        return "ranx" if self.metric else "ir_measures"

    def __str__(self) -> str:
        return self.name


def parse_measure(text: str) -> Measure:
    """Parse an ir_measures name (aliases become its canonical name); anything it cannot name is a one-line error."""
    import ir_measures

    name = text.strip()
    try:
        parsed = ir_measures.parse_measure(name)
    except Exception:  # ir_measures raises NameError, ValueError, SyntaxError ... for names it does not know
        raise ConfigError(f"unknown measure {text!r}; use ir_measures names such as {EXAMPLES}") from None
    family = str(parsed.NAME)
    params = dict(parsed.params)
    if "rel" in params and family in _GRADED:
        raise ConfigError(f"measure {text!r}: {family} uses graded labels and takes no rel= parameter")
    unknown = sorted(set(params) - set(parsed.SUPPORTED_PARAMS))
    if unknown:
        raise ConfigError(f"measure {text!r}: {family} has no parameter {unknown[0]!r}; its parameters: {', '.join(parsed.SUPPORTED_PARAMS)}")
    name = str(parsed)  # ir_measures' canonical spelling: MAP is AP, MRR@10 is RR@10, so one measure has one key
    cutoff = params.get("cutoff")
    if family in _NEEDS_CUTOFF and not cutoff:
        raise ConfigError(f"measure {text!r} needs a cut-off, e.g. {family}@100")
    if cutoff is not None and int(cutoff) <= 0:
        raise ConfigError(f"measure {text!r}: the cut-off must be positive")
    rel = int(params.get("rel", 1))
    if rel < 1:
        raise ConfigError(f"measure {text!r}: rel must be at least 1")
    ranx = _RANX.get(family) if set(params) <= _RANX_PARAMS else None
    return Measure(name=name, family=family, cutoff=int(cutoff) if cutoff else None, rel=rel, metric=ranx, params=params)


def parse_measures(texts: list[str] | tuple[str, ...]) -> list[Measure]:
    """Parse a list of measure names, refusing duplicates and empty lists."""
    if not texts:
        raise ConfigError("no measures given; name at least one, e.g. --measures nDCG@10")
    measures = [parse_measure(t) for t in texts]
    names = [m.name for m in measures]
    if len(set(names)) != len(names):
        raise ConfigError(f"measure listed twice in {names}")
    return measures
