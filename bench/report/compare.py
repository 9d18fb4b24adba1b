"""Assemble a report from one or several results records: rows, columns, cells, comparisons.

Rows are systems, identified by name. With several records of *different* collections a
system's numbers sit side by side in per-collection columns. When one collection appears
in several records (two commits, two settings), every row also carries the record's
label, and each system measured more than once gets a difference row (later record
minus the first). Significance is tested per collection against that collection's
baseline (by default: a reranker against the first stage its cascade reads, a first stage
against the record's first one) on the per-query values in the records, plus, for difference rows, between
the two measurements; Holm–Bonferroni then corrects over every comparison in the table.
Nothing is rerun: only the records are read.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import ConfigError, DataError
from . import significance
from .model import CASCADE_COLUMNS, COST_COLUMNS, DEGRADED, IMPROVED, LATENCY_COLUMNS, Cell, Column, Comparison, Report, Row
from .sources import Source, load_sources

__all__ = ["DEGRADED", "IMPROVED", "LATENCY_COLUMNS", "Cell", "Column", "Comparison", "Report", "Row", "build_report"]

def _dig(obj: Any, path: tuple[str, ...]) -> float | None:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return float(obj) if isinstance(obj, (int, float)) and not isinstance(obj, bool) else None


def _value(system: dict[str, Any], column: Column) -> float | None:
    if column.kind == "measure":
        value = system["metrics"].get(column.name)
        return None if value is None else float(value)
    if column.kind == "latency":
        return _dig(system.get("latency") or {}, column.path)
    if column.kind == "cost":
        return _dig(system.get("cost") or {}, column.path)
    if system.get("model") is None:
        return None
    return _dig(system.get("info") or {}, ("parameters",))


def _measures(sources: list[Source], wanted: list[str] | None) -> list[str]:
    available: list[str] = []
    for source in sources:
        for m in source.record.get("measures") or []:
            if m not in available:
                available.append(m)
    if not wanted:
        return available
    missing = [m for m in wanted if m not in available]
    if missing:
        raise ConfigError(f"measure {missing[0]!r} is not in the results; use --measures with some of: {' '.join(available)}")
    return list(wanted)


def _has_cascade(sources: list[Source]) -> bool:
    """Whether some reranker reads another reranker (not the first stage)."""
    for source in sources:
        systems = source.systems()
        first = systems[0]["name"] if systems else None
        if any(s.get("input") not in (None, first) for s in systems):
            return True
    return False


def _build_rows(sources: list[Source], collections: list[str]) -> list[Row]:
    versioned = any(sum(s.collection == c for s in sources) > 1 for c in collections)
    rows: dict[tuple[str, str | None], Row] = {}
    names: list[str] = []
    for source in sources:
        for system in source.systems():
            variant = source.label if versioned else None
            row = rows.setdefault((system["name"], variant), Row(system["name"], variant))
            if source.collection in row.entries:
                raise DataError(f"{source.path}: system {system['name']!r} appears twice in one record")
            row.entries[source.collection] = system
            if system["name"] not in names:
                names.append(system["name"])
    ordered: list[Row] = []
    for name in names:
        group = [r for (n, _), r in rows.items() if n == name]
        ordered += group
        ordered += _difference_rows(name, sources, collections) if versioned else []
    return ordered


def _difference_rows(name: str, sources: list[Source], collections: list[str]) -> list[Row]:
    """Later measurement minus the first, per collection, for a system measured more than once."""
    diffs: dict[tuple[str, str], Row] = {}
    for collection in collections:
        found = [(s, sys) for s in sources if s.collection == collection for sys in s.systems() if sys["name"] == name]
        for later_source, later in found[1:]:
            first_source, first = found[0]
            row = diffs.setdefault((later_source.label, first_source.label), Row(name, later_source.label, against=first_source.label))
            row.pairs[collection] = (later, first)
    return list(diffs.values())


def _default_baseline(sources: list[Source], collection: str) -> dict[str, Any]:
    systems = next(s for s in sources if s.collection == collection).systems()
    return next((s for s in systems if s.get("model") is None), systems[0])


def _baselines(rows: list[Row], sources: list[Source], collections: list[str], name: str | None) -> dict[str, Row]:
    out: dict[str, Row] = {}
    for collection in collections:
        candidates = [r for r in rows if not r.is_difference and collection in r.entries]
        if name is None:
            wanted = _default_baseline(sources, collection)
            out[collection] = next(r for r in candidates if r.entries[collection] is wanted)
            continue
        match = [r for r in candidates if name in (r.label, r.system)]
        if not match:
            known = ", ".join(dict.fromkeys(r.label for r in candidates))
            raise ConfigError(f"baseline {name!r} is not a system of {collection} (systems: {known}); use --baseline with one of them")
        out[collection] = match[0]
    return out


def _baseline_for(row: Row, collection: str, rows: list[Row], primary: Row, fixed: bool) -> Row:
    """A record's own baseline system when it has one (two commits: each against its own BM25), else the first record's."""
    if fixed or row.variant is None:
        return primary
    same = [r for r in rows if not r.is_difference and r.system == primary.system and r.variant == row.variant and collection in r.entries]
    return same[0] if same else primary


def _first_stage_of(row: Row, collection: str, rows: list[Row]) -> Row | None:
    """The first stage a reranker's cascade reads (its input, that one's input ...), None for a first stage itself.

    With several first stages in one record (BM25, dense, their fusion) each reranker is tested
    against the run it reranked, not against the record's first first stage.
    """
    system = row.entries.get(collection)
    if system is None or not system.get("input"):
        return None
    peers = {r.system: r for r in rows if not r.is_difference and r.variant == row.variant and collection in r.entries}
    seen: set[str] = set()
    name = system["input"]
    while name in peers and name not in seen:
        seen.add(name)
        upstream = peers[name].entries[collection].get("input")
        if not upstream:
            return peers[name]
        name = upstream
    return None


def _paired(system: dict[str, Any], baseline: dict[str, Any], measure: str) -> tuple[list[float], list[float], int]:
    mine = (system.get("per_query") or {}).get(measure) or {}
    base = (baseline.get("per_query") or {}).get(measure) or {}
    qids = [q for q in base if q in mine]
    return [float(mine[q]) for q in qids], [float(base[q]) for q in qids], max(len(mine), len(base))


def _compare(row: Row, collection: str, measure: str, system: dict[str, Any], baseline: dict[str, Any], against: str,
             base_row: Row | None, test: str, notes: list[str]) -> Comparison | None:
    if not all((s.get("per_query") or {}).get(measure) for s in (system, baseline)):
        return None  # the measure is not in one of the records
    a, b, n = _paired(system, baseline, measure)
    if not a:
        notes.append(f"{row.label} and {against} on {collection} share no queries for {measure}; not tested.")
        return None
    if len(a) < n:
        note = f"{row.label} vs {against} on {collection}: tested on the {len(a)} queries both have (of {n})."
        if note not in notes:
            notes.append(note)
    wins, ties, losses = significance.win_tie_loss(a, b)
    delta = sum(x - y for x, y in zip(a, b, strict=True)) / len(a)
    p = significance.paired_pvalue(a, b, test)
    return Comparison(row, collection, measure, against, base_row, len(a), delta, wins, ties, losses, p)


def build_report(
    paths: list[str | os.PathLike[str]] | str | os.PathLike[str],
    baseline: str | None = None,
    measures: list[str] | None = None,
    test: str = "t",
    alpha: float = 0.05,
    options: dict[str, Any] | None = None,
) -> Report:
    """Read results records and compute the comparison table, significance and notes."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if not paths:
        raise ConfigError("no results files given; pass one or more reports/<experiment>/results.json")
    if not 0 < alpha < 1:
        raise ConfigError(f"--alpha must be between 0 and 1, got {alpha}")
    test = significance.check_test(test)
    sources = load_sources(list(paths))
    collections = list(dict.fromkeys(s.collection for s in sources))
    chosen = _measures(sources, measures)
    multi = len(collections) > 1
    columns = [Column(c if multi else None, m, "measure", "max") for c in collections for m in chosen]
    latency = LATENCY_COLUMNS[:2] + (CASCADE_COLUMNS if _has_cascade(sources) else ()) + LATENCY_COLUMNS[2:]
    columns += [Column(c if multi else None, h, "latency", better, path) for c in collections for h, path, better in latency]
    spent = [(s.get("cost") or {}) for src in sources for s in src.systems()]
    calls = any(_dig(c, ("per_query", "calls")) for c in spent)  # malformed % is shown for every system that makes calls, 0 included
    cost = [c for c in COST_COLUMNS if any(_dig(x, c[1]) for x in spent) or (calls and c[0] == "malformed %")]
    columns += [Column(c if multi else None, h, "cost", better, path) for c in collections for h, path, better in cost]
    columns.append(Column(None, "params", "parameters", None))
    rows = _build_rows(sources, collections)
    baselines = _baselines(rows, sources, collections, baseline)
    notes: list[str] = []
    comparisons: list[Comparison] = []
    fixed = baseline is not None and any(r.label == baseline and r.variant is not None for r in rows)
    for collection in collections:
        for row in rows:
            base_row = None if row.is_difference else _baseline_for(row, collection, rows, baselines[collection], fixed)
            if baseline is None and base_row is not None:  # a reranker against the first stage it reads (several first stages)
                base_row = _first_stage_of(row, collection, rows) or base_row
            for measure in chosen:
                if row.is_difference and collection in row.pairs:
                    later, earlier = row.pairs[collection]
                    found = _compare(row, collection, measure, later, earlier, f"{row.system} [{row.against}]", None, test, notes)
                elif base_row is not None and collection in row.entries and row is not base_row:
                    base = base_row.entries[collection]
                    found = _compare(row, collection, measure, row.entries[collection], base, base_row.label, base_row, test, notes)
                else:
                    found = None
                if found:
                    comparisons.append(found)
    for comparison, adjusted in zip(comparisons, significance.holm([c.p for c in comparisons]), strict=True):
        comparison.p_holm = adjusted
        if adjusted < alpha and comparison.delta != 0:
            comparison.marker = IMPROVED if comparison.delta > 0 else DEGRADED
    from .options import from_records

    chosen_options = from_records([s.record for s in sources], options)
    report = Report(sources, collections, chosen, columns, rows, baselines, comparisons, test, alpha, {}, notes, chosen_options)
    _fill_cells(report)
    for source in sources:
        for note in source.record.get("notes") or []:
            if note not in report.notes:
                report.notes.append(note)
    return report


def _fill_cells(report: Report) -> None:
    for row in report.rows:
        for column in report.columns:
            collections = report.collections if column.collection is None else [column.collection]
            value: float | None = None
            for collection in collections:
                if row.is_difference and collection in row.pairs:
                    later, earlier = (_value(s, column) for s in row.pairs[collection])
                    value = None if later is None or earlier is None else later - earlier
                elif collection in row.entries:
                    value = _value(row.entries[collection], column)
                if value is not None:
                    break
            marker = ""
            if column.kind == "measure":
                comparison = report.comparison(row, column.collection or report.collections[0], column.name)
                marker = comparison.marker if comparison else ""
            report.cells[(row.key, column.key)] = Cell(value, column.format(value, signed=row.is_difference), marker=marker)
    for column in report.columns:
        if column.better is None:
            continue
        cells = [report.cell(r, column) for r in report.rows if not r.is_difference]
        present = [c for c in cells if c.value is not None]
        if len(present) < 2 or len({c.text for c in present}) == 1:
            continue  # nothing to single out
        best = (max if column.better == "max" else min)(present, key=lambda c: c.value or 0.0)
        for c in present:
            c.bold = c.text == best.text
