"""The leaderboard as a static page (index.html: sortable, filterable, no network) and as Markdown (README.md).

Both show the same table: a row per system, a column group per collection with its
official first measure and p95 ms per query. Each number links to the report of the
record it came from; older measurements of the same system sit behind a "+N older"
disclosure in the page and in a list under the table in Markdown.
"""

from __future__ import annotations

import os
from html import escape
from pathlib import Path

from .leaderboard import IDENTITY, Entry, Leaderboard, Row, fmt_ms, fmt_value

CSS = """
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", Arial, sans-serif; color: #1b1f24; margin: 0; }
main { max-width: 1500px; margin: 0 auto; padding: 1.5rem 1rem 3rem; }
h1 { font-size: 1.5rem; margin: 0 0 .3rem; } .meta { color: #57606a; }
.lb-tools { display: flex; gap: .8rem; align-items: center; margin: .6rem 0; flex-wrap: wrap; }
.lb-tools input, .lb-tools select { font: inherit; padding: .3rem .5rem; border: 1px solid #d0d7de; border-radius: 6px; }
.table-wrap { overflow-x: auto; border: 1px solid #d0d7de; border-radius: 6px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; font-size: 13.5px; }
th, td { padding: .35rem .5rem; border-bottom: 1px solid #eaeef2; white-space: nowrap; text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; } thead tr.group th { text-align: center; border-bottom: 1px solid #d0d7de; }
th.sortable { cursor: pointer; user-select: none; }
th[aria-sort="ascending"]::after { content: " \\25B2"; } th[aria-sort="descending"]::after { content: " \\25BC"; }
td.num, th.num { text-align: right; } a { color: #0969da; text-decoration: none; } a:hover { text-decoration: underline; }
details.older { font-size: 12px; color: #57606a; } details.older summary { cursor: pointer; }
.hidden { display: none; }
"""


def _sort_value(entries: list[Entry] | None, what: str) -> str:
    if not entries:
        return ""
    value = entries[0].value if what == "value" else entries[0].p95_ms
    return "" if value is None else repr(value)


def _cell(entries: list[Entry] | None, what: str, group: int) -> str:
    cls = f'num" data-group="c{group}'
    if not entries:
        return f'<td class="{cls}" data-v="">-</td>'
    fmt = fmt_value if what == "value" else fmt_ms
    newest = entries[0]
    title = f"{newest.record} ({newest.commit or 'no commit'})"
    html = f'<a href="{escape(newest.link)}" title="{escape(title)}">{escape(fmt(newest.value if what == "value" else newest.p95_ms))}</a>'
    if len(entries) > 1:
        older = "<br>".join(
            f'<a href="{escape(e.link)}">{escape(fmt(e.value if what == "value" else e.p95_ms))} ({escape(e.record)} {escape(e.commit)})</a>'
            for e in entries[1:]
        )
        html += f'<details class="older"><summary>+{len(entries) - 1} older</summary>{older}</details>'
    return f'<td class="{cls}" data-v="{_sort_value(entries, what)}">{html}</td>'


def _row(board: Leaderboard, row: Row) -> str:
    ident = "".join(f'<td data-v="{escape(row.identity[k] or "")}">{escape(row.identity[k] or "-")}</td>' for k in IDENTITY)
    cells = "".join(_cell(row.cells.get(c), what, i) for i, c in enumerate(board.collections) for what in ("value", "p95"))
    present = " ".join(escape(c) for c in board.collections if c in row.cells)
    return f'<tr data-collections="{present}">{ident}{cells}</tr>'


def html(board: Leaderboard) -> str:
    """index.html: the table, a collection selector and a text filter; sorting by any column."""
    from .explorer import static

    groups = "".join(f'<th colspan="2" data-group="c{i}">{escape(c)}</th>' for i, c in enumerate(board.collections))
    head = "".join(f'<th class="sortable">{k}</th>' for k in IDENTITY)
    head += "".join(f'<th class="sortable num" data-group="c{i}">{escape(board.measures[c])}</th>'
                    f'<th class="sortable num" data-group="c{i}">p95 ms/q</th>'
                    for i, c in enumerate(board.collections))
    body = "".join(_row(board, r) for r in board.rows)
    options = "".join(f'<option value="{escape(c)}" data-group="c{i}">{escape(c)}</option>' for i, c in enumerate(board.collections))
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>bench leaderboard</title><style>{CSS}</style></head><body><main>",
        "<h1>Leaderboard</h1>",
        f'<p class="meta">{len(board.rows)} systems from {len(board.records)} results records. Per collection: its official first '
        "measure and p95 end-to-end milliseconds per query. Each number links to the report it came from; when a system was "
        "measured more than once, the newest record is shown and older ones are under “older”.</p>",
        '<div class="lb-tools"><label>Collection <select id="lb-collection"><option value="">all collections</option>'
        f'{options}</select></label><input id="lb-filter" type="search" placeholder="Filter systems by text" aria-label="filter systems">'
        '<span id="lb-count" class="meta"></span></div>',
        f'<div class="table-wrap"><table id="leaderboard"><thead><tr class="group"><th colspan="{len(IDENTITY)}">system</th>{groups}</tr>'
        f"<tr>{head}</tr></thead><tbody>{body}</tbody></table></div>",
        f"<script>{static('leaderboard.js')}</script>",
        "</main></body></html>",
        "",
    ])


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(board: Leaderboard, prefix: str = "") -> str:
    """README.md: the same table, links relative to the leaderboard's folder (``prefix`` prepended)."""
    head = [*IDENTITY, *(h for c in board.collections for h in (f"{c} {board.measures[c]}", f"{c} p95 ms/q"))]
    lines = ["# Leaderboard", "",
             f"{len(board.rows)} systems from {len(board.records)} results records; each number links to its report "
             "(`python -m bench leaderboard` writes this file and index.html).", "",
             "| " + " | ".join(_md(h) for h in head) + " |", "|" + "|".join("---" if i < len(IDENTITY) else "---:" for i in range(len(head))) + "|"]
    older: list[str] = []
    for row in board.rows:
        cells = [_md(row.identity[k] or "-") for k in IDENTITY]
        for c in board.collections:
            for what in ("value", "p95"):
                entries = row.cells.get(c)
                if not entries:
                    cells.append("-")
                    continue
                e = entries[0]
                text = fmt_value(e.value) if what == "value" else fmt_ms(e.p95_ms)
                cells.append(f"[{text}]({prefix}{e.link})")
        lines.append("| " + " | ".join(cells) + " |")
        for c in board.collections:
            for e in (row.cells.get(c) or [])[1:]:
                older.append(f"- {_md(row.identity['name'] or '')} on {c}: [{fmt_value(e.value)}]({prefix}{e.link}) "
                             f"({e.record}, commit {e.commit or '?'})")
    if older:
        lines += ["", "Older measurements:", "", *older]
    return "\n".join(lines) + "\n"


def write(board: Leaderboard, output: str | os.PathLike[str]) -> dict[str, Path]:
    """Write index.html and README.md atomically into ``output``."""
    from ..store import write_text

    out = Path(output)
    written = {"html": out / "index.html", "md": out / "README.md"}
    write_text(written["html"], html(board))
    write_text(written["md"], markdown(board))
    return written
