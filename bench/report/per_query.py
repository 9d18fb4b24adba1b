"""The per-query table of a results record as a DataFrame, for notebooks (``bench.load_per_query``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def load_per_query(path: str | os.PathLike[str], baseline: str | None = None, text: bool = True) -> Any:
    """One row per (query, system, measure): value, the baseline's value and Δ = value − baseline.

    ``text`` adds the query text from the record's collection when it can be found (else None);
    ``baseline`` defaults to the record's first stage, as in the report.
    """
    import pandas as pd

    from ..results import read
    from ..trec import qid_order
    from .explorer_data import baseline_name
    from .record_inputs import load_collection

    record = read(path)
    systems = record["systems"]
    base = next(s for s in systems if s["name"] == baseline_name(systems, baseline))
    queries: dict[str, str] = {}
    if text:
        collection, _ = load_collection(record, Path(path))
        queries = collection.queries if collection is not None else {}
    rows = []
    for measure in record.get("measures") or list(systems[0]["metrics"]):
        base_values = (base.get("per_query") or {}).get(measure) or {}
        for system in systems:
            values = (system.get("per_query") or {}).get(measure) or {}
            for qid in qid_order(values):
                b = base_values.get(qid)
                rows.append({
                    "experiment": record.get("name"), "collection": record["collection"]["name"], "qid": qid,
                    "query": queries.get(qid), "system": system["name"], "measure": measure, "value": float(values[qid]),
                    "baseline": base["name"], "baseline_value": None if b is None else float(b),
                    "delta": None if b is None else float(values[qid]) - float(b),
                })
    return pd.DataFrame(rows)
