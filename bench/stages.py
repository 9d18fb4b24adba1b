"""The stage contract and the one function that owns the cache protocol for every stage.

A stage (each first stage, each reranker) is an object with

* ``name``: its system name (the run file's prefix and the row in the results),
* ``key()``: a plain dict of everything that changes its output; it is hashed whole,
  together with its input stage's hash, so a new option can never be forgotten in a
  field-by-field list, and
* ``run(job, input_run, partial)``: its run for ``job.qids``, with per-query
  milliseconds, and load and warm-up timed apart (:class:`StageResult`).

:func:`cached_stage` is the cache protocol: hash -> lock -> reuse -> compute -> atomic
write -> ``.meta.json``. A stage that writes finished queries to its :class:`PartialRun`
resumes after an interruption; the partial file is removed once the run is saved.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .partial import PartialRun
from .store import file_lock, safe_name, stable_hash, write_json
from .trec import Run, read_run, write_run

log = logging.getLogger(__name__)


@dataclass
class Job:
    """What every stage of one experiment shares: the queries, where runs go, whether to recompute."""

    collection: Any  # bench.collection.Collection
    qids: list[str]
    runs_dir: Path
    force: bool = False

    @property
    def queries(self) -> dict[str, str]:
        return {q: self.collection.queries[q] for q in self.qids}

    def run_file(self, name: str, run_hash: str) -> Path:
        return self.runs_dir / safe_name(self.collection.name, "collection name") / f"{safe_name(name)}-{run_hash}.trec"


@dataclass
class StageResult:
    """What computing a stage gives: the run and how long it took.

    ``latency_ms`` is per query (the stage's own time, load and warm-up excluded);
    ``wall_s`` is the stage's wall time over the queries (pairs/s = pairs / wall_s).
    """

    run: Run
    latency_ms: dict[str, float] | None
    load_s: float = 0.0
    warmup_s: float = 0.0
    wall_s: float | None = None
    pairs: int | None = None
    resumed: int = 0
    info: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # engine facts: workers, devices, peak memory ...
    cost: dict[str, int] = field(default_factory=dict)  # summed over queries: pairs, calls, tokens, malformed ... (bench.ranking.Cost)
    traces: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # per query, one record per model call


@dataclass
class StageOutput:
    """A finished stage: one row of the results (computed now or reused from disk)."""

    name: str
    model: str | None
    run: Run
    run_file: Path
    hash: str
    latency: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)
    input: str | None = None
    cached: bool = False
    inputs: tuple[str, ...] = ()  # the stages a fusion stage read (input is then None)


class Stage(ABC):
    """A step that produces a run: a first stage (input None) or a reranker (input: an earlier stage's run)."""

    name: str
    model: str | None = None

    @abstractmethod
    def key(self) -> dict[str, Any]:
        """Everything that changes this stage's output, as plain JSON values."""

    @abstractmethod
    def run(self, job: Job, input_run: Run | None, partial: PartialRun, engine: Any = None) -> StageResult:
        """The run for ``job.qids`` (finished queries may be appended to ``partial`` for resuming).

        ``engine`` is the execution engine the orchestration chose for this stage (stages that
        schedule work, :class:`bench.work.EngineStage`, run on it; others ignore it).
        """


def _meta_path(run_file: Path) -> Path:
    return run_file.with_name(run_file.stem + ".meta.json")


def trace_path(run_file: Path) -> Path:
    """Where a stage's model calls are kept: one JSON line per query (``qid``, ``calls``), gzipped."""
    return run_file.with_name(run_file.stem + ".trace.jsonl.gz")


def _write_traces(run_file: Path, qids: list[str], traces: dict[str, list[dict[str, Any]]]) -> Path | None:
    import gzip

    from .store import atomic_open

    if not traces:
        trace_path(run_file).unlink(missing_ok=True)
        return None
    path = trace_path(run_file)
    lines = "".join(json.dumps({"qid": q, "calls": traces[q]}) + "\n" for q in qids if q in traces)
    with atomic_open(path, "wb") as fh:
        fh.write(gzip.compress(lines.encode("utf-8"), mtime=0))  # mtime 0: the same calls give the same bytes
    return path


def _load_meta(run_file: Path, run_hash: str) -> dict[str, Any] | None:
    meta_file = _meta_path(run_file)
    if not (run_file.is_file() and meta_file.is_file()):
        return None
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return meta if meta.get("hash") == run_hash else None


def stage_hash(stage: Stage, input_hash: str) -> str:
    """The stage's key hashed whole with its input's hash (the first stage's input is its queries)."""
    return stable_hash({"key": stage.key(), "input": input_hash})


def cost_record(result: StageResult, queries: int) -> dict[str, Any] | None:
    """What the stage spent: totals and means per query (calls, tokens, windows, malformed outputs ...)."""
    if not result.cost:
        return None
    per_query = {k: v / queries for k, v in result.cost.items()} if queries else {}
    out: dict[str, Any] = {"total": dict(result.cost), "per_query": per_query}
    if result.cost.get("calls"):
        out["malformed_rate"] = result.cost.get("malformed", 0) / result.cost["calls"]
    return out


def latency_record(result: StageResult) -> dict[str, Any]:
    """The stage's own latency: per-query summary, pairs/s over wall time, load and warm-up apart."""
    from .latency import summarize

    own = summarize(result.latency_ms, result.pairs, result.wall_s) if result.latency_ms else None
    return {
        "stage": own,
        "stage_ms": result.latency_ms,
        "load_s": result.load_s,
        "warmup_s": result.warmup_s,
        "resumed_queries": result.resumed,
        **result.extra,
    }


def cached_stage(stage: Stage, job: Job, upstream: StageOutput | list[StageOutput] | None, engine: Any = None) -> StageOutput:
    """Reuse the stage's run when one with the same hash exists, else compute and save it atomically.

    ``upstream`` is the stage it reads, or a list of stages (fusion): then its input hash
    covers every input's, its input run is ``{name: run}`` and its output lists them in ``inputs``.
    """
    several = list(upstream) if isinstance(upstream, list) else []
    single = upstream if isinstance(upstream, StageOutput) else None
    if several:
        input_hash = stable_hash({"inputs": [[u.name, u.hash] for u in several]})
        input_run: Any = {u.name: u.run for u in several}
    else:
        input_hash = single.hash if single is not None else stable_hash({"queries": job.queries})
        input_run = single.run if single is not None else None
    inputs = tuple(u.name for u in several)
    run_hash = stage_hash(stage, input_hash)
    run_file = job.run_file(stage.name, run_hash)
    partial = PartialRun.for_run(run_file, run_hash)
    input_name = single.name if single is not None else None
    with file_lock(run_file):
        meta = None if job.force else _load_meta(run_file, run_hash)
        if meta:
            log.info("%s: reusing %s", stage.name, run_file)
            partial.discard()  # left if a run was killed after saving, before cleaning up
            return StageOutput(stage.name, stage.model, read_run(run_file), run_file, run_hash, meta["latency"], meta["info"],
                               input_name, cached=True, inputs=inputs)
        if job.force:
            partial.discard()
        result = stage.run(job, input_run, partial, engine)
        latency = latency_record(result)
        cost = cost_record(result, len(job.qids))
        if cost:
            result.info["cost"] = cost
        traces = _write_traces(run_file, job.qids, result.traces)
        if traces:
            result.info["trace_file"] = traces.name
        meta = {"system": safe_name(stage.name), "hash": run_hash, "input": input_name, "input_hash": input_hash,
                "key": stage.key(), "latency": latency, "info": result.info, **({"inputs": list(inputs)} if inputs else {})}
        write_run(result.run, run_file, tag=meta["system"])
        write_json(_meta_path(run_file), meta)
        partial.discard()
    return StageOutput(stage.name, stage.model, result.run, run_file, run_hash, latency, result.info, input_name, inputs=inputs)
