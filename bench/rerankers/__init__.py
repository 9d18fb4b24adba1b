"""Reranker families, found by name in :data:`FAMILIES` or recognised from the model folder.

``create(located, settings, kind, options)`` returns an unloaded :class:`Reranker` of the
named family; ``kind="auto"`` asks every family how sure it is that the folder is one of
its own (:meth:`Reranker.recognises`) and takes the most specific. Adding a family is one
file with a :class:`Reranker` subclass plus one :data:`FAMILIES` line (or
``FAMILIES.register(...)`` from anywhere). Nothing heavy is imported until a model loads.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from ..models.locate import LocatedModel, locate
from ..registry import Registry
from .base import ModelSettings, Reranker

FAMILIES: Registry[type[Reranker]] = Registry(
    "reranker kind",
    {
        "cross-encoder": "bench.rerankers.cross_encoder:CrossEncoder",
        "bi-encoder": "bench.rerankers.bi_encoder:BiEncoder",
        "seq2seq": "bench.rerankers.seq2seq:Seq2Seq",
        "causal-lm": "bench.rerankers.causal_lm:CausalLM",
        "late-interaction": "bench.rerankers.late_interaction:LateInteraction",
        "listwise": "bench.rerankers.listwise.family:Listwise",
        "pairwise": "bench.rerankers.pairwise:Pairwise",
        "setwise": "bench.rerankers.setwise:Setwise",
        "pyterrier": "bench.pyterrier.ranker:PyTerrierRanker",  # a pipeline from a factory (the pyterrier extra)
    },
)


def detect(located: LocatedModel) -> str:
    """The family for ``kind = "auto"``: the one that recognises the folder most specifically."""
    scores = [(FAMILIES.get(name).recognises(located), name) for name in FAMILIES]
    best = max((score for score, _ in scores), default=0)
    if best <= 0:
        raise ConfigError(
            f"model {located.spec!r}: no reranker kind recognises {located.path}; set kind (one of {', '.join(FAMILIES.names())})"
        )
    tied = [name for score, name in scores if score == best]
    if len(tied) > 1:
        raise ConfigError(f"model {located.spec!r} could be {' or '.join(tied)}; set kind (--kind or kind = ...) to choose")
    return tied[0]


def family(kind: str, located: LocatedModel) -> type[Reranker]:
    """The family class for ``kind`` (``auto``: detected)."""
    return FAMILIES.get(detect(located) if kind == "auto" else kind)


def create(located: LocatedModel, settings: ModelSettings, kind: str = "auto", options: Any = None) -> Reranker:
    """An unloaded reranker of the given (or detected) family."""
    cls = family(kind, located)
    return cls(located, settings, options)


__all__ = ["FAMILIES", "LocatedModel", "ModelSettings", "Reranker", "create", "detect", "family", "locate"]
