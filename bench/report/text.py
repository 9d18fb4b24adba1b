"""Words shared by every format: title, legend, caption, the win/tie/loss grid."""

from __future__ import annotations

from .compare import DEGRADED, IMPROVED, Column, Report, Row
from .significance import N_RESAMPLES, SEED, TESTS


def title(report: Report) -> str:
    names = list(dict.fromkeys(s.experiment for s in report.sources))
    return "Report: " + ", ".join(names)


def header(report: Report, column: Column) -> str:
    """A column's one-line header (collection prefix only when several collections share the table)."""
    return f"{column.collection} {column.name}" if column.collection else column.name


def collections_line(report: Report) -> str:
    return "; ".join(f"{c} ({report.queries(c)} judged queries)" for c in report.collections)


def baseline_line(report: Report) -> str:
    """Who the baseline is: one system, or a system per collection; each record's own one when rows carry record labels."""
    bases = {c.base.label for c in report.comparisons if c.base is not None}
    systems = {c.base.system for c in report.comparisons if c.base is not None}
    if not bases:
        bases = {r.label for r in report.baselines.values()}
    if len(bases) == 1:
        return next(iter(bases))
    primary = {r.label for r in report.baselines.values()}
    by_input = [c for c in report.comparisons if c.base is not None and c.base is not report.baselines.get(c.collection)]
    if len(primary) == 1 and by_input and all(c.row.variant is None for c in by_input):  # several first stages in one record
        return f"the first stage each reranker reads; first stages against {next(iter(primary))}"
    if len(systems) == 1:
        return f"{next(iter(systems))} of the same record"
    return ", ".join(f"{row.label} ({c})" for c, row in report.baselines.items())


def test_description(report: Report) -> str:
    text = TESTS[report.test]
    if report.test == "randomization":
        text += f" ({N_RESAMPLES:,} sign flips, seed {SEED}; exact when there are fewer sign patterns)"
    return text


def legend(report: Report) -> list[str]:
    """The marker legend: what †, ‡, bold and Δ rows mean."""
    m = len(report.comparisons)
    lines = [
        f"{IMPROVED} significantly better than the baseline ({baseline_line(report)}), "
        f"{DEGRADED} significantly worse: two-sided {test_description(report)} on per-query values, "
        f"Holm–Bonferroni corrected over all {m} comparisons in the table, α = {report.alpha:g}.",
        "Bold: best per column (measures and pairs/s: highest; latency and rerank seconds: lowest).",
        "Latency: end-to-end milliseconds per query, through every stage up to this one (first stage, then each reranker "
        "of the cascade; a precomputed first stage has none, '-'); stage p50 ms/q (cascades): the stage's own; pairs/s and "
        "rerank s: the stage's reranking throughput (pairs over its wall time) and total reranking time; params: model parameters.",
    ]
    if any(r.is_difference for r in report.rows):
        lines.append(
            f"Δ rows: the later measurement minus the first; {IMPROVED}/{DEGRADED} there mark a significant "
            "improvement/degradation between the two measurements (in the same Holm family)."
        )
    return lines


def caption(report: Report) -> str:
    """The LaTeX caption: collection(s), measures, what the daggers and bold mean."""
    measures = ", ".join(report.measures)
    return (
        f"Effectiveness ({measures}) and latency on {collections_line(report)}. "
        f"{IMPROVED}/{DEGRADED}: significantly better/worse than {baseline_line(report)} "
        f"(two-sided {TESTS[report.test]} on per-query values, Holm–Bonferroni over {len(report.comparisons)} comparisons, "
        f"α = {report.alpha:g}). Best per column in bold. Latency: ms per query (p50, p95), reranking pairs/s and total seconds."
    )


def wtl_columns(report: Report) -> list[tuple[str, str]]:
    """(collection, measure) pairs of the win/tie/loss grid."""
    return [(c, m) for c in report.collections for m in report.measures]


def wtl_rows(report: Report) -> list[tuple[Row, list[str]]]:
    """Rows compared with something, and 'W/T/L' per (collection, measure)."""
    out = []
    for row in report.rows:
        cells = []
        for collection, measure in wtl_columns(report):
            c = report.comparison(row, collection, measure)
            cells.append(f"{c.wins}/{c.ties}/{c.losses}" if c else "-")
        if any(cell != "-" for cell in cells):
            out.append((row, cells))
    return out


def wtl_header(report: Report, collection: str, measure: str) -> str:
    return f"{collection} {measure}" if report.multi_collection else measure


def record_lines(report: Report) -> list[str]:
    """Provenance per record: file, experiment, commit, device, config hash."""
    lines = []
    for s in report.sources:
        device = s.record.get("device") or {}
        dev = device.get("name") or device.get("type") or "?"
        lines.append(
            f"{s.label}: {s.path} — experiment {s.experiment}, collection {s.collection}, commit {s.commit}, "
            f"device {device.get('type', '?')} ({dev}), config {s.record.get('config_hash', '?')}"
        )
    return lines
