"""Test collections: one interface over ir_datasets ids and local folders.

A :class:`Collection` gives queries, qrels, document text by id, the documents for
indexing, optional first-stage candidates and the official measures. Local folders
hold ``queries.tsv`` (qid TAB text), ``qrels.txt`` (TREC qrels), ``corpus.jsonl``
(``{"doc_id", "text"}``, optional ``"title"``) and optional ``run.*.trec`` candidates.
A name that matches a subfolder of ``--data-dir`` (or ``$BENCH_DATA_DIR``) uses that
local copy; otherwise ir_datasets loads it (and may download it).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..store import slug
from .base import Collection, Documents, doc_text
from .local import load_local
from .names import ALIASES, BEIR_PUBLIC, unknown_collection

log = logging.getLogger(__name__)


def data_dir(explicit: str | os.PathLike[str] | None) -> Path | None:
    """``--data-dir`` or ``$BENCH_DATA_DIR``."""
    value = explicit or os.environ.get("BENCH_DATA_DIR")
    return Path(value) if value else None


def is_local(name: str, data_dir_: str | os.PathLike[str] | None) -> bool:
    """Whether ``name`` is a local folder, or has a local copy under the data dir (loading it downloads nothing)."""
    root = data_dir(data_dir_)
    names = (name, ALIASES.get(name, name).replace("/", "__"))
    return Path(name).is_dir() or (root is not None and any((root / n).is_dir() for n in names))


def load(name: str, data_dir_: str | os.PathLike[str] | None = None, candidates_file: str | None = None,
         collection_type: str | None = None) -> Collection:
    """Resolve a collection name: an existing folder, a subfolder of the data dir, an alias or an ir_datasets id.

    ``collection_type`` (dl, msmarco, beir, robust04) names the family whose official measures and
    rules apply, for a folder whose name does not say it (a ``collection.toml`` can say it too).
    """
    from ..store import safe_name

    if os.path.isdir(name) and (Path(name) / "queries.tsv").is_file():
        folder = Path(name)
        return load_local(slug(folder.resolve().name, "collection"), folder, candidates_file, collection_type)
    safe_name(name, "collection name")
    dataset_id = ALIASES.get(name, name)
    root = data_dir(data_dir_)
    if root is not None:
        reverse = [alias for alias, target in ALIASES.items() if target == dataset_id]
        for candidate in [name, *reverse, dataset_id.replace("/", "__")]:
            folder = root / candidate
            if folder.is_dir():
                log.info("collection %s: using local copy %s", name, folder)
                return load_local(name, folder, candidates_file, collection_type)
    import ir_datasets

    from .composite import COMPOSITES, load_composite
    from .irds import load_ir_datasets

    if dataset_id in COMPOSITES:
        log.info("collection %s: loading the parts of %s through ir_datasets (may download)", name, dataset_id)
        return load_composite(name, dataset_id, collection_type)
    if dataset_id not in ir_datasets.registry._registered:  # type: ignore[attr-defined]
        raise unknown_collection(name)
    log.info("collection %s: loading ir_datasets %s (may download)", name, dataset_id)
    return load_ir_datasets(name, dataset_id, collection_type)


__all__ = ["ALIASES", "BEIR_PUBLIC", "Collection", "Documents", "data_dir", "doc_text", "is_local", "load", "unknown_collection"]
