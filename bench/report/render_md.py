"""Markdown: a GitHub table with a legend, the win/tie/loss grid and the figures."""

from __future__ import annotations

from ..tables import markdown
from . import text
from .compare import Report


def _cell(report: Report, row, column) -> str:  # type: ignore[no-untyped-def]
    cell = report.cell(row, column)
    value = f"**{cell.text}**" if cell.bold else cell.text
    return value + cell.marker


def render(report: Report, figures: dict[str, str] | None = None) -> str:
    """The report as GitHub Markdown; ``figures`` maps a caption to a relative image path."""
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
        parts.append("".join(f"![{name}]({path})\n\n" for name, path in figures.items()).rstrip("\n") + "\n")
    if report.notes:
        parts.append("## Notes\n")
        parts.append("".join(f"- {n}\n" for n in report.notes))
    parts.append("## Records\n")
    parts.append("".join(f"- {line}\n" for line in text.record_lines(report)))
    return "\n".join(parts)
