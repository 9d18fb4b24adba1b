"""Results records as report inputs: reading them and naming each one.

When one collection appears in several records (the same experiment at two commits,
two settings of one model), each record needs a short label that tells it apart from
the others of its collection: the short git commit when that suffices, else the
experiment name, else both, else the file path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..results import read


@dataclass(frozen=True)
class Source:
    """One results record and how the report refers to it."""

    path: Path
    record: dict[str, Any]
    label: str

    @property
    def collection(self) -> str:
        return str(self.record["collection"]["name"])

    @property
    def experiment(self) -> str:
        return str(self.record.get("name") or self.collection)

    @property
    def commit(self) -> str:
        git = self.record.get("git") or {}
        short = (git.get("commit") or "")[:7] or "no-git"
        return short + ("+dirty" if git.get("dirty") else "")

    def systems(self) -> list[dict[str, Any]]:
        return list(self.record["systems"])


def _unique_within_collections(records: list[tuple[Path, dict[str, Any]]], labels: list[str]) -> bool:
    seen: set[tuple[str, str]] = set()
    for (_, record), label in zip(records, labels, strict=True):
        key = (record["collection"]["name"], label)
        if key in seen:
            return False
        seen.add(key)
    return True


def load_sources(paths: list[str | os.PathLike[str]]) -> list[Source]:
    """Read every record (one-line errors for missing or invalid files) and label them."""
    records = [(Path(p), read(p)) for p in paths]
    for path, record in records:
        if not record["systems"]:
            raise DataError(f"{path}: the results record has no systems; run `python -m bench run` again")
    candidates = []
    for path, record in records:
        source = Source(path, record, "")
        candidates.append((source.commit, source.experiment, f"{source.experiment}@{source.commit}", str(path)))
    for choice in range(4):
        labels = [c[choice] for c in candidates]
        if _unique_within_collections(records, labels):
            break
    else:  # the same file twice
        labels = [f"{c[3]}#{i + 1}" for i, c in enumerate(candidates)]
    return [Source(path, record, label) for (path, record), label in zip(records, labels, strict=True)]
