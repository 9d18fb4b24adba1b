"""The per-query explorer's data: per query the first measure per system and Δ, and its drill-down.

One JSON object per results record, embedded in report.html. The drill-down holds each
system's top 10 (trec_eval order, read from the run files), the labels of the documents
shown, and for every judged-relevant document shown its rank in each system up to
``DEPTH`` (``null``: not in the top ``DEPTH``), so the page can say "37 → 2". Snippets
are kept only for the documents shown, at most ``SNIPPET`` characters each, which keeps
DL19 with three systems well under a megabyte. Missing run files or a missing collection
leave gaps (``null``) and a note, never an error. The report option ``snippets = false``
leaves the passage text out (for reports committed where the corpus must not be redistributed).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from . import explorer_windows, record_inputs

log = logging.getLogger(__name__)

TOP = 10
DEPTH = 100
SNIPPET = 300
RELEVANT = 1  # labels >= 1 count as relevant for the moves shown (graded labels stay visible as badges)
MAX_DRILL = 500  # queries with a drill-down; beyond that (MS MARCO dev: 6,980) the ones with the largest |Δ|


def snippet(text: str, limit: int = SNIPPET) -> str:
    """Whitespace collapsed, cut at a word boundary, at most ``limit`` characters including the ellipsis."""
    flat = re.sub(r"\s+", " ", text).strip()
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip() + "…"


def baseline_name(systems: list[dict[str, Any]], wanted: str | None) -> str:
    """The report's baseline when this record has it, else the record's first stage (first system without a model)."""
    names = [s["name"] for s in systems]
    if wanted in names:
        return str(wanted)
    return str(next((s["name"] for s in systems if s.get("model") is None), names[0]))


def _read_runs(systems: list[dict[str, Any]], record_path: Path, notes: list[str]) -> list[dict[str, list[str]] | None]:
    """Per system {qid: doc ids in trec_eval order, cut at DEPTH}, or None when its run file is gone."""
    from ..errors import BenchError
    from ..trec import ranked, read_run

    out: list[dict[str, list[str]] | None] = []
    for system in systems:
        path = record_inputs.run_file(system, record_path)
        if path is None:
            notes.append(f"run file of {system['name']} not found ({system.get('run_file')}): its top {TOP} is not shown.")
            out.append(None)
            continue
        try:
            run = read_run(path)
        except BenchError as exc:
            notes.append(f"run file of {system['name']} unreadable: {exc}")
            out.append(None)
            continue
        out.append({q: [d for d, _ in ranked(docs)[:DEPTH]] for q, docs in run.items()})
    return out


def _value(system: dict[str, Any], measure: str, qid: str) -> float | None:
    value = ((system.get("per_query") or {}).get(measure) or {}).get(qid)
    return None if value is None else float(value)


def build(record: dict[str, Any], record_path: str | Path, baseline: str | None = None, measure: str | None = None,
          collection: Any | None = None, load: bool = True, snippets: bool = True, left_out: str | None = None) -> dict[str, Any]:
    """The explorer's JSON for one record (``collection``: an already loaded one; ``load=False``: do not look for it)."""
    from ..trec import qid_order

    path = Path(record_path)
    systems = list(record["systems"])
    measure = measure or (record.get("measures") or list(systems[0]["metrics"]))[0]
    base = baseline_name(systems, baseline)
    base_i = [s["name"] for s in systems].index(base)
    notes: list[str] = []
    if collection is None and load:
        collection, why = record_inputs.load_collection(record, path)
        if collection is None:
            notes.append(f"collection unavailable ({why}): no query text, snippets or labels.")
    elif collection is None:
        notes.append("collection not loaded: no query text, snippets or labels.")
    queries_text: dict[str, str] = collection.queries if collection is not None else {}
    qrels: dict[str, dict[str, int]] | None = collection.qrels if collection is not None else None
    qids = qid_order(((systems[base_i].get("per_query") or {}).get(measure) or {}).keys())
    runs = _read_runs(systems, path, notes)
    traces = explorer_windows.read(systems, path, notes, snippet if snippets else None)  # listwise windows, per system
    rows, shown = [], set()
    drill: dict[str, dict[str, Any]] = {}
    for qid in qids:
        values = [_value(s, measure, qid) for s in systems]
        b = values[base_i]
        deltas = [None if i == base_i or v is None or b is None else v - b for i, v in enumerate(values)]
        rows.append({"qid": qid, "text": queries_text.get(qid), "values": values, "deltas": deltas})
    drilled = _drilled(rows)
    if len(drilled) < len(rows):
        notes.append(f"drill-downs for the {len(drilled)} queries with the largest |Δ| of {len(rows)} (size budget).")
    for qid in (r["qid"] for r in rows if r["qid"] in drilled):
        tops = [None if run is None else run.get(qid, [])[:TOP] for run in runs]
        if all(t is None for t in tops):
            continue
        judged = qrels.get(qid, {}) if qrels is not None else {}
        docs = list(dict.fromkeys(d for t in tops if t for d in t))
        shown.update(docs)
        positions = [None if run is None else {d: i + 1 for i, d in enumerate(run.get(qid, []))} for run in runs]
        ranks = {d: [None if p is None else p.get(d) for p in positions] for d in docs if judged.get(d, 0) >= RELEVANT}
        drill[qid] = {"top": tops, "labels": {d: judged[d] for d in docs if d in judged} if qrels is not None else None, "ranks": ranks}
        windows = [None if t is None else t.get(qid) for t in traces]
        if any(windows):
            drill[qid]["windows"] = windows
    texts: dict[str, str] = {}
    if not snippets:
        notes.append(left_out or "passage text left out (report option snippets = false): the drill-down shows ids and labels.")
    elif collection is not None and shown:
        texts = _snippets(collection, sorted(shown), notes)
    for note in notes:
        log.warning("explorer (%s): %s", path, note)
    return {
        "record": str(record.get("name") or path.parent.name),
        "collection": str(record["collection"]["name"]),
        "measure": measure,
        "systems": [s["name"] for s in systems],
        "baseline": base_i,
        "top": TOP,
        "depth": DEPTH,
        "relevant": RELEVANT,
        "labelled": qrels is not None,
        "queries": rows,
        "drill": drill,
        "docs": texts,
        "notes": notes,
    }


def _drilled(rows: list[dict[str, Any]]) -> set[str]:
    """Every query, or the MAX_DRILL with the largest |Δ| for any system."""
    if len(rows) <= MAX_DRILL:
        return {r["qid"] for r in rows}
    spread = sorted(rows, key=lambda r: -max((abs(d) for d in r["deltas"] if d is not None), default=0.0))
    return {r["qid"] for r in spread[:MAX_DRILL]}


def _snippets(collection: Any, doc_ids: list[str], notes: list[str]) -> dict[str, str]:
    if collection.docs is None:
        notes.append(f"collection {collection.name} has no document text: the drill-down shows ids and labels only.")
        return {}
    try:
        texts = collection.docs.get_many(doc_ids)
    except Exception as exc:  # an ir_datasets docstore that cannot download: ids and labels still help
        notes.append(f"document text unavailable ({type(exc).__name__}: {exc}): the drill-down shows ids and labels only.")
        return {}
    return {d: snippet(texts[d]) for d in doc_ids if d in texts}
