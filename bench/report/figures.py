"""Figures: effectiveness against p95 latency with the Pareto frontier, against model calls and tokens, and per-query differences.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, so no global backend
state), saved as PNG and SVG bytes without timestamps.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

from .compare import Report, Row
from .frontier import pareto_front

TRADEOFF = "effectiveness-latency"
COST = "effectiveness-cost"
PER_QUERY = "per-query-delta"
COST_AXES = (("calls", "model calls per query"), ("tokens", "prompt + generated tokens per query"))


@dataclass
class Figure:
    name: str
    caption: str
    png: bytes
    svg: bytes


def _save(fig: Any, name: str, caption: str) -> Figure:
    import matplotlib

    fig.tight_layout()
    png, svg = io.BytesIO(), io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "bench", "svg.fonttype": "none"}):
        fig.savefig(png, format="png", dpi=110, metadata={"Software": None})
        fig.savefig(svg, format="svg", metadata={"Date": None})
    return Figure(name, caption, png.getvalue(), svg.getvalue())


def _new_figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def tradeoff_points(report: Report, collection: str) -> tuple[list[tuple[Row, float, float]], list[tuple[Row, float]]]:
    """(row, p95 ms, effectiveness) for rows with latency, and (row, effectiveness) for rows without."""
    measure = report.first_measure
    timed, untimed = [], []
    for row in report.rows:
        system = row.entries.get(collection)
        if row.is_difference or system is None or system["metrics"].get(measure) is None:  # null: an unranked set
            continue
        p95 = (system.get("latency") or {}).get("p95_ms")
        if isinstance(p95, (int, float)) and p95 > 0:
            timed.append((row, float(p95), float(system["metrics"][measure])))
        else:
            untimed.append((row, float(system["metrics"][measure])))
    return timed, untimed


def tradeoff(report: Report) -> Figure:
    """Effectiveness (first measure) against p95 latency per query, one panel per collection."""
    n = len(report.collections)
    fig = _new_figure(min(6.4 * n, 13.0), 4.6)
    for i, collection in enumerate(report.collections):
        ax = fig.add_subplot(1, n, i + 1)
        timed, untimed = tradeoff_points(report, collection)
        front = set(pareto_front([(lat, eff) for _, lat, eff in timed]))
        for j, (row, lat, eff) in enumerate(timed):
            on = j in front
            ax.scatter([lat], [eff], s=60 if on else 40, color="#1f77b4" if on else "#9aa5b1", zorder=3,
                       edgecolor="black" if on else "none")
            ax.annotate(row.label, (lat, eff), textcoords="offset points", xytext=(6, 5), fontsize=8)
        if front:
            pts = sorted((timed[j][1], timed[j][2]) for j in front)
            xs = [p[0] for p in pts]
            ys = [p[1] for p in pts]
            right = max(lat for _, lat, _ in timed) * 3
            ax.plot([*xs, right], [*ys, ys[-1]], drawstyle="steps-post", color="#1f77b4", lw=1.5, label="Pareto frontier", zorder=2)
        for row, eff in untimed:
            ax.axhline(eff, color="#d62728", ls="--", lw=1)
            ax.annotate(f"{row.label} (no latency: precomputed)", (0.01, eff), xycoords=("axes fraction", "data"),
                        textcoords="offset points", xytext=(2, 3), fontsize=8, color="#d62728")
        lats = [lat for _, lat, _ in timed]
        if lats and max(lats) / min(lats) > 20:
            ax.set_xscale("log")
            ax.set_xlim(min(lats) / 1.6, max(lats) * 2.5)  # room for the labels right of the points
        elif lats:
            span = (max(lats) - min(lats)) or max(lats)
            ax.set_xlim(max(0.0, min(lats) - 0.15 * span), max(lats) + 0.45 * span)
        effs = [e for _, _, e in timed] + [e for _, e in untimed]
        if effs:
            pad = max(0.02, (max(effs) - min(effs)) * 0.15)
            ax.set_ylim(min(effs) - pad, max(effs) + pad)
        ax.set_xlabel("p95 latency per query (ms)")
        ax.set_ylabel(report.first_measure)
        ax.set_title(collection, fontsize=10)
        ax.grid(True, alpha=0.3)
        if front:
            ax.legend(loc="lower right", fontsize=8)
    caption = f"{report.first_measure} against p95 latency per query; the line is the Pareto frontier (filled points are on it)."
    return _save(fig, TRADEOFF, caption)


def per_query_panels(report: Report) -> list[tuple[str, Row, Row, list[float]]]:
    """(collection, row, per-query differences sorted descending) for every row compared with the baseline."""
    measure = report.first_measure
    panels = []
    for comparison in report.comparisons:
        if comparison.measure != measure or comparison.row.is_difference:
            continue
        mine = comparison.row.entries[comparison.collection]["per_query"][measure]
        assert comparison.base is not None
        base = comparison.base.entries[comparison.collection]["per_query"][measure]
        diffs = sorted((float(mine[q]) - float(base[q]) for q in base if q in mine), reverse=True)
        panels.append((comparison.collection, comparison.row, comparison.base, diffs))
    return panels


def per_query(report: Report) -> Figure:
    """Per-query difference from the baseline, sorted, one bar chart per system and collection."""
    panels = per_query_panels(report)
    cols = min(3, max(1, len(panels)))
    rows = max(1, math.ceil(len(panels) / cols))
    fig = _new_figure(min(4.6 * cols, 13.0), 3.2 * rows)
    measure = report.first_measure
    for i, (collection, row, base_row, diffs) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, i + 1)
        colors = ["#2ca02c" if d > 0 else "#d62728" if d < 0 else "#9aa5b1" for d in diffs]
        ax.bar(range(len(diffs)), diffs, color=colors, width=0.85)
        ax.axhline(0, color="black", lw=0.8)
        title = f"{row.label} − {base_row.label}" + (f" ({collection})" if report.multi_collection else "")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(f"queries, sorted ({len(diffs)})", fontsize=8)
        ax.set_ylabel(f"Δ {measure}", fontsize=8)
        ax.set_xticks([])
        ax.grid(True, axis="y", alpha=0.3)
    if not panels:
        ax = fig.add_subplot(1, 1, 1)
        ax.text(0.5, 0.5, "no system to compare with the baseline", ha="center", va="center")
        ax.set_axis_off()
    caption = f"Per-query {measure} difference from the baseline, sorted (green: better, red: worse)."
    return _save(fig, PER_QUERY, caption)


def cost_per_query(system: dict[str, Any], unit: str) -> tuple[float | None, str]:
    """Calls or tokens one query cost, and a note: a pointwise system's pairs are its calls (one input each)."""
    spent = (system.get("cost") or {}).get("per_query") or {}
    if unit == "calls":
        if spent.get("calls"):
            return float(spent["calls"]), ""
        return (float(spent["pairs"]), "pairs") if spent.get("pairs") else (None, "")
    tokens = float(spent.get("input_tokens") or 0) + float(spent.get("output_tokens") or 0)
    return (tokens, "") if tokens else (None, "")


