"""The Ray engine: N replicas of a stage's worker (Ray actors, one per GPU by default), batches handed out as they free up.

The driver (the ``bench run`` process) holds the run's lock and is the only writer of the
partial run: workers return rows, the driver appends each as it arrives
(:func:`bench.work.execute`), so a driver killed mid-run resumes exactly as the local engine
does. Each worker holds at most :data:`~bench.engines.ray_worker.IN_FLIGHT` batches, so a
shard of long passages never stalls the others. A worker that dies (SIGKILL, out of memory, a
lost node) is replaced and the batches it held go back to the queue; rows are deduplicated by
query id before they are written, so none is lost and none written twice. The run comes from
the same rows as in-process, so its bytes match the local engine's on the same device type
and dtype. Any :class:`~bench.work.EngineStage` runs here. Ray is imported only inside
:meth:`RayEngine.open` and :meth:`RayEngine.check`.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ..config import ExecutionConfig
from ..errors import BenchError, ModelError
from .execution import cpus as worker_cpus
from .execution import gpus as worker_gpus
from .ray_worker import IN_FLIGHT, Pool, Slot, worker_device

log = logging.getLogger(__name__)

RESTARTS_PER_WORKER = 3  # replacements allowed per requested worker before the run gives up (finished queries are kept)
WAIT_S = 1.0  # ray.wait timeout: the driver wakes up this often (Ctrl-C and SIGTERM are handled promptly)


@dataclass(frozen=True)
class RayOptions:
    """Nothing beyond ``[execution]`` yet: workers, GPUs and CPUs per worker and the address live there."""


class RaySession:
    """Loaded replicas of one stage: batches in, rows out; engine facts at the end."""

    def __init__(self, ray: Any, stage: Any, pool: Pool, extra: dict[str, Any]):
        self.ray = ray
        self.stage = stage
        self.pool = pool
        self.extra = extra
        loads = [s.info for s in pool.slots if s.info]
        self.workers = len(loads)
        self.describe = loads[0].get("describe", {})
        self.load_s = max(i["load_s"] for i in loads)
        self.warmup_s = max(i["warmup_s"] for i in loads)

    def rows(self, batches: Iterable[list[Any]]) -> Iterator[list[dict[str, Any]]]:
        return _Scheduler(self.ray, self.pool, iter(batches)).rows()

    def finish(self) -> tuple[dict[str, Any], dict[str, Any]]:
        finals = self.pool.finals()
        peaks = [f["peak_gpu_memory_mb"] for f in finals if f.get("peak_gpu_memory_mb") is not None]
        describe = dict(finals[0]["describe"]) if finals and finals[0].get("describe") else dict(self.describe)
        batch_sizes = {f["describe"].get("batch_size") for f in finals if f.get("describe")}
        if len(batch_sizes) > 1:  # replicas backed off differently after OOM: say so rather than report one
            describe["batch_size"] = sorted(b for b in batch_sizes if b is not None)
        extra = dict(self.extra)
        extra["peak_gpu_memory_mb"] = max(peaks) if peaks else None
        extra["worker_info"] = self.pool.collect()
        extra["restarted_workers"] = self.pool.restarts
        extra["nodes"] = len({w.get("node") for w in extra["worker_info"] if w.get("node")})
        info = {**describe, "device": self.stage.device}  # as in-process: the stage's device, not each worker's view of it
        return info, extra


class RayEngine:
    name = "ray"
    Options = RayOptions

    @staticmethod
    def check(execution: ExecutionConfig) -> None:
        """Before any long work: Ray must be importable (a one-line error saying how to install it)."""
        from .ray_cluster import require_ray

        require_ray(execution)

    @staticmethod
    @contextlib.contextmanager
    def open(stage: Any, queries: int) -> Iterator[RaySession]:
        from .ray_cluster import session

        execution: ExecutionConfig = stage.execution or ExecutionConfig(engine="ray")
        device = stage.device
        gpus = worker_gpus(execution, device)
        cpus = worker_cpus(execution, device)
        inner = worker_device(device, gpus)
        batches = -(-queries // max(1, stage.queries_per_batch))
        workers = min(execution.workers, batches)
        extra: dict[str, Any] = {"engine": "ray", "workers": workers, "gpus_per_worker": gpus, "cpus_per_worker": cpus}
        with session(execution, workers, gpus, cpus) as (ray, facts):
            workers = min(workers, facts.pop("workers_fit"))
            extra.update(facts)
            extra["workers"] = workers
            pool = Pool(ray, stage, inner, gpus, cpus, RESTARTS_PER_WORKER * workers)
            try:
                for _ in range(workers):
                    pool.add()
                _wait_ready(ray, pool)
                ray_session = RaySession(ray, stage, pool, extra)
                log.info("%s: %d Ray workers on %s, loaded in %.1f s", stage.name, ray_session.workers, inner, ray_session.load_s)
                yield ray_session
            finally:
                pool.stop()


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
    """Hands batches to free workers and yields each finished batch's rows; a dead worker's batches are queued again."""

    def __init__(self, ray: Any, pool: Pool, items: Iterator[Any]):
        self.ray = ray
        self.pool = pool
        self.items = items
        self.retry: collections.deque[Any] = collections.deque()
        self.pending: dict[Any, tuple[Slot, Any]] = {}
        self.loading: dict[Any, Slot] = {}  # replacements still loading: they get queries once ready
        self.failures = _failures(ray)
        self.since: dict[Any, float] = {}  # when each pending batch was handed out, or a replacement started loading

    def _next(self) -> Any:
        if self.retry:
            return self.retry.popleft()
        return next(self.items, None)

    def _fill(self) -> None:
        for slot in self.pool.live():
            if not slot.info:
                if slot.ready_ref not in self.loading:
                    self.loading[slot.ready_ref] = slot
                    self.since[slot.ready_ref] = time.perf_counter()
                continue
            while slot.in_flight < IN_FLIGHT:
                item = self._next()
                if item is None:
                    return
                ref = slot.actor.process.remote(item)
                self.pending[ref] = (slot, item)
                self.since[ref] = time.perf_counter()
                slot.in_flight += 1

    def _overdue(self) -> None:
        """A worker past the batch deadline (hung mid-batch) or a replacement past the load deadline: replaced, its batches requeued."""
        from .. import waits

        now = time.perf_counter()
        batch_s, load_s = waits.limit("batch"), waits.limit("load")
        late = {slot.index: slot for ref, (slot, _) in self.pending.items() if now - self.since.get(ref, now) > batch_s}
        late.update({slot.index: slot for ref, slot in self.loading.items() if now - self.since.get(ref, now) > load_s})
        for slot in late.values():
            held = [ref for ref, (s, _) in self.pending.items() if s is slot]
            log.warning("worker %d is past its deadline (a batch over %s s, or loading over %s s; %s): it is replaced and its %d "
                        "batches queued again", slot.index, f"{batch_s:g}", f"{load_s:g}", waits.option("batch"), len(held))
            for ref in held:
                self.retry.append(self.pending.pop(ref)[1])
                slot.in_flight -= 1
            self.loading.pop(slot.ready_ref, None)
            self.pool.replace(slot, "past its deadline")
        if late:
            self._fill()

    def _lost(self, slot: Slot, exc: BaseException) -> None:
        self.pool.replace(slot, _reason(exc))

    def rows(self) -> Iterator[list[dict[str, Any]]]:
        self._fill()
        while self.pending or self.loading:
            self._overdue()
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
                    rows = self.ray.get(ref)
                except self.ray.exceptions.RayTaskError as exc:
                    _raise_cause(exc)
                except self.failures as exc:
                    log.warning("%d queries (from %s) lost with worker %d: queued again", len(item), _qid(item[0]), slot.index)
                    self.retry.append(item)
                    self._lost(slot, exc)
                    self._fill()
                    continue
                slot.queries += len(rows)
                slot.ms.extend(float(row["ms"]) for row in rows)
                yield rows
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


def _qid(unit: Any) -> str:
    from ..work import unit_qid

    return unit_qid(unit)
