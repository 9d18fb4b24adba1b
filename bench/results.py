"""The results record: one JSON file per experiment, the only input reports read.

``schema_version`` 1 holds the collection, the full config, library versions, device,
git commit and, per system, the run file, mean and per-query metrics and latency.
:func:`load_results` turns a record into a tidy pandas DataFrame for notebooks.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from .errors import DataError

SCHEMA_VERSION = 1

PACKAGES = ("bench", "torch", "transformers", "tokenizers", "ranx", "numba", "numpy", "bm25s", "PyStemmer", "rank-bm25", "ir_datasets", "pandas")


def versions() -> dict[str, str | None]:
    """Installed versions of everything that can change a number."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit(start: Path | None = None) -> dict[str, Any]:
    """The commit of the checkout bench runs from, and whether it had local changes."""
    where = start or Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5)
        if head.returncode != 0:
            return {"commit": None, "dirty": None}
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where, capture_output=True, text=True, timeout=5)
        return {"commit": head.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def read(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check a results record."""
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: results file not found; run `python -m bench run` first") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a valid results file ({exc})") from None
    if not isinstance(record, dict) or "systems" not in record or "schema_version" not in record:
        raise DataError(f"{path}: not a bench results record (no schema_version/systems)")
    if record["schema_version"] > SCHEMA_VERSION:
        raise DataError(f"{path}: schema_version {record['schema_version']} is newer than this bench ({SCHEMA_VERSION}); upgrade bench")
    return record


def load_results(path: str | os.PathLike[str]) -> Any:
    """A results record as a DataFrame: one row per system and measure, with latency columns."""
    import pandas as pd

    record = read(path)
    rows = []
    for system in record["systems"]:
        latency = system.get("latency") or {}
        for measure, value in system["metrics"].items():
            rows.append(
                {
                    "experiment": record.get("name"),
                    "collection": record["collection"]["name"],
                    "system": system["name"],
                    "model": system.get("model"),
                    "measure": measure,
                    "value": value,
                    "p50_ms": latency.get("p50_ms"),
                    "p95_ms": latency.get("p95_ms"),
                    "pairs_per_s": (latency.get("rerank") or {}).get("pairs_per_s"),
                    "rerank_total_s": (latency.get("rerank") or {}).get("total_s"),
                    "parameters": (system.get("info") or {}).get("parameters") if system.get("model") else None,
                    "commit": (record.get("git") or {}).get("commit"),
                    "run_file": system.get("run_file"),
                }
            )
    return pd.DataFrame(rows)
