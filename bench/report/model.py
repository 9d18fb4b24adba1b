"""The report's data model: columns, rows, paired comparisons, cells (built by :mod:`bench.report.compare`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .sources import Source

# (header, path into system["latency"], better)
LATENCY_COLUMNS = (
    ("p50 ms/q", ("p50_ms",), "min"),
    ("p95 ms/q", ("p95_ms",), "min"),
    ("pairs/s", ("rerank", "pairs_per_s"), "max"),
    ("rerank s", ("rerank", "total_s"), "min"),
)
# shown when a reranker reads another reranker: the stage's own ms per query beside the cascade's cumulative ones
CASCADE_COLUMNS = (("stage p50 ms/q", ("stage", "p50_ms"), "min"),)
# what a query cost in model calls and tokens (path into system["cost"]); a column is shown when some system spent that unit
COST_COLUMNS = (
    ("calls/q", ("per_query", "calls"), "min"),
    ("in tok/q", ("per_query", "input_tokens"), "min"),
    ("out tok/q", ("per_query", "output_tokens"), "min"),
    ("$/q", ("per_query", "usd"), "min"),
    ("malformed %", ("malformed_rate",), "min"),
)


@dataclass(frozen=True)
class Column:
    """One table column: a measure, a latency figure or the parameter count, for one collection."""

    collection: str | None
    name: str
    kind: str  # "measure" | "latency" | "cost" | "parameters"
    better: str | None  # "max" | "min" | None (never bolded)
    path: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.collection or ''}|{self.name}"

    def format(self, value: float | None, signed: bool = False) -> str:
        """Display text: 4 decimals for measures, sensible precision for the rest, '-' when absent."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "-"
        sign = "+" if signed else ""
        if self.kind == "measure":
            return f"{value:{sign}.4f}"
        if self.kind == "parameters":
            return _count(value, signed)
        if self.name == "malformed %":
            return f"{100 * value:{sign}.1f}"
        digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
        return f"{value:{sign},.{digits}f}"


def _count(value: float, signed: bool) -> str:
    sign = "+" if signed and value >= 0 else "-" if value < 0 else ""
    v = abs(value)
    for unit, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= scale:
            return f"{sign}{v / scale:.1f}{unit}"
    return f"{sign}{int(v)}"


@dataclass
class Row:
    """A system (in one record per collection), or the difference between two measurements of one."""

    system: str
    variant: str | None = None
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)  # collection -> system record
    pairs: dict[str, tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=dict)  # collection -> (later, earlier)
    against: str | None = None  # difference rows: the earlier variant

    @property
    def is_difference(self) -> bool:
        return bool(self.pairs)

    @property
    def key(self) -> tuple[str, str | None, str | None]:
        return (self.system, self.variant, self.against)

    @property
    def label(self) -> str:
        if self.is_difference:
            return f"Δ {self.system} ({self.variant} − {self.against})"
        return self.system if self.variant is None else f"{self.system} [{self.variant}]"


@dataclass
class Comparison:
    """One paired test: a row against the baseline (or a later measurement against an earlier one)."""

    row: Row
    collection: str
    measure: str
    against: str
    base: Row | None  # the baseline row (None for a difference row: later vs earlier measurement)
    queries: int
    delta: float
    wins: int
    ties: int
    losses: int
    p: float
    p_holm: float = 1.0
    marker: str = ""


@dataclass
class Cell:
    value: float | None
    text: str
    bold: bool = False
    marker: str = ""


IMPROVED, DEGRADED = "†", "‡"


@dataclass
class Report:
    """Everything the renderers need; built by :func:`build_report`."""

    sources: list[Source]
    collections: list[str]
    measures: list[str]
    columns: list[Column]
    rows: list[Row]
    baselines: dict[str, Row]  # collection -> the baseline row of its first record
    comparisons: list[Comparison]
    test: str
    alpha: float
    cells: dict[tuple[tuple[str, str | None, str | None], str], Cell]
    notes: list[str]
    options: Any = None  # bench.report.options.ReportOptions: what the report contains
    _index: dict[tuple[tuple[str, str | None, str | None], str, str], Comparison] = field(default_factory=dict, repr=False)

    @property
    def multi_collection(self) -> bool:
        return len(self.collections) > 1

    @property
    def first_measure(self) -> str:
        return self.measures[0]

    def is_baseline(self, row: Row) -> bool:
        return not row.is_difference and not any(c.row is row for c in self.comparisons) and any(
            c.base is row for c in self.comparisons
        )

    def cell(self, row: Row, column: Column) -> Cell:
        return self.cells[(row.key, column.key)]

    def comparison(self, row: Row, collection: str, measure: str) -> Comparison | None:
        """The test of ``row`` on one collection and measure (None for a baseline or a missing value)."""
        if len(self._index) != len(self.comparisons):
            self._index = {(c.row.key, c.collection, c.measure): c for c in self.comparisons}
        return self._index.get((row.key, collection, measure))

    def queries(self, collection: str) -> int:
        return max(int(s.record.get("queries") or 0) for s in self.sources if s.collection == collection)
