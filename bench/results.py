"""The results record: one JSON file per experiment, the only input reports and the leaderboard read.

This module owns it: :func:`build` evaluates every stage's run and assembles the record,
:func:`write` stores it, :func:`read` checks one, and the accessors give typed views
(:func:`stage_latency`, :func:`load_results`). ``schema_version`` 2 holds the collection, the
full config, library versions, device, git commit and, per system, the run file, its input
stage, mean and per-query metrics, its own latency (``stage``: per query, pairs/s over the
stage's wall time, load and warm-up apart) and the cascade's cumulative latency per query
(``p50_ms`` ... ``per_query_ms``: what a query costs through every stage up to this one).
Records of schema 1 still read.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from .errors import DataError

SCHEMA_VERSION = 2

PACKAGES = ("bench", "torch", "transformers", "tokenizers", "ranx", "numba", "numpy", "bm25s", "PyStemmer", "rank-bm25", "ir_datasets", "pandas",
            "faiss-cpu")

NOTES = [
    "Documents below each reranker's top_k keep their input stage's order, so depth-based measures (R@1000) "
    "equal the first stage's.",
    "Latency (p50/p95 ms per query): cumulative over the cascade (first stage plus every reranker up to this one); "
    "each stage's own figures are under latency.stage; model load and warm-up excluded (load_s, warmup_s).",
]


def versions() -> dict[str, str | None]:
    """Installed versions of everything that can change a number."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit(start: Path | None = None) -> dict[str, Any]:
    """The commit of the checkout bench runs from, and whether it had local changes."""
    where = start or Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5)
        if head.returncode != 0:
            return {"commit": None, "dirty": None}
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where, capture_output=True, text=True, timeout=5)
        return {"commit": head.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def _system_latency(output: Any, cumulative_ms: dict[str, float] | None, is_reranker: bool) -> dict[str, Any]:
    from .latency import summarize

    latency = dict(output.latency)
    latency["input"] = output.input
    if is_reranker:  # the report's reranker columns (pairs/s, rerank s) read this name
        latency["rerank"] = latency.get("stage")
    total = summarize(cumulative_ms) if cumulative_ms else None
    if total:
        latency.update({k: total[k] for k in ("p50_ms", "p95_ms", "p99_ms", "mean_ms", "total_s")})
        latency["per_query_ms"] = cumulative_ms
    latency["cached"] = output.cached
    return latency


def _unranked(name: str, evaluation: Any, measures: list[Any], size: int) -> tuple[dict[str, float | None], dict[str, Any], str]:
    """Null the measures an unordered set cannot have (its order is doc-id order); the note says which stay."""
    from .collection.unranked import order_free

    kept = [m.name for m in measures if order_free(m, size)]
    metrics = {m: (v if m in kept else None) for m, v in evaluation.metrics.items()}
    per_query = {m: v for m, v in evaluation.per_query.items() if m in kept}
    stays = f"; {', '.join(kept)} do not depend on order and stay" if kept else ""
    note = (f"{name} is an unranked candidate set (every score is equal; up to {size} per query): its order is "
            f"doc-id order, so its effectiveness measures are not reported (null){stays}.")
    return metrics, per_query, note


def build(
    config: Any,
    collection: Any,
    measures: list[Any],
    outputs: list[Any],
    qrels: dict[str, dict[str, int]],
    runs_dir: Path,
    wall_s: float,
    git: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Evaluate every stage's run and assemble the record (``git``: the commit when the run started)."""
    from .collection.unranked import is_unranked, set_size
    from .config import to_dict
    from .device import describe_device
    from .evaluate import evaluate
    from .latency import cumulative
    from .store import stable_hash

    qids = list(qrels)
    cumulative_ms: dict[str, dict[str, float] | None] = {}
    rows = []
    notes = list(NOTES)
    for output in outputs:
        before = cumulative_ms.get(output.input) if output.input else None
        for name in getattr(output, "inputs", ()):  # a fusion: a query costs every input it fused (run one after another)
            before = cumulative(before, cumulative_ms.get(name), qids)
        cumulative_ms[output.name] = cumulative(before, output.latency.get("stage_ms"), qids)
        evaluation, rule_notes = evaluate(collection, qrels, output.run, measures, output.name)
        notes += [n for n in rule_notes if n not in notes]
        metrics: dict[str, float | None] = dict(evaluation.metrics)
        per_query: dict[str, Any] = evaluation.per_query
        unranked = output.input is None and is_unranked(output.run, qids)
        if unranked:
            metrics, per_query, note = _unranked(output.name, evaluation, measures, set_size(output.run, qids))
            notes.append(note)
        rows.append({
            "name": output.name,
            "model": output.model,
            "input": output.input,
            **({"inputs": list(output.inputs)} if getattr(output, "inputs", ()) else {}),
            "run_file": str(output.run_file),
            "hash": output.hash,
            "metrics": metrics,
            "per_query": per_query,
            "latency": _system_latency(output, cumulative_ms[output.name], output.input is not None),
            **({"cost": output.info["cost"]} if output.info.get("cost") else {}),
            "info": output.info,
            **({"unranked": True} if unranked else {}),
        })
    devices = sorted({o.info["device"] for o in outputs if o.info.get("device")})
    record_config = to_dict(config)
    from .orders import robustness

    by_order, order_notes = robustness(rows)  # a system run in several initial orders: each order's metrics and the spread
    notes += order_notes
    return {
        "schema_version": SCHEMA_VERSION,
        "name": config.experiment_name,
        "collection": collection.describe(),
        "config": record_config,
        "config_hash": stable_hash(record_config),
        "measures": [m.name for m in measures],
        "queries": len(qrels),
        "versions": versions(),
        "device": describe_device(devices[0]) if devices else {"type": "cpu", "name": platform.processor() or platform.machine()},
        "git": git if git is not None else git_commit(),
        "wall_s": wall_s,
        "notes": notes,
        "systems": rows,
        "runs_dir": str(runs_dir),
        **({"order_robustness": by_order} if by_order else {}),
    }


def write(record: dict[str, Any], reports_dir: Path, experiment: str) -> Path:
    """``reports/<experiment>/results.json``, atomically; concurrent runs of one experiment: the last complete record wins."""
    from .store import file_lock, safe_name, write_json

    path = reports_dir / safe_name(experiment, "experiment name") / "results.json"
    with file_lock(path):
        write_json(path, record)
    return path


def read(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check a results record."""
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: results file not found; run `python -m bench run` first") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a valid results file ({exc})") from None
    if not isinstance(record, dict) or "systems" not in record or "schema_version" not in record:
        raise DataError(f"{path}: not a bench results record (no schema_version/systems)")
    if record["schema_version"] > SCHEMA_VERSION:
        raise DataError(f"{path}: schema_version {record['schema_version']} is newer than this bench ({SCHEMA_VERSION}); upgrade bench")
    return record


def stage_latency(system: dict[str, Any]) -> dict[str, Any]:
    """A system's own stage latency (schema 2 ``stage``; schema 1 ``rerank`` or ``first_stage``)."""
    latency = system.get("latency") or {}
    return latency.get("stage") or latency.get("rerank") or (latency.get("first_stage") if not system.get("model") else None) or {}


def load_results(path: str | os.PathLike[str]) -> Any:
    """A results record as a DataFrame: one row per system and measure, with latency columns."""
    import pandas as pd

    record = read(path)
    rows = []
    for system in record["systems"]:
        latency = system.get("latency") or {}
        own = stage_latency(system)
        for measure, value in system["metrics"].items():
            rows.append({
                "experiment": record.get("name"),
                "collection": record["collection"]["name"],
                "system": system["name"],
                "model": system.get("model"),
                "input": system.get("input"),
                "measure": measure,
                "value": value,
                "p50_ms": latency.get("p50_ms"),
                "p95_ms": latency.get("p95_ms"),
                "stage_p50_ms": own.get("p50_ms"),
                "pairs_per_s": own.get("pairs_per_s"),
                "stage_total_s": own.get("total_s"),
                "parameters": (system.get("info") or {}).get("parameters") if system.get("model") else None,
                "commit": (record.get("git") or {}).get("commit"),
                "run_file": system.get("run_file"),
            })
    return pd.DataFrame(rows)
