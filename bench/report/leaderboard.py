"""The leaderboard's data: every system of every results record found, one row per system.

A system is what the row shows: name, model, kind, revision, dtype and device. Each
collection contributes a column group, its official first measure and p95 ms per query.
When one system was measured on one collection in several records, the cell shows the
newest record and keeps the older ones (each links to its own report). "Newest" is the
time the recorded commit was made when git knows it, else the record file's mtime.
"""

from __future__ import annotations

import logging
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError

log = logging.getLogger(__name__)

IDENTITY = ("name", "model", "kind", "revision", "dtype", "device")


@dataclass(frozen=True)
class Entry:
    """One system's numbers on one collection, from one record."""

    record: str  # the record's experiment name
    path: Path  # results.json
    link: str  # the record's report (or results.json), relative to the leaderboard's folder
    value: float | None
    p95_ms: float | None
    time: float
    commit: str


@dataclass
class Row:
    identity: dict[str, str | None]
    cells: dict[str, list[Entry]] = field(default_factory=dict)  # collection -> entries, newest first


@dataclass
class Leaderboard:
    collections: list[str]
    measures: dict[str, str]  # collection -> the measure shown
    rows: list[Row]
    records: list[Path]


def find_records(paths: list[str | os.PathLike[str]]) -> list[Path]:
    """Results records among the given files and folders (folders are searched recursively for results.json)."""
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found += sorted(path.rglob("results.json"))
        elif path.is_file():
            found.append(path)
        else:
            raise DataError(f"{path}: no such file or folder; pass results.json files or folders holding them")
    if not found:
        where = ", ".join(str(p) for p in paths)
        raise DataError(f"no results records (results.json) found in {where}; run `python -m bench run` first")
    return list(dict.fromkeys(p.resolve() for p in found))


def record_time(path: Path, record: dict[str, Any]) -> float:
    """When the record was made: the recorded commit's time when git knows it, else the file's mtime."""
    commit = (record.get("git") or {}).get("commit")
    if commit:
        try:
            out = subprocess.run(["git", "show", "-s", "--format=%ct", commit], cwd=path.parent, capture_output=True, text=True, timeout=5)
            if out.returncode == 0 and out.stdout.strip().isdigit():
                return float(out.stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    return path.stat().st_mtime


def identity(system: dict[str, Any]) -> dict[str, str | None]:
    info = system.get("info") or {}
    values = {"name": system["name"], "model": system.get("model"), "kind": info.get("kind"), "revision": info.get("revision"),
              "dtype": info.get("dtype"), "device": info.get("device")}
    return {k: None if v is None else str(v) for k, v in values.items()}


def _measure(collection: str, records: list[dict[str, Any]]) -> str:
    """The collection's official first measure when the records have it, else the newest record's first measure."""
    from ..evaluate import family_for

    official = family_for(collection).measures[0]
    if any(official in s["metrics"] for r in records for s in r["systems"]):
        return official
    return str((records[0].get("measures") or list(records[0]["systems"][0]["metrics"]))[0])


def column(record: dict[str, Any]) -> str:
    """The collection's column: its name, or with the query count when the record ran a subset (not comparable with the full set)."""
    name = str(record["collection"]["name"])
    judged = record["collection"].get("judged_queries")
    queries = record.get("queries")
    if judged and queries and int(queries) < int(judged):
        return f"{name} ({queries} of {judged} queries)"
    return name


def _link(path: Path, output: Path) -> str:
    target = path.parent / "report.html" if (path.parent / "report.html").is_file() else path
    return Path(os.path.relpath(target.resolve(), output.resolve())).as_posix()


def build(paths: list[str | os.PathLike[str]], output: str | os.PathLike[str]) -> Leaderboard:
    """Read every record found and assemble the rows (links relative to ``output``)."""
    from ..results import read

    files = find_records(paths)
    loaded = [(p, read(p)) for p in files]
    times = {p: record_time(p, r) for p, r in loaded}
    loaded.sort(key=lambda item: (-times[item[0]], str(item[0])))  # newest first
    by_collection: dict[str, list[dict[str, Any]]] = {}
    for _, record in loaded:
        by_collection.setdefault(column(record), []).append(record)
    collections = sorted(by_collection)
    measures = {c: _measure(str(recs[0]["collection"]["name"]), recs) for c, recs in by_collection.items()}
    rows: dict[tuple[str | None, ...], Row] = {}
    for path, record in loaded:
        collection = column(record)
        when = times[path]
        commit = ((record.get("git") or {}).get("commit") or "")[:7]
        for system in record["systems"]:
            ident = identity(system)
            row = rows.setdefault(tuple(ident[k] for k in IDENTITY), Row(ident))
            value = system["metrics"].get(measures[collection])
            p95 = (system.get("latency") or {}).get("p95_ms")
            entry = Entry(str(record.get("name") or path.parent.name), path, _link(path, Path(output)),
                          None if value is None else float(value), None if p95 is None else float(p95), when, commit)
            row.cells.setdefault(collection, []).append(entry)
    log.info("leaderboard: %d systems from %d records", len(rows), len(files))
    return Leaderboard(collections, measures, list(rows.values()), files)


def fmt_value(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"
