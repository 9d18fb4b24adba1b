"""Test collections: one interface over ir_datasets ids and local folders.

A :class:`Collection` gives queries, qrels, document text by id, the documents for
indexing, optional first-stage candidates and the official measures. Local folders
hold ``queries.tsv`` (qid TAB text), ``qrels.txt`` (TREC qrels), ``corpus.jsonl``
(``{"doc_id", "text"}``, optional ``"title"``) and optional ``run.*.trec`` candidates.
A name that matches a subfolder of ``--data-dir`` (or ``$BENCH_DATA_DIR``) uses that
local copy; otherwise ir_datasets loads it (and may download it).
"""

from __future__ import annotations

import difflib
import logging
import os
from pathlib import Path

from ..errors import ConfigError
from ..store import slug
from .base import Collection, Documents, doc_text
from .local import load_local

log = logging.getLogger(__name__)


ALIASES: dict[str, str] = {
    "trec-dl-2019": "msmarco-passage/trec-dl-2019/judged",
    "trec-dl-2020": "msmarco-passage/trec-dl-2020/judged",
    "msmarco-dev-small": "msmarco-passage/dev/small",
    "dl19": "msmarco-passage/trec-dl-2019/judged",
    "dl20": "msmarco-passage/trec-dl-2020/judged",
}


def unknown_collection(name: str) -> ConfigError:
    """An error naming close matches among aliases and ir_datasets ids."""
    import ir_datasets

    known = list(ALIASES) + list(ir_datasets.registry._registered)  # type: ignore[attr-defined]
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}?" if close else "see `python -m bench datasets` for names"
    return ConfigError(f"unknown collection {name!r}; {hint} (or pass a local folder with --data-dir)")


def data_dir(explicit: str | os.PathLike[str] | None) -> Path | None:
    """``--data-dir`` or ``$BENCH_DATA_DIR``."""
    value = explicit or os.environ.get("BENCH_DATA_DIR")
    return Path(value) if value else None


def load(name: str, data_dir_: str | os.PathLike[str] | None = None, candidates_file: str | None = None) -> Collection:
    """Resolve a collection name: an existing folder, a subfolder of the data dir, an alias or an ir_datasets id."""
    from ..store import safe_name

    if os.path.isdir(name) and (Path(name) / "queries.tsv").is_file():
        folder = Path(name)
        return load_local(slug(folder.resolve().name, "collection"), folder, candidates_file)
    safe_name(name, "collection name")
    dataset_id = ALIASES.get(name, name)
    root = data_dir(data_dir_)
    if root is not None:
        reverse = [alias for alias, target in ALIASES.items() if target == dataset_id]
        for candidate in [name, *reverse, dataset_id.replace("/", "__")]:
            folder = root / candidate
            if folder.is_dir():
                log.info("collection %s: using local copy %s", name, folder)
                return load_local(name, folder, candidates_file)
    import ir_datasets

    from .irds import load_ir_datasets

    if dataset_id not in ir_datasets.registry._registered:  # type: ignore[attr-defined]
        raise unknown_collection(name)
    log.info("collection %s: loading ir_datasets %s (may download)", name, dataset_id)
    return load_ir_datasets(name, dataset_id)


__all__ = ["ALIASES", "Collection", "Documents", "data_dir", "doc_text", "load", "unknown_collection"]
