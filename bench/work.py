"""Stages the engines run, and the one loop that runs them: resume, load and warm-up timing, per-query timing.

An :class:`EngineStage` turns its queries into units of work (one per query: a ranking
request, a BM25 query, ...) and builds a :class:`Worker` that turns a batch of units into
rows, one per query. Engines (``bench/engines``: ``local`` in this process, ``ray`` on
replicas) only decide where workers run and which batch goes where. What every stage shares
is written once, here:

* :func:`execute` (the driver): rows already in the partial run are kept, the rest are cut
  into batches of ``queries_per_batch``, each finished row is appended to the partial run
  as it arrives (once per query, whatever the engine retried), and the run, per-query
  milliseconds, pairs and cost are assembled from the rows;
* :class:`Runner` (wherever the worker lives): load and warm-up timed apart, each batch
  timed with the device synchronised, its milliseconds shared equally by its queries, and
  the next batch prepared (tokenised) in a thread while the current one runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from .partial import PartialRun
from .progress import progress
from .stages import Job, Stage, StageResult
from .trec import Run

log = logging.getLogger(__name__)


class Worker(Protocol):
    """What runs a stage's batches: built by :meth:`EngineStage.worker` wherever the engine runs it."""

    device: str

    def load(self) -> None: ...

    def warmup(self) -> None: ...

    def describe(self) -> dict[str, Any]: ...

    def prepare(self, units: list[Any]) -> Any: ...

    def process(self, prepared: Any) -> list[dict[str, Any]]: ...


class EngineStage(Stage):
    """A stage whose queries are units of work scheduled by an engine (rankers, BM25, dense encoding ...).

    ``engine`` and ``execution`` are set by the orchestration and are not part of the key: a
    run started on one worker can be finished on eight. ``queries_per_batch`` neither: the
    order inside each query must not depend on it. ``checkpoint`` False skips the partial run
    for a stage whose whole run takes seconds (BM25: a resume file would cost more than it saves).
    """

    engine: str = "local"
    execution: Any = None
    queries_per_batch: int = 1
    checkpoint: bool = True
    device: str = "cpu"

    def units(self, job: Job, input_run: Run | None, qids: list[str]) -> Iterator[Any]:
        """One unit per query of ``qids``, in order (each has a ``qid`` attribute or key)."""
        raise NotImplementedError

    def worker(self, device: str | None = None) -> Worker:
        """An unloaded worker (on ``device`` when the engine gives its replica its own)."""
        raise NotImplementedError

    def to_run(self, input_run: Run | None, row: dict[str, Any]) -> dict[str, float]:
        """One query's run entry from its finished row."""
        return dict(zip(row["docs"], row["scores"]))

    def check(self, job: Job, input_run: Run | None) -> None:
        """Refuse what cannot work before any worker starts (one-line errors)."""

    def run(self, job: Job, input_run: Run | None, partial: PartialRun, engine: Any = None) -> StageResult:
        if engine is None:
            raise RuntimeError(f"stage {self.name} needs an engine; the orchestration chooses one")
        self.check(job, input_run)
        return execute(self, job, input_run, partial, engine)


def unit_qid(unit: Any) -> str:
    return str(unit["qid"] if isinstance(unit, dict) else unit.qid)


