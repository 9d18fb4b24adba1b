"""The Ray engine: N replicas of a reranker (Ray actors, one per GPU by default), whole queries handed out as they free up.

The driver (the ``bench run`` process) holds the run's lock and is the only writer of the
partial run: workers return rows, the driver appends each as it arrives, so a driver
killed mid-run resumes exactly as the local engine does. Each worker holds at most
:data:`~bench.engines.ray_worker.IN_FLIGHT` queries, so a shard of long passages never
stalls the others. A worker that dies (SIGKILL, out of memory, a lost node) is replaced
and the queries it held go back to the queue; rows are deduplicated by query id before
they are written, so none is lost and none written twice. The final run comes from the
same ``stage.finish`` as in-process, so its bytes match the local engine's on the same
device type and dtype. Ray is imported only inside :meth:`RayEngine.run` and
:meth:`RayEngine.check`.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Iterator
from typing import Any

from ..errors import BenchError, ModelError
from ..partial import PartialRun
from ..progress import progress
from ..stages import Job, StageResult
from ..trec import Run
from .execution import ExecutionConfig
from .ray_worker import IN_FLIGHT, Pool, Slot, worker_device

log = logging.getLogger(__name__)

RESTARTS_PER_WORKER = 3  # replacements allowed per requested worker before the run gives up (finished queries are kept)
WAIT_S = 1.0  # ray.wait timeout: the driver wakes up this often (Ctrl-C and SIGTERM are handled promptly)


class RayEngine:
    @staticmethod
    def check(execution: ExecutionConfig) -> None:
        """Before any long work: Ray must be importable (a one-line error saying how to install it)."""
        from .ray_cluster import require_ray

        require_ray(execution)

    @staticmethod
    def run(stage: Any, job: Job, input_run: Run, partial: PartialRun) -> StageResult:
        from .ray_cluster import session

        execution: ExecutionConfig = stage.engine_options or ExecutionConfig(engine="ray")
        done = partial.rows()
        if done:
            log.info("%s: resuming, %d of %d queries already done (%s)", stage.name, len(done), len(job.qids), partial.path)
        todo = [q for q in job.qids if q not in done]
        resumed = len(job.qids) - len(todo)
        device = stage.settings.device
        gpus = execution.gpus(device)
        cpus = execution.cpus(device)
        inner = worker_device(device, gpus)
        extra: dict[str, Any] = {"engine": "ray", "workers": execution.workers, "gpus_per_worker": gpus,
                                 "cpus_per_worker": cpus, "worker_info": []}
        if not todo:  # everything was in the partial run: no need to start Ray
            run, latency, pairs = stage.finish(input_run, job.qids, done)
            return StageResult(run, latency, 0.0, 0.0, 0.0, pairs, resumed, {}, extra)
        workers = min(execution.workers, len(todo))
        with session(execution, workers, gpus, cpus) as (ray, facts):
            workers = min(workers, facts.pop("workers_fit"))
            extra.update(facts)
            pool = Pool(ray, stage, inner, gpus, cpus, RESTARTS_PER_WORKER * workers)
            try:
                for _ in range(workers):
                    pool.add()
                _wait_ready(ray, pool)
                loads = [s.info for s in pool.slots if s.info]
                describe = loads[0].get("describe", {})
                load_s = max(i["load_s"] for i in loads)
                warmup_s = max(i["warmup_s"] for i in loads)
                log.info("%s: %d Ray workers on %s (%s), loaded in %.1f s", stage.name, len(loads), inner, stage.settings.dtype, load_s)
                resumed_s = sum(float(row["ms"]) for row in done.values()) / 1000.0 / workers
                with partial.appending(done):
                    loop_started = time.perf_counter()
                    scheduler = _Scheduler(ray, pool, stage.items(job, input_run, todo))
                    for row in progress(scheduler.rows(), len(todo), stage.name):
                        if row["qid"] in done:  # a query retried after its worker was lost, finished twice
                            log.debug("%s: query %s already written", stage.name, row["qid"])
                            continue
                        done[row["qid"]] = row
                        partial.append(row)
                    wall_s = time.perf_counter() - loop_started + resumed_s
                extra["peak_gpu_memory_mb"] = pool.peak_memory_mb()
                extra["worker_info"] = pool.collect()
            finally:
                pool.stop()
        extra["workers"] = workers
        extra["restarted_workers"] = pool.restarts
        extra["nodes"] = len({w.get("node") for w in extra["worker_info"] if w.get("node")})
        run, latency, pairs = stage.finish(input_run, job.qids, done)
        info = {**describe, "device": device}  # as in-process: the stage's device, not each worker's view of it
        return StageResult(run, latency, load_s, warmup_s, wall_s, pairs, resumed, info, extra)


def _failures(ray: Any) -> tuple[type[BaseException], ...]:
    """The errors that mean a worker (not the query) failed: its queries go to another worker."""
    errors = ray.exceptions
    names = ("RayActorError", "WorkerCrashedError", "NodeDiedError", "OutOfMemoryError", "ObjectLostError", "OwnerDiedError")
    return tuple(getattr(errors, n) for n in names if hasattr(errors, n))


def _raise_cause(exc: BaseException) -> None:
    """A worker's own error (a bad model, a non-finite score) surfaces as the same one-line error as in-process."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, (BenchError, KeyboardInterrupt)):
        raise cause from None
    raise exc


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"[:200]


