"""What a PyTerrier experiment's record holds so that ``bench reproduce`` can run it again.

An experiment made by :func:`bench.pyterrier.evaluate` is not a ``bench run`` config: its
systems are pipelines. The record's ``pyterrier`` section keeps each pipeline's factory
(import path, args, revision), the query ids when they are a subset of the collection's judged
ones, and, beside ``results.json``, the topics (``topics.tsv``) or qrels (``qrels.txt``) when
they are not the named collection's. Without a named collection both are written beside the
record as a local collection folder (``data/NAME``). A pipeline given as an object is recorded
by its ``repr`` only: such a record reports, and ``bench reproduce`` refuses it with the fix.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError

TOPICS_FILE = "topics.tsv"
QRELS_FILE = "qrels.txt"


@dataclasses.dataclass
class Source:
    """The collection (its rules and description), the queries and qrels evaluated, and where a reproduction finds them."""

    collection: Any
    ref: str  # the config's collection: a name, or a local folder
    data_dir: str | None
    collection_type: str | None
    experiment: str
    queries: dict[str, str]
    qids: list[str]
    qrels: dict[str, dict[str, int]]
    subset: bool = False
    topics_file: str | None = None
    qrels_file: str | None = None
    collection_dir: str | None = None


def _write_queries(path: Path, queries: dict[str, str], qids: list[str]) -> None:
    from ..store import write_text

    bad = next((q for q in qids if any(c in queries[q] for c in "\t\r\n")), None)
    if bad is not None:
        raise DataError(f"query {bad!r} contains a tab or a line break, which a topics file cannot hold; replace them with spaces")
    write_text(path, "".join(f"{q}\t{queries[q]}\n" for q in qids))


def _write_qrels(path: Path, qrels: dict[str, dict[str, int]]) -> None:
    from ..store import write_text
    from ..trec import qid_order

    write_text(path, "".join(f"{q} 0 {d} {label}\n" for q in qid_order(qrels) for d, label in qrels[q].items()))


def resolve_collection(collection: Any, data_dir: Any, collection_type: str | None, queries: dict[str, str] | None,
                       qrels: dict[str, dict[str, int]] | None, name: str | None, reports: Path, qids: list[str] | None = None) -> Source:
    """The collection to evaluate on and the queries and qrels that go with it (written beside the record when they must be)."""
    from ..collection import load
    from ..store import safe_name
    from ..trec import qid_order

    folder_dir = None
    if collection is not None and hasattr(collection, "collection") and hasattr(collection, "text_loader"):  # bench.pyterrier.dataset
        coll, ref, data_dir, collection_type = collection.collection, collection.name, collection.data_dir, collection.collection_type
    elif collection is not None:
        data_dir = os.path.abspath(data_dir) if data_dir else None
        coll, ref = load(str(collection), data_dir, collection_type=collection_type), str(collection)
    else:
        if queries is None or qrels is None:
            raise ConfigError("pass topics and qrels, or collection= (a bench collection name or folder) to take them from")
        experiment = safe_name(name or "pyterrier", "experiment name")
        folder = reports / experiment / "data" / experiment
        judged = [q for q in qid_order(qrels) if q in queries]
        _write_queries(folder / "queries.tsv", queries, judged)
        _write_qrels(folder / "qrels.txt", {q: qrels[q] for q in judged})
        coll, ref, data_dir = load(str(folder.resolve()), None, collection_type=collection_type), str(folder.resolve()), None
        queries = qrels = None
        folder_dir = f"data/{experiment}"
    experiment = safe_name(name or (f"{coll.name}-pyterrier" if folder_dir is None else coll.name), "experiment name")
    given_queries, given_qrels = queries, qrels
    queries = dict(given_queries) if given_queries is not None else dict(coll.queries)
    qrels = dict(given_qrels) if given_qrels is not None else dict(coll.qrels)
    judged = [q for q in qid_order(qrels) if q in queries and (qids is None or q in set(qids))]
    if not judged:
        raise DataError(f"no topic is judged in the qrels (e.g. topics {list(queries)[:3]}, qrels {list(qrels)[:3]}); check they belong together")
    source = Source(coll, ref, data_dir, collection_type, experiment, queries, judged, qrels, collection_dir=folder_dir)
    source.subset = judged != [q for q in qid_order(coll.qrels) if q in coll.queries]
    here = reports / experiment
    if given_queries is not None and any(coll.queries.get(q) != queries[q] for q in judged):
        _write_queries(here / TOPICS_FILE, queries, judged)
        source.topics_file = TOPICS_FILE
    if given_qrels is not None and any(coll.qrels.get(q) != qrels[q] for q in judged):
        _write_qrels(here / QRELS_FILE, {q: qrels[q] for q in judged})
        source.qrels_file = QRELS_FILE
    return source


def config_for(source: Source, experiment: str, measures: list[str], depth: int | None) -> Any:
    """The record's ``config``: plain bench config naming the collection, the measures and a ``pyterrier`` first stage."""
    from ..config import ExperimentConfig, FirstStageConfig

    return ExperimentConfig(collection=source.ref, name=experiment, data_dir=source.data_dir, collection_type=source.collection_type,
                            measures=tuple(measures), first_stage=FirstStageConfig(kind="pyterrier", depth=depth or 1000))


def section(source: Source, systems: list[Any], depth: int | None, queries_per_batch: int) -> dict[str, Any]:
    """The record's ``pyterrier`` section (see the module's docstring)."""
    from .factory import version

    return {"pipelines": [s.describe() for s in systems], "qids": source.qids if source.subset else None,
            "topics_file": source.topics_file, "qrels_file": source.qrels_file, "collection_dir": source.collection_dir,
            "depth": depth, "queries_per_batch": queries_per_batch, "version": version()}
