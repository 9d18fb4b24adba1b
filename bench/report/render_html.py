"""HTML: one self-contained page (inline CSS and script, figures as data: URIs, no network).

It holds the table, the legend, win/tie/loss, both figures, notes and, per record, the
config, library versions, device and commit, and the per-query explorer (``explorer``). The table scrolls sideways inside its box
on narrow screens, so the page itself never does.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from html import escape

from . import explorer, text
from .compare import Column, Report
from .figures import Figure

CSS = """
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", Arial, sans-serif;
       color: #1b1f24; background: #fff; margin: 0; }
main { max-width: 1400px; margin: 0 auto; padding: 1.5rem 1rem 3rem; }
h1 { font-size: 1.5rem; margin: 0 0 .3rem; } h2 { font-size: 1.15rem; margin: 2rem 0 .6rem; border-bottom: 1px solid #d0d7de; }
.meta { color: #57606a; margin: 0 0 1rem; }
.table-wrap { overflow-x: auto; border: 1px solid #d0d7de; border-radius: 6px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; font-size: 13.5px; }
th, td { padding: .35rem .5rem; border-bottom: 1px solid #eaeef2; white-space: nowrap; text-align: right; }
th { background: #f6f8fa; font-weight: 600; } thead tr.group th { text-align: center; border-bottom: 1px solid #d0d7de; }
th:first-child, td:first-child { text-align: left; position: sticky; left: 0; background: #fff; }
thead th:first-child { background: #f6f8fa; }
tr.baseline td { background: #f3f8ff; } tr.diff td { color: #57606a; font-style: italic; }
.marker { color: #0969da; font-weight: 700; } .best { font-weight: 700; }
ul.legend { color: #57606a; font-size: 13.5px; padding-left: 1.2rem; }
figure { margin: 1rem 0 1.5rem; } figure img { max-width: 100%; height: auto; border: 1px solid #eaeef2; }
figcaption { color: #57606a; font-size: 13.5px; }
pre { background: #f6f8fa; padding: .8rem; overflow-x: auto; font-size: 12.5px; border-radius: 6px; }
details { margin: .5rem 0; } summary { cursor: pointer; font-weight: 600; }
table.kv { width: auto; } table.kv td { text-align: left; }
"""


def _cell(report: Report, row, column: Column) -> str:  # type: ignore[no-untyped-def]
    cell = report.cell(row, column)
    value = f'<span class="best">{escape(cell.text)}</span>' if cell.bold else escape(cell.text)
    marker = f'<span class="marker">{escape(cell.marker)}</span>' if cell.marker else ""
    return f"<td>{value}{marker}</td>"


def _main_table(report: Report) -> str:
    head = []
    if report.multi_collection:
        groups: list[list] = []
        for column in report.columns:
            if groups and groups[-1][0] == column.collection:
                groups[-1][1] += 1
            else:
                groups.append([column.collection, 1])
        head.append('<tr class="group"><th></th>' + "".join(f'<th colspan="{n}">{escape(g or "")}</th>' for g, n in groups) + "</tr>")
    head.append("<tr><th>system</th>" + "".join(f"<th>{escape(c.name)}</th>" for c in report.columns) + "</tr>")
    body = []
    for row in report.rows:
        cls = "diff" if row.is_difference else "baseline" if report.is_baseline(row) else ""
        cells = "".join(_cell(report, row, c) for c in report.columns)
        body.append(f'<tr class="{cls}"><td>{escape(row.label)}</td>{cells}</tr>')
    return f'<div class="table-wrap"><table id="results"><thead>{"".join(head)}</thead><tbody>{"".join(body)}</tbody></table></div>'


def _wtl_table(report: Report) -> str:
    rows = text.wtl_rows(report)
    if not rows:
        return ""
    head = "".join(f"<th>{escape(text.wtl_header(report, c, m))}</th>" for c, m in text.wtl_columns(report))
    body = "".join(f"<tr><td>{escape(r.label)}</td>{''.join(f'<td>{escape(x)}</td>' for x in cells)}</tr>" for r, cells in rows)
    return (f"<h2>Wins / ties / losses per query</h2><p class=\"meta\">Queries where the system scores higher / the same / "
            f"lower than the baseline.</p><div class=\"table-wrap\"><table id=\"wtl\"><thead><tr><th>system</th>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table></div>")


def _figure(fig: Figure) -> str:
    data = base64.b64encode(fig.png).decode("ascii")
    return (f'<figure id="fig-{fig.name}"><img src="data:image/png;base64,{data}" alt="{escape(fig.caption)}">'
            f"<figcaption>{escape(fig.caption)}</figcaption></figure>")


def _kv(pairs: dict) -> str:  # type: ignore[type-arg]
    rows = "".join(f"<tr><td>{escape(str(k))}</td><td>{escape(str(v))}</td></tr>" for k, v in pairs.items())
    return f'<table class="kv">{rows}</table>'


def _records(report: Report) -> str:
    parts = ["<h2>Records</h2>"]
    for source in report.sources:
        record = source.record
        git = record.get("git") or {}
        parts.append(f"<h3>{escape(source.label)}</h3>")
        parts.append(_kv({
            "file": source.path, "experiment": source.experiment, "collection": source.collection,
            "commit": f"{git.get('commit') or 'unknown'}{' (with local changes)' if git.get('dirty') else ''}",
            "config hash": record.get("config_hash", "?"), "queries": record.get("queries", "?"),
        }))
        parts.append(f"<details open><summary>Device</summary>{_kv(record.get('device') or {})}</details>")
        parts.append(f"<details><summary>Library versions</summary>{_kv(record.get('versions') or {})}</details>")
        config = json.dumps(record.get("config") or {}, indent=2, sort_keys=True)
        parts.append(f"<details><summary>Config</summary><pre>{escape(config)}</pre></details>")
    return "".join(parts)


def render(report: Report, figures: Sequence[Figure] = ()) -> str:
    legend = "".join(f"<li>{escape(line)}</li>" for line in text.legend(report))
    notes = "".join(f"<li>{escape(n)}</li>" for n in report.notes)
    title = escape(text.title(report))
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title><style>{CSS}</style></head><body><main>",
        f"<h1>{title}</h1>",
        f'<p class="meta">{escape(text.collections_line(report))}. Baseline: {escape(text.baseline_line(report))}.</p>',
        _main_table(report),
        f'<ul class="legend">{legend}</ul>',
        _wtl_table(report),
        explorer.section(report),
        "<h2>Figures</h2>",
        *(_figure(f) for f in figures),
        f"<h2>Notes</h2><ul>{notes}</ul>" if notes else "",
        _records(report),
        "</main></body></html>",
        "",
    ])
