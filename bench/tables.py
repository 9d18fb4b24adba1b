"""Plain-text and Markdown tables of a results record (the terminal summary after a run)."""

from __future__ import annotations

from typing import Any


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def summary_rows(record: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows: one row per system, every measure, then latency."""
    measures = record["measures"]
    header = ["system", *measures, "p50 ms/q", "p95 ms/q", "pairs/s", "rerank s"]
    rows = []
    for system in record["systems"]:
        latency = system.get("latency") or {}
        rerank = latency.get("rerank") or {}
        rows.append(
            [
                system["name"],
                *(_fmt(system["metrics"].get(m)) for m in measures),
                _fmt(latency.get("p50_ms"), 1),
                _fmt(latency.get("p95_ms"), 1),
                _fmt(rerank.get("pairs_per_s"), 1),
                _fmt(rerank.get("total_s"), 1),
            ]
        )
    return header, rows


def markdown(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub table, columns padded so it also reads well as plain text."""
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) if rows else len(header[i]) for i in range(len(header))]
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))) + " |"
    sep = "|" + "|".join(("-" * (w + 2)) if i == 0 else ("-" * (w + 1) + ":") for i, w in enumerate(widths)) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in rows)]) + "\n"


def summary(record: dict[str, Any]) -> str:
    """The table printed after ``bench run``, with the notes that explain it."""
    header, rows = summary_rows(record)
    notes = "".join(f"- {n}\n" for n in record.get("notes", []))
    title = f"{record['name']} ({record['collection']['name']}, {record['queries']} queries)\n\n"
    return title + markdown(header, rows) + "\n" + notes
