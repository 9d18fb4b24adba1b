"""First stages, by name in :data:`FIRST_STAGES`: ``bm25``, ``dense`` (a bi-encoder) over the corpus, the given ``candidates``, ``fusion``.

A first stage is a :class:`~bench.stages.Stage` whose input is the query set. Its class
has ``Options`` (a frozen dataclass: ``[first_stage.options]``, checked here before any
work), ``from_config(config, collection, options)`` and ``unavailable(collection)`` (why it
cannot run on a collection, or None). ``auto`` picks one with :func:`choose`. Adding a first
stage is one file plus one :data:`FIRST_STAGES` line. An experiment may have several
(``[first_stage]`` then ``[[first_stages]]``, :func:`create_all`); ``fusion`` reads earlier ones.
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
        "dense": "bench.first_stage.dense.stage:DenseStage",
        "fusion": "bench.first_stage.fusion:FusionStage",
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


def create(config: Any, collection: Any, first: Any = None, where: str = "first_stage") -> Any:
    """A first stage of an experiment (``first``: one of its first-stage tables, default ``[first_stage]``), options checked.

    ``[first_stage.bm25]`` (BM25's parameters under their older name) is merged into the
    options of the ``bm25`` stage; for any other first stage it is an error. ``name`` replaces
    the stage's own system name.
    """
    import dataclasses

    from ..options import build_options

    first = config.first_stage if first is None else first
    kind = choose(first.kind, collection)
    cls = FIRST_STAGES.get(kind)
    table = dict(first.options)
    if first.bm25 and kind == "bm25":
        table = {**first.bm25, **table}
    elif first.bm25 and _sets_bm25(first.bm25):  # records written before plain-data configs hold BM25's defaults here
        raise ConfigError(f"[{where}.bm25] sets BM25 parameters, but the first stage is {kind}; drop it or use --first-stage bm25")
    if first.model and kind != "dense":
        raise ConfigError(f"{where}: model = {first.model!r} is for a dense first stage; set kind = \"dense\" or drop it")
    if first.inputs and kind != "fusion":
        raise ConfigError(f"{where}: inputs are for a fusion first stage; set kind = \"fusion\" or drop them")
    options = build_options(getattr(cls, "Options", None) or _no_options(), table, f"{where}.options ({kind})")
    stage = cls.from_config(dataclasses.replace(config, first_stage=first), collection, options)  # from_config reads config.first_stage
    if first.name:
        stage.name = first.name
    return stage


def create_all(config: Any, collection: Any) -> list[Any]:
    """Every first stage in order: ``[first_stage]``, then each ``[[first_stages]]`` table; names unique, inputs earlier."""
    stages: list[Any] = []
    tables = [("first_stage", config.first_stage), *((f"first_stages[{i}]", t) for i, t in enumerate(config.first_stages))]
    for where, first in tables:
        stage = create(config, collection, first, where)
        names = [s.name for s in stages]
        if stage.name in names:
            raise ConfigError(f"{where}: two first stages are named {stage.name!r}; give this one name = \"...\"")
        for source in getattr(stage, "inputs", ()):
            if source not in names:
                earlier = ", ".join(names) or "none: put the fusion after them, in [[first_stages]]"
                raise ConfigError(f"{where} ({stage.name}): input {source!r} is not an earlier first stage; earlier ones: {earlier}")
        stages.append(stage)
    return stages


def _sets_bm25(table: dict[str, Any]) -> bool:
    """Whether a ``[first_stage.bm25]`` table differs from BM25's defaults."""
    from ..options import build_options
    from .bm25 import Bm25Params

    return bool(build_options(Bm25Params, table, "first_stage.bm25") != Bm25Params())


def _no_options() -> type:
    from ..options import NoOptions

    return NoOptions
