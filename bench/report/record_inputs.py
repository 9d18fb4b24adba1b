"""What a results record points at: its run files and its collection, found again at report time.

A record stores paths as they were when ``bench run`` ran: run files like
``runs/<collection>/<system>-<hash>.trec`` (relative to the folder it ran in), the
collection's source (``local:<path>``) and the config's ``data_dir`` (relative to the
experiment file). Reports are built later, maybe from another folder, and committed
reports ship without runs, so every lookup here tries the plausible anchors and
returns ``None`` with a reason instead of failing: a report must render without them.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def anchors(record_path: Path) -> list[Path]:
    """Folders a relative path in a record may be relative to: the current folder, the checkout holding reports/<name>/."""
    folder = record_path.resolve().parent
    out = [Path.cwd()]
    for candidate in (folder.parent.parent, folder.parent, folder):
        if candidate not in out:
            out.append(candidate)
    return out


def resolve(path: str | None, record_path: Path) -> Path | None:
    """An existing file or folder a record names, or None."""
    if not path:
        return None
    given = Path(path)
    if given.is_absolute():
        return given if given.exists() else None
    for base in anchors(record_path):
        if (base / given).exists():
            return base / given
    return None


def run_file(system: dict[str, Any], record_path: Path) -> Path | None:
    """The system's run file when it still exists (committed reports ship without runs)."""
    found = resolve(system.get("run_file"), record_path)
    return found if found is not None and found.is_file() else None


def _data_dirs(record: dict[str, Any], record_path: Path) -> list[str | None]:
    """``data_dir`` resolved as ``bench run`` did (relative to the experiment file), then from each anchor."""
    from ..config import resolve_data_dir

    data_dir = (record.get("config") or {}).get("data_dir")
    if not data_dir or os.path.isabs(data_dir):
        return [data_dir]
    out: list[str | None] = []
    experiment = record.get("experiment_file")
    for base in anchors(record_path):
        if experiment:
            out.append(resolve_data_dir(data_dir, (base / experiment).parent))
        out.append(resolve_data_dir(data_dir, base))
    return list(dict.fromkeys(out))


def load_collection(record: dict[str, Any], record_path: str | os.PathLike[str]) -> tuple[Any | None, str]:
    """The record's collection (queries, qrels, documents) and '' or, when it cannot be loaded, (None, why).

    The one place reports load a collection: a local copy named by ``collection.source``,
    then the config's collection name under its ``data_dir``; ir_datasets ids only when the
    record came from ir_datasets (they may need a download).
    """
    from ..collection import load
    from ..errors import BenchError

    path = Path(record_path)
    config = record.get("config") or {}
    source = str((record.get("collection") or {}).get("source") or "")
    candidates_file = (config.get("first_stage") or {}).get("candidates_file")
    attempts: list[tuple[str, str | None]] = []
    if source.startswith("local:"):
        folder = resolve(source[len("local:"):], path)
        if folder is not None:
            attempts.append((str(folder), None))
    name = config.get("collection") or (record.get("collection") or {}).get("name")
    if name:
        for data_dir in _data_dirs(record, path):
            local = data_dir and (Path(data_dir) / str(name)).is_dir()
            if local or (data_dir and source.startswith("ir_datasets:") and Path(data_dir).is_dir()):
                attempts.append((str(name), data_dir))
    if not attempts and name and source.startswith("ir_datasets:"):
        attempts.append((str(name), None))
    if not attempts:
        return None, f"collection {name!r} not found (source {source or '?'}, data_dir {config.get('data_dir')!r})"
    why = ""
    for target, data_dir in attempts:
        try:
            return load(target, data_dir, candidates_file), ""
        except BenchError as exc:
            why = str(exc)
        except Exception as exc:  # ir_datasets downloads fail in many ways; all mean "not available here"
            why = f"{type(exc).__name__}: {exc}"
    return None, why
