"""The per-query explorer section of report.html: data as embedded JSON, plain JavaScript, no network.

One explorer per results record in the report. The page works from ``file://``: the
script and its CSS are read from ``bench/report/static`` and inlined, the data sits
in a ``<script type="application/json">`` block the script parses.
"""

from __future__ import annotations

import json
from functools import cache
from html import escape
from importlib import resources
from typing import Any

from .compare import Report


@cache
def static(name: str) -> str:
    """A file of bench/report/static (the explorer's and leaderboard's script and CSS)."""
    return resources.files("bench.report").joinpath("static", name).read_text(encoding="utf-8")


def embed_json(data: Any) -> str:
    """JSON safe inside <script>: no '<', '>' or '&' that could close the element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def data_for(report: Report) -> list[dict[str, Any]]:
    """The explorer data of every record in the report, against the report's baseline and first measure."""
    from .explorer_data import build

    out = []
    for source in report.sources:
        base = report.baselines.get(source.collection)
        measure = report.first_measure if all(report.first_measure in s["metrics"] for s in source.systems()) else None
        from .options import snippets_for

        snippets, note = snippets_for(report.options, source.record)
        out.append(build(source.record, source.path, base.system if base else None, measure, snippets=snippets, left_out=note))
    return out


def section(report: Report, data: list[dict[str, Any]] | None = None) -> str:
    """The explorer's HTML: heading, one container and JSON block per record, CSS and script once."""
    data = data_for(report) if data is None else data
    parts = ["<h2>Per-query explorer</h2>",
             '<p class="meta">Click a query for the top 10 of each system side by side: relevance labels as badges, and for every '
             "judged-relevant document its move from the baseline's rank (ranks from the run files, up to 100).</p>",
             f"<style>{static('explorer.css')}</style>"]
    for i, item in enumerate(data):
        if len(data) > 1:
            parts.append(f"<h3>{escape(item['record'])} ({escape(item['collection'])})</h3>")
        parts.append(f'<div class="explorer" id="explorer-{i}" data-source="explorer-data-{i}"></div>')
        parts.append(f'<script type="application/json" id="explorer-data-{i}">{embed_json(item)}</script>')
    parts.append(f"<script>{static('explorer.js')}</script>")
    return "\n".join(parts)
