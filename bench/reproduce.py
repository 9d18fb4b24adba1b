"""``bench reproduce``: re-run a recorded experiment and compare every metric.

A committed results record is a promise: re-running its config must give the same
metrics within a tolerance (1e-4 by default). Runs are recomputed from scratch into a
separate folder (never read back from a cache), then each system's metrics are compared
with the record. Latency is reported as a ratio and only fails when
``--latency-tolerance`` is given. On drift the error names what differs in the
environment (library versions, device), the usual cause.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError, DriftError

log = logging.getLogger(__name__)


@dataclass
class Row:
    """One compared number."""

    system: str
    measure: str
    expected: float | None
    got: float | None

    @property
    def delta(self) -> float | None:
        if self.expected is None or self.got is None:
            return None
        return self.got - self.expected


def compare_metrics(expected: dict[str, Any], got: dict[str, Any]) -> list[Row]:
    """Pair systems by name and measures by name; a system or measure present on one side only is a row with None."""
    rows = []
    got_systems = {s["name"]: s for s in got["systems"]}
    exp_systems = {s["name"]: s for s in expected["systems"]}
    for name in [*exp_systems, *(n for n in got_systems if n not in exp_systems)]:
        exp_metrics = (exp_systems.get(name) or {}).get("metrics", {})
        got_metrics = (got_systems.get(name) or {}).get("metrics", {})
        for measure in [*exp_metrics, *(m for m in got_metrics if m not in exp_metrics)]:
            rows.append(Row(name, measure, exp_metrics.get(measure), got_metrics.get(measure)))
    return rows


def environment_differences(expected: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """Library versions and device facts that differ between the record and this run."""
    diffs = []
    for section in ("versions", "device"):
        old, new = expected.get(section) or {}, got.get(section) or {}
        for key in sorted(set(old) | set(new)):
            if key in ("torch_threads",) and section == "device":
                continue
            if old.get(key) != new.get(key):
                diffs.append(f"{section}.{key}: {old.get(key)} -> {new.get(key)}")
    return diffs


def latency_ratios(expected: dict[str, Any], got: dict[str, Any]) -> dict[str, float]:
    """got / expected p50 ms per query for each system that has both."""
    out = {}
    got_systems = {s["name"]: s for s in got["systems"]}
    for system in expected["systems"]:
        old = (system.get("latency") or {}).get("p50_ms")
        new = ((got_systems.get(system["name"]) or {}).get("latency") or {}).get("p50_ms")
        if old and new:
            out[system["name"]] = new / old
    return out


def format_rows(rows: list[Row], tolerance: float) -> str:
    from .report.render_md import markdown

    def fmt(v: float | None) -> str:
        return "missing" if v is None else f"{v:.6f}"

    table = []
    for r in rows:
        ok = (r.delta is not None and abs(r.delta) <= tolerance) or (r.expected, r.got) == (None, None)  # null: not reported either time
        table.append([r.system, r.measure, fmt(r.expected), fmt(r.got), "-" if r.delta is None else f"{r.delta:+.6f}", "ok" if ok else "DRIFT"])
    return markdown(["system", "measure", "expected", "got", "delta", ""], table)


def reproduce(
    record_path: str | os.PathLike[str],
    tolerance: float = 1e-4,
    latency_tolerance: float | None = None,
    data_dir: str | None = None,
    output: str | Path | None = None,
) -> tuple[str, dict[str, Any]]:
    """Re-run the record's experiment; return the comparison text, or raise DriftError."""
    import dataclasses

    from . import config as cfg
    from . import experiment, results

    if tolerance < 0:
        raise ConfigError(f"--tolerance must be >= 0, got {tolerance}")
    expected = results.read(record_path)
    config = cfg.from_dict(dict(expected["config"]), where=f"{record_path}: config")
    if data_dir:
        config = dataclasses.replace(config, data_dir=os.path.abspath(data_dir))
    experiment_file = expected.get("experiment_file")
    if experiment_file and not Path(experiment_file).is_file():
        log.warning("recorded experiment file %s not found; a relative data_dir is taken from the current folder", experiment_file)
        experiment_file = None
    with tempfile.TemporaryDirectory(prefix="bench-reproduce-") as tmp:
        if expected.get("pyterrier"):  # made by bench.pyterrier.evaluate: its pipelines are rebuilt from their factories
            from .pyterrier.rerun import rerun

            got = rerun(expected, record_path, data_dir, output or tmp)
        else:
            got = experiment.run(config, output=output or tmp, force=True, experiment_file=experiment_file).record
    rows = compare_metrics(expected, got)
    text = format_rows(rows, tolerance)
    ratios = latency_ratios(expected, got)
    if ratios:
        text += "\nlatency (p50 ms per query, this run / recorded): " + ", ".join(f"{k} x{v:.2f}" for k, v in ratios.items()) + "\n"
    drift = [r for r in rows if (r.delta is None and (r.expected, r.got) != (None, None)) or (r.delta is not None and abs(r.delta) > tolerance)]
    slow = {k: v for k, v in ratios.items() if latency_tolerance is not None and v > latency_tolerance}
    if drift or slow:
        env = environment_differences(expected, got)
        what = []
        if drift:
            worst = max(drift, key=lambda r: float("inf") if r.delta is None else abs(r.delta))
            shown = "missing" if worst.expected is None or worst.got is None else f"{worst.expected:.6f} -> {worst.got:.6f}"
            what.append(f"{len(drift)} metric(s) drifted beyond {tolerance:g}, e.g. {worst.system} {worst.measure} {shown}")
        if slow:
            what.append(f"latency beyond x{latency_tolerance:g}: " + ", ".join(f"{k} x{v:.2f}" for k, v in slow.items()))
        envtext = "; environment differs: " + ", ".join(env) if env else "; environment matches the record"
        raise DriftError(f"{record_path}: " + "; ".join(what) + envtext, text)
    return text, got
