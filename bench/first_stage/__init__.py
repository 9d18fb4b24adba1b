"""First stages, by name in :data:`FIRST_STAGES`: ``bm25`` over the corpus, or the collection's given ``candidates``.

A first stage is a :class:`~bench.stages.Stage` whose input is the query set. Its class
has ``Options`` (a frozen dataclass: ``[first_stage.options]``, checked here before any
work), ``from_config(config, collection, options)`` and ``unavailable(collection)`` (why it
cannot run on a collection, or None). ``auto`` picks one with :func:`choose`. Adding a first
stage (dense retrieval, say) is one file plus one :data:`FIRST_STAGES` line.
"""

from __future__ import annotations

import logging
from typing import Any

from ..errors import ConfigError
from ..registry import Registry

log = logging.getLogger(__name__)

FIRST_STAGES: Registry[Any] = Registry(
    "first stage",
    {
        "bm25": "bench.first_stage.bm25_stage:Bm25Stage",
        "candidates": "bench.first_stage.candidates:CandidatesStage",
        "pyterrier": "bench.pyterrier.stage:PyTerrierStage",  # a pipeline from a factory (the pyterrier extra)
    },
)


def choose(kind: str, collection: Any) -> str:
    """The first stage to run: ``kind``, or for ``auto`` a local folder's given candidates, else BM25 over the corpus."""
    if kind != "auto" and kind not in FIRST_STAGES:
        raise ConfigError(f"unknown first stage {kind!r}; use one of auto, {', '.join(FIRST_STAGES.names())}")
    if kind == "auto":
        local = collection.source.startswith("local:")
        unranked = getattr(collection, "candidates_unranked", False)
        if collection.candidates is not None and (local or collection.docs is None):
            kind = "candidates"
            why = f"the collection's given candidates {collection.candidates_name}"
            why += ", which are unranked (every score is equal): rerank the whole set" if unranked else ""
        elif collection.docs is not None:
            kind = "bm25"
            why = "an ir_datasets collection with documents: BM25 over its corpus"
            if collection.candidates is not None:
                state = "are unranked (every score is equal)" if unranked else "are ranked"
                why += f"; its official candidates ({collection.candidates_name}) {state}, used only with --first-stage candidates"
        else:
            raise ConfigError(f"collection {collection.name!r} has neither a corpus nor candidates; nothing to rank")
        log.info("first stage: %s (auto: %s)", kind, why)
    reason = FIRST_STAGES.get(kind).unavailable(collection)
    if reason:
        raise ConfigError(reason)
    return kind


def create(config: Any, collection: Any) -> Any:
    """The first stage of an experiment, its options checked, ready to run.

    ``[first_stage.bm25]`` (BM25's parameters under their older name) is merged into the
    options of the ``bm25`` stage; for any other first stage it is an error.
    """
    from ..options import build_options

    first = config.first_stage
    kind = choose(first.kind, collection)
    cls = FIRST_STAGES.get(kind)
    table = dict(first.options)
    if first.bm25:
        if kind != "bm25":
            raise ConfigError(f"[first_stage.bm25] sets BM25 parameters, but the first stage is {kind}; drop it or use --first-stage bm25")
        table = {**first.bm25, **table}
    options = build_options(getattr(cls, "Options", None) or _no_options(), table, f"first_stage.options ({kind})")
    return cls.from_config(config, collection, options)


def _no_options() -> type:
    from ..options import NoOptions

    return NoOptions
