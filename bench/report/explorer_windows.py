"""Listwise windows in the explorer's drill-down: each window of a query, read from the system's trace file.

A listwise stage writes one trace entry per window (``<run>.trace.jsonl.gz``: the window's
span, its parse status, the missing / duplicate / out-of-range counts, the raw answer and
the order it left). The drill-down shows them per system, so a reader sees which windows
of a query were malformed and what the model wrote. Answers are cut to ``RAW`` characters,
and left out with the passage text (report option ``snippets = false``): a model may quote
a passage.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import record_inputs

RAW = 160


def _window(call: dict[str, Any], cut: Callable[[str, int], str] | None) -> dict[str, Any]:
    out = {k: call.get(k) for k in ("window", "pass", "status", "missing", "duplicate", "out_of_range", "order")}
    if cut is not None:
        out["raw"] = cut(str(call.get("raw") or ""), RAW)
    return out


def read(systems: list[dict[str, Any]], record_path: Path, notes: list[str],
         cut: Callable[[str, int], str] | None = None) -> list[dict[str, list[dict[str, Any]]] | None]:
    """Per system {qid: its windows}, or None (no trace, or the trace file is gone); answers shortened by ``cut`` (None: left out)."""
    from ..stages import trace_path

    out: list[dict[str, list[dict[str, Any]]] | None] = []
    for system in systems:
        if not (system.get("info") or {}).get("trace_file"):
            out.append(None)
            continue
        run = record_inputs.run_file(system, record_path)
        path = trace_path(run) if run is not None else None
        if path is None or not path.is_file():
            notes.append(f"trace file of {system['name']} not found: its windows are not shown.")
            out.append(None)
            continue
        windows: dict[str, list[dict[str, Any]]] = {}
        for line in gzip.decompress(path.read_bytes()).decode("utf-8").splitlines():
            row = json.loads(line)
            calls = [_window(c, cut) for c in row.get("calls") or [] if isinstance(c, dict) and "window" in c and "status" in c]
            if calls:
                windows[str(row["qid"])] = calls
        out.append(windows or None)
    return out
