"""Markdown: a GitHub table with a legend, the win/tie/loss grid and the figures."""

from __future__ import annotations

from collections.abc import Sequence

from . import text
from .compare import Report
from .figures import Figure


def _cell(report: Report, row, column) -> str:  # type: ignore[no-untyped-def]
    cell = report.cell(row, column)
    value = f"**{cell.text}**" if cell.bold else cell.text
    return value + cell.marker


def markdown(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub table, columns padded so it also reads well as plain text."""
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) if rows else len(header[i]) for i in range(len(header))]
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))) + " |"
    sep = "|" + "|".join(("-" * (w + 2)) if i == 0 else ("-" * (w + 1) + ":") for i, w in enumerate(widths)) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in rows)]) + "\n"


def render(report: Report, figures: Sequence[Figure] = ()) -> str:
    """The report as GitHub Markdown; figures are linked as ``<name>.png`` beside it."""
    parts = [f"# {text.title(report)}\n", f"{text.collections_line(report)}. Baseline: {text.baseline_line(report)}.\n"]
    head = ["system", *(text.header(report, c) for c in report.columns)]
    rows = [[row.label, *(_cell(report, row, c) for c in report.columns)] for row in report.rows]
    parts.append(markdown(head, rows))
    parts.append("".join(f"- {line}\n" for line in text.legend(report)))
    wtl = text.wtl_rows(report)
    if wtl:
        parts.append("## Wins / ties / losses per query\n")
        cols = text.wtl_columns(report)
        parts.append(markdown(["system", *(text.wtl_header(report, c, m) + " W/T/L" for c, m in cols)],
                              [[r.label, *cells] for r, cells in wtl]))
    if figures:
        parts.append("## Figures\n")
        parts.append("".join(f"![{f.caption}]({f.name}.png)\n\n" for f in figures).rstrip("\n") + "\n")
    if report.notes:
        parts.append("## Notes\n")
        parts.append("".join(f"- {n}\n" for n in report.notes))
    parts.append("## Records\n")
    parts.append("".join(f"- {line}\n" for line in text.record_lines(report)))
    return "\n".join(parts)