def _wait_ready(ray: Any, pool: Pool, patience_s: float = 120.0) -> None:
    """:func:`_wait_ready_within` the ``load`` deadline (bench.waits): none ready in time is one line; the heartbeat says how many are."""
    from .. import waits

    fix = f"raise {waits.option('load')} for a model that needs longer; else check the workers' logs and the cluster's free resources"
    with waits.waiting(f"Ray workers of {pool.stage.name} to start and load the model", waits.limit("load"), fix, ModelError) as wait:
        _wait_ready_within(ray, pool, wait, patience_s)


def _wait_ready_within(ray: Any, pool: Pool, wait: Any, patience_s: float) -> None:
    """Block until every worker has loaded (so the stage's wall time excludes loading), replacing any that die.

    A worker still unscheduled after ``patience_s`` or the deadline (a cluster waiting for its autoscaler)
    does not hold up the others: the run starts once one is ready, and it joins when it is.
    """
    failures = _failures(ray)
    started = last_note = time.perf_counter()
    while True:
        waiting = [s for s in pool.live() if not s.info]
        if not waiting:
            return
        now = time.perf_counter()
        if (now - started > patience_s or wait.passed()) and any(s.info for s in pool.live()):
            log.warning("starting with %d workers; %d more join when Ray has room for them", len(pool.live()) - len(waiting), len(waiting))
            return
        if now - last_note > 5 or wait.passed():  # what the heartbeat and the deadline's line say
            wait.detail = f"{len(waiting)} of {len(pool.live())} workers not ready; free cluster resources: {ray.available_resources()}"
            last_note = now
        wait.check()
        ready, _ = ray.wait([s.ready_ref for s in waiting], num_returns=len(waiting), timeout=WAIT_S)
        for slot in waiting:
            if slot.ready_ref not in ready:
                continue
            try:
                slot.info = ray.get(slot.ready_ref)
            except ray.exceptions.RayTaskError as exc:
                _raise_cause(exc)
            except failures as exc:
                pool.replace(slot, _reason(exc))


class _Scheduler:
    """Hands queries to free workers and yields finished rows; a dead worker's queries are queued again."""

    def __init__(self, ray: Any, pool: Pool, items: Iterator[Any]):
        self.ray = ray
        self.pool = pool
        self.items = items
        self.retry: collections.deque[Any] = collections.deque()
        self.pending: dict[Any, tuple[Slot, Any]] = {}
        self.loading: dict[Any, Slot] = {}  # replacements still loading: they get queries once ready
        self.failures = _failures(ray)

    def _next(self) -> Any:
        if self.retry:
            return self.retry.popleft()
        return next(self.items, None)

    def _fill(self) -> None:
        for slot in self.pool.live():
            if not slot.info:
                self.loading.setdefault(slot.ready_ref, slot)
                continue
            while slot.in_flight < IN_FLIGHT:
                item = self._next()
                if item is None:
                    return
                (qid, ids), query, passages = item
                self.pending[slot.actor.score.remote(qid, ids, query, passages)] = (slot, item)
                slot.in_flight += 1

    def _lost(self, slot: Slot, exc: BaseException) -> None:
        self.pool.replace(slot, _reason(exc))

    def rows(self) -> Iterator[dict[str, Any]]:
        self._fill()
        while self.pending or self.loading:
            ready, _ = self.ray.wait([*self.pending, *self.loading], num_returns=1, timeout=WAIT_S)
            for ref in ready:
                if ref in self.loading:
                    slot = self.loading.pop(ref)
                    try:
                        slot.info = self.ray.get(ref)
                    except self.ray.exceptions.RayTaskError as exc:
                        _raise_cause(exc)
                    except self.failures as exc:
                        self._lost(slot, exc)
                    self._fill()
                    continue
                slot, item = self.pending.pop(ref)
                slot.in_flight -= 1
                try:
                    row = self.ray.get(ref)
                except self.ray.exceptions.RayTaskError as exc:
                    _raise_cause(exc)
                except self.failures as exc:
                    log.warning("query %s lost with worker %d: queued again", item[0][0], slot.index)
                    self.retry.append(item)
                    self._lost(slot, exc)
                    self._fill()
                    continue
                slot.queries += 1
                slot.ms.append(float(row["ms"]))
                yield row
                self._fill()
            if not self.pending and (self.retry or self._has_more()) and not self.loading:
                raise BenchError("no Ray worker is left to score the remaining queries; run the same command again to resume")

    def _has_more(self) -> bool:
        """Whether unread items remain (peeked into the retry queue so none is skipped)."""
        item = next(self.items, None)
        if item is None:
            return False
        self.retry.append(item)
        return True
