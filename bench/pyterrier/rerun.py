"""``bench reproduce`` for a record made by :func:`bench.pyterrier.evaluate`: its pipelines rebuilt from their factories."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import ConfigError


def rerun(expected: dict[str, Any], record_path: str | os.PathLike[str], data_dir: str | None, output: str | os.PathLike[str]) -> dict[str, Any]:
    """Run a PyTerrier record's pipelines again from their factories (``bench reproduce``); the new record."""
    from ..trec import read_qrels
    from .experiment import run
    from .factory import PipelineOptions

    section_ = expected["pyterrier"]
    config = expected.get("config") or {}
    here = Path(record_path).resolve().parent
    pipelines: dict[str, Any] = {}
    for p in section_["pipelines"]:
        if not p.get("factory"):
            raise ConfigError(f"{record_path}: pipeline {p['name']!r} was evaluated as an object ({p.get('object')}), which cannot be rebuilt; "
                              "pass it to bench.pyterrier.evaluate as \"module:function\" (or {'factory': ..., 'args': ...}) to make the record reproducible")
        pipelines[p["name"]] = PipelineOptions(p["factory"], dict(p.get("args") or {}), p.get("revision"))
    collection: Any = config.get("collection")
    if section_.get("collection_dir"):
        collection = str(here / section_["collection_dir"])
    if not data_dir:
        data_dir = config.get("data_dir")
    queries = None
    if section_.get("topics_file"):
        from ..collection.local import _read_queries

        queries = _read_queries(here / section_["topics_file"])
    qrels = read_qrels(here / section_["qrels_file"]) if section_.get("qrels_file") else None
    made = run(pipelines, queries, qrels, list(expected.get("measures") or []) or None, None, collection=collection, data_dir=data_dir,
               collection_type=config.get("collection_type"), name=expected.get("name"), output=output, depth=section_.get("depth"),
               queries_per_batch=int(section_.get("queries_per_batch") or 1), force=True, qids=section_.get("qids"))
    return made.record