def batched(units: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Consecutive batches of ``size`` units (the last may be shorter)."""
    batch: list[Any] = []
    for unit in units:
        batch.append(unit)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def execute(stage: EngineStage, job: Job, input_run: Run | None, partial: PartialRun, engine: Any) -> StageResult:
    """Run ``stage`` on ``engine`` for every query not already in the partial run; the result from all rows."""
    done = partial.rows() if stage.checkpoint else {}
    if done:
        log.info("%s: resuming, %d of %d queries already done (%s)", stage.name, len(done), len(job.qids), partial.path)
    todo = [q for q in job.qids if q not in done]
    resumed = len(job.qids) - len(todo)
    size = max(1, int(stage.queries_per_batch))
    info: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    load_s = warmup_s = wall_s = 0.0
    if todo:
        with engine.open(stage, len(todo)) as session:
            load_s, warmup_s = session.load_s, session.warmup_s
            resumed_s = sum(float(row["ms"]) for row in done.values()) / 1000.0 / max(1, session.workers)
            with partial.appending(done) if stage.checkpoint else _nothing(partial):
                started = time.perf_counter()
                rows = session.rows(batched(stage.units(job, input_run, todo), size))
                for row in progress(_flatten(rows), len(todo), stage.name):
                    if row["qid"] in done:  # a batch retried after its worker was lost, finished twice
                        log.debug("%s: query %s already written", stage.name, row["qid"])
                        continue
                    done[row["qid"]] = row
                    if stage.checkpoint:
                        partial.append(row)
                wall_s = time.perf_counter() - started + resumed_s
            info, extra = session.finish()
    else:
        info, extra = {}, {"engine": getattr(engine, "name", "local")}
    extra["queries_per_batch"] = size
    return result_from_rows(stage, job, input_run, done, load_s, warmup_s, wall_s, resumed, info, extra)


def result_from_rows(stage: EngineStage, job: Job, input_run: Run | None, done: dict[str, dict[str, Any]], load_s: float,
                     warmup_s: float, wall_s: float, resumed: int, info: dict[str, Any], extra: dict[str, Any]) -> StageResult:
    """The run, per-query ms, pairs, cost totals and traces of a finished stage."""
    from .ranking import Cost

    run: Run = {}
    latency: dict[str, float] = {}
    cost = Cost()
    traces: dict[str, list[dict[str, Any]]] = {}
    for qid in job.qids:
        row = done[qid]
        run[qid] = stage.to_run(input_run, row)
        latency[qid] = float(row["ms"])
        cost.add(row.get("cost") or {})
        if row.get("trace"):
            traces[qid] = row["trace"]
    pairs = cost.pairs if cost.pairs else None
    result = StageResult(run, latency, load_s, warmup_s, wall_s, pairs, resumed, info, extra)
    result.cost = cost.as_dict()
    result.traces = traces
    return result


class _nothing:
    def __init__(self, partial: PartialRun):
        self.partial = partial

    def __enter__(self) -> PartialRun:
        return self.partial

    def __exit__(self, *exc: Any) -> None:
        return None


def _flatten(batches: Iterable[list[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    for rows in batches:
        yield from rows


class Runner:
    """One worker and its clock: load and warm-up apart, each batch's time shared by its queries.

    A batch's milliseconds run from when it was asked for (or arrived, on a replica holding
    two batches) or when the previous batch finished, whichever is later, to its rows being
    ready with the device synchronised. Tokenisation not hidden behind the previous batch is
    therefore counted, and the driver's own work (writing rows) is not.
    """

    def __init__(self, worker: Worker):
        self.worker = worker
        self.load_s = 0.0
        self.warmup_s = 0.0
        self._last = 0.0
        self._prepare_lock = threading.Lock()
        self._model_lock = threading.Lock()

    def start(self, deadline: str | None = None) -> Runner:
        """Load and warm up, each timed; with ``deadline`` (the stage's name) the load is bounded by the load deadline."""
        from . import waits

        started = time.perf_counter()
        if deadline is not None:
            waits.load_model(deadline, self.worker.load)
        else:
            self.worker.load()
        self.load_s = time.perf_counter() - started
        started = time.perf_counter()
        self.worker.warmup()
        self.warmup_s = time.perf_counter() - started
        return self

    def _timed(self, prepared: Any, since: float) -> list[dict[str, Any]]:
        from .device import synchronize

        rows = self.worker.process(prepared)
        synchronize(self.worker.device)
        now = time.perf_counter()
        ms = (now - since) * 1000.0 / max(1, len(rows))
        self._last = now
        for row in rows:
            row["ms"] = ms
        return rows

    def process(self, units: list[Any], arrived: float | None = None) -> list[dict[str, Any]]:
        """One batch's rows, safe with two batches in flight (one preparing while the other runs)."""
        arrived = time.perf_counter() if arrived is None else arrived
        with self._prepare_lock:
            prepared = self.worker.prepare(units)
        with self._model_lock:
            return self._timed(prepared, max(arrived, self._last))

    def stream(self, batches: Iterable[list[Any]]) -> Iterator[list[dict[str, Any]]]:
        """Rows of each batch in order, preparing batch i+1 in a thread while batch i runs.

        An error raised while producing the next batch (by ``batches`` itself) surfaces only
        after the current batch has been yielded, so nothing finished is lost to the look-ahead.
        """
        source = iter(batches)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="bench-prepare") as pool:

            def submit() -> tuple[list[Any], Future[Any]] | BaseException | None:
                try:
                    batch = next(source)
                except StopIteration:
                    return None
                except BaseException as exc:  # re-raised after the current batch is done
                    return exc
                return batch, pool.submit(self.worker.prepare, batch)

            asked = time.perf_counter()
            pending = submit()
            while pending is not None:
                if isinstance(pending, BaseException):
                    raise pending
                _, future = pending
                prepared = future.result()
                pending = submit()
                rows = self._timed(prepared, asked)
                yield rows
                asked = time.perf_counter()  # the caller's own work between batches is not the stage's time