def has_cost(report: Report) -> bool:
    """Whether some system billed model calls or tokens (only then is the cost figure drawn)."""
    spent = [((s.get("cost") or {}).get("per_query") or {}) for row in report.rows for s in row.entries.values()]
    return any(x.get("calls") or x.get("input_tokens") or x.get("output_tokens") for x in spent)


def cost_points(report: Report, collection: str, unit: str) -> tuple[list[tuple[Row, float, float, str]], list[tuple[Row, float]]]:
    """(row, cost per query, effectiveness, note) for rows that spent the unit, and (row, effectiveness) for the others."""
    measure = report.first_measure
    placed, unplaced = [], []
    for row in report.rows:
        system = row.entries.get(collection)
        if row.is_difference or system is None or system["metrics"].get(measure) is None:
            continue
        value, note = cost_per_query(system, unit)
        if value is not None and value > 0:
            placed.append((row, value, float(system["metrics"][measure]), note))
        else:
            unplaced.append((row, float(system["metrics"][measure])))
    return placed, unplaced


def cost(report: Report) -> Figure:
    """Effectiveness against model calls and against tokens per query (log scale), one row of two panels per collection."""
    n = len(report.collections)
    fig = _new_figure(12.0, 4.4 * n)
    for r, collection in enumerate(report.collections):
        for c, (unit, label) in enumerate(COST_AXES):
            ax = fig.add_subplot(n, 2, 2 * r + c + 1)
            placed, unplaced = cost_points(report, collection, unit)
            front = set(pareto_front([(x, eff) for _, x, eff, _ in placed]))
            for j, (row, x, eff, note) in enumerate(placed):
                on = j in front
                ax.scatter([x], [eff], s=60 if on else 40, color="#2ca02c" if on else "#9aa5b1", zorder=3, edgecolor="black" if on else "none")
                ax.annotate(row.label + (f" ({note})" if note else ""), (x, eff), textcoords="offset points", xytext=(6, 5), fontsize=8)
            for row, eff in unplaced:
                ax.axhline(eff, color="#d62728", ls="--", lw=1)
                ax.annotate(f"{row.label} (no {unit} billed)", (0.01, eff), xycoords=("axes fraction", "data"), textcoords="offset points",
                            xytext=(2, 3), fontsize=8, color="#d62728")
            xs = [x for _, x, _, _ in placed]
            if xs:
                ax.set_xscale("log")
                ax.set_xlim(min(xs) / 2, max(xs) * 4)  # room for the labels right of the points
            effs = [e for _, _, e, _ in placed] + [e for _, e in unplaced]
            if effs:
                pad = max(0.02, (max(effs) - min(effs)) * 0.15)
                ax.set_ylim(min(effs) - pad, max(effs) + pad)
            ax.set_xlabel(label)
            ax.set_ylabel(report.first_measure)
            ax.set_title(collection, fontsize=10)
            ax.grid(True, alpha=0.3)
    caption = (f"{report.first_measure} against model calls and against prompt + generated tokens per query (log scale; filled points "
               "are on the Pareto frontier). A pointwise system's calls are its pairs, one model input each; dashed lines: no such cost billed.")
    return _save(fig, COST, caption)


def render(report: Report) -> list[Figure]:
    """The trade-off and per-query figures, and the cost figure when some system billed calls or tokens."""
    return [tradeoff(report), *([cost(report)] if has_cost(report) else []), per_query(report)]
