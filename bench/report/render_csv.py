"""CSV: one tidy row per (system, collection, column), with raw and Holm-corrected p-values.

Tidy rather than wide so pandas/R can filter and pivot it; numbers are unrounded.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from .compare import Report
from .figures import Figure

FIELDS = ("system", "record", "row", "collection", "kind", "column", "value", "bold", "against", "queries", "delta",
          "wins", "ties", "losses", "test", "p_value", "p_holm", "marker")


def _num(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def render(report: Report, figures: Sequence[Figure] = ()) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELDS)
    for row in report.rows:
        for column in report.columns:
            cell = report.cell(row, column)
            collections = [column.collection] if column.collection else report.collections
            collection = next((c for c in collections if c in row.entries or c in row.pairs), collections[0])
            c = report.comparison(row, collection, column.name) if column.kind == "measure" else None
            writer.writerow([
                row.system, row.variant or "", row.label, collection if column.kind != "parameters" else "", column.kind, column.name,
                _num(cell.value), int(cell.bold),
                c.against if c else "", c.queries if c else "", _num(c.delta) if c else "",
                c.wins if c else "", c.ties if c else "", c.losses if c else "",
                report.test if c else "", _num(c.p) if c else "", _num(c.p_holm) if c else "", cell.marker,
            ])
    return out.getvalue()
