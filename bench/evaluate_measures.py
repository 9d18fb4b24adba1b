"""Which measures and qrels ``bench evaluate`` uses: a collection's official set, or defaults with a note.

TREC DL counts label >= 2 as relevant for its official RR, AP and recall; the defaults
count label >= 1. On DL qrels the two differ a lot (Anserini's BM25 on DL19: RR@10
0.8233 vs the official RR(rel=2)@10 0.7024), so graded qrels without a named measure
set get a one-line note saying so.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from .errors import ConfigError
from .measures import DEFAULT_MEASURES, DL_MEASURES, Measure, parse_measures
from .trec import Qrels, read_qrels

log = logging.getLogger("bench")


def _is_local(name: str, data_dir: str | os.PathLike[str] | None) -> bool:
    from .collection import ALIASES
    from .collection import data_dir as default_data_dir

    root = default_data_dir(data_dir)
    names = (name, ALIASES.get(name, name).replace("/", "__"))
    return Path(name).is_dir() or (root is not None and any((root / n).is_dir() for n in names))


def collection_rules(name: str, data_dir: str | os.PathLike[str] | None, collection_type: str | None,
                     need_qrels: bool) -> tuple[tuple[str, ...], Qrels | None, Any]:
    """A collection's official measures, its qrels (when loaded) and what its evaluation rules need.

    A local copy is loaded; so is an ir_datasets collection when its qrels are needed (which
    may download). With ``--qrels`` given, an alias or ir_datasets id needs no download: its
    family (measures and rules) is known from the name.
    """
    from .collection import ALIASES, load, unknown_collection
    from .collection.official import family_for

    if need_qrels or _is_local(name, data_dir):
        collection = load(name, data_dir, collection_type=collection_type)
        return collection.measures, collection.qrels, collection
    dataset_id = ALIASES.get(name, name)
    if name not in ALIASES:
        import ir_datasets

        if dataset_id not in ir_datasets.registry._registered:  # type: ignore[attr-defined]
            raise unknown_collection(name)
    family = family_for(dataset_id, collection_type)
    return family.measures, None, SimpleNamespace(family=family.name, groups=None)


def graded_note(qrels: Qrels) -> str | None:
    """One line when the qrels hold graded labels (2 or more) and the default measures count label >= 1."""
    top = max((label for docs in qrels.values() for label in docs.values()), default=0)
    if top < 2:
        return None
    return (f"note: these qrels have graded labels (up to {top}); RR, AP and R here count label >= 1 as relevant, while TREC DL's "
            f"official MRR/MAP/recall count label >= 2 (use --collection trec-dl-2019 or --measures {' '.join(DL_MEASURES)})")


def choose(qrels_path: str | None, measures: list[str] | None, collection: str | None,
           data_dir: str | None, collection_type: str | None = None) -> tuple[Qrels, list[Measure], Any]:
    """Qrels, measures and the collection's rules for ``bench evaluate``: --measures, else --collection's official set, else the defaults."""
    official: tuple[str, ...] | None = None
    collection_qrels: Qrels | None = None
    rules: Any = None
    if collection:
        official, collection_qrels, rules = collection_rules(collection, data_dir, collection_type, need_qrels=not qrels_path)
    if qrels_path:
        qrels = read_qrels(qrels_path)
    elif collection_qrels is not None:
        qrels = collection_qrels
    else:
        where = f"collection {collection!r} has no local copy; pass its qrels" if collection else "pass a TREC qrels file"
        raise ConfigError(f"no qrels: {where} with --qrels FILE (or --collection with a local folder / --data-dir)")
    chosen = measures or list(official or DEFAULT_MEASURES)
    if not measures and not collection:
        note = graded_note(qrels)
        if note:
            log.info("%s", note)
    return qrels, parse_measures(chosen), rules
