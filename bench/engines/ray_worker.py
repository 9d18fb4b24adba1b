"""One replica of a stage's worker in a Ray actor, and the driver's handle on each replica.

:class:`StageWorker` is created with the stage (plain dataclasses and located folders, so it
pickles), builds the stage's worker and loads it in its constructor; Ray holds method calls
until the constructor returns. It processes whole batches of queries through a
:class:`~bench.work.Runner`, the same clock as in-process: with two batches in flight one is
prepared (tokenised) while the other runs, and a batch's milliseconds run from the later of
its arrival and the previous batch's end to its rows (device synchronised).

A load failure is kept and raised by every call, so the driver sees the original
:class:`~bench.errors.BenchError` (one line) rather than a dead actor.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

IN_FLIGHT = 2  # batches handed to a worker at once: one running, one being prepared


class StageWorker:
    """A loaded worker of a stage on the replica's device; ``process`` returns one finished batch's rows."""

    def __init__(self, stage: Any, index: int, device: str, threads: int):
        import torch

        from ..device import describe_device
        from ..work import Runner

        torch.set_num_threads(threads)
        self.index = index
        self.device = device
        self._error: BaseException | None = None
        self.runner: Any = None
        self.info: dict[str, Any] = {"worker": index, "node": _node_id(), "host": socket.gethostname(), "pid": os.getpid(),
                                     "device": device, "torch_threads": torch.get_num_threads()}
        try:
            runner = Runner(stage.worker(device)).start()
            self.info["load_s"] = runner.load_s
            self.info["warmup_s"] = runner.warmup_s
            self.info["device_name"] = describe_device(device).get("name")
            self.info["describe"] = runner.worker.describe()
            self.runner = runner
        except BaseException as exc:  # raised again by every call, so the driver gets the real error
            self._error = exc

    def ready(self) -> dict[str, Any]:
        """Where this worker runs and how long it took to load and warm up."""
        if self._error is not None:
            raise self._error
        return dict(self.info)

    def process(self, units: list[Any]) -> list[dict[str, Any]]:
        """One batch's rows for the partial run (``qid``, ``docs``, ``scores``, ``ms`` ...)."""
        if self._error is not None:
            raise self._error
        return self.runner.process(units, time.perf_counter())  # type: ignore[no-any-return]

    def final(self) -> dict[str, Any]:
        """What ran, described after the work (the batch size actually used), and the device's peak memory."""
        from ..device import peak_memory_mb

        return {"describe": self.runner.worker.describe() if self.runner else {}, "peak_gpu_memory_mb": peak_memory_mb(self.device)}


def _node_id() -> str | None:
    try:
        import ray

        return str(ray.get_runtime_context().get_node_id())
    except Exception:  # outside Ray (a unit test constructing the class directly)
        return None


@dataclass
class Slot:
    """The driver's view of one replica: its actor, the queries it holds, and what it reported."""

    index: int
    actor: Any
    ready_ref: Any
    in_flight: int = 0
    queries: int = 0
    final: dict[str, Any] = field(default_factory=dict)
    alive: bool = True
    info: dict[str, Any] = field(default_factory=dict)
    death: str | None = None
    ms: list[float] = field(default_factory=list)  # its finished queries' milliseconds

    def record(self) -> dict[str, Any]:
        """This worker's entry in the latency record's ``worker_info``: facts, queries, busy seconds, median ms per query."""
        import statistics

        out = {"worker": self.index, **{k: v for k, v in self.info.items() if k != "describe"}, "queries": self.queries,
               "busy_s": sum(self.ms) / 1000.0, "p50_ms": statistics.median(self.ms) if self.ms else None}
        if self.death:
            out["died"] = self.death
        return out


def worker_device(device: str, gpus: float) -> str:
    """The device inside a worker: ``cuda`` is the GPU Ray gave it (CUDA_VISIBLE_DEVICES), so any index is dropped."""
    from ..errors import ConfigError

    if device.startswith("cuda"):
        if gpus <= 0:
            raise ConfigError(f"device {device!r} needs a GPU per worker; set gpus_per_worker above 0 in [execution] or use --device cpu")
        return "cuda"
    return device


class Pool:
    """The replicas of one stage: started, replaced when they die, asked for their facts at the end."""

    def __init__(self, ray: Any, stage: Any, device: str, gpus: float, cpus: int, max_restarts: int):
        self.ray = ray
        self.stage = stage
        self.device = device
        self.gpus = gpus
        self.cpus = cpus
        self.max_restarts = max_restarts
        self.restarts = 0
        self.slots: list[Slot] = []
        self._cls = ray.remote(StageWorker)

    def add(self) -> Slot:
        options: dict[str, Any] = {"num_cpus": self.cpus, "num_gpus": self.gpus, "max_concurrency": IN_FLIGHT, "max_restarts": 0}
        actor = self._cls.options(**options).remote(self.stage, len(self.slots), self.device, self.cpus)
        slot = Slot(len(self.slots), actor, actor.ready.remote())
        self.slots.append(slot)
        return slot

    def live(self) -> list[Slot]:
        return [s for s in self.slots if s.alive]

    def replace(self, slot: Slot, reason: str) -> Slot | None:
        """Mark ``slot`` dead and start another replica (None once the restart budget is spent)."""
        from ..errors import ModelError

        if not slot.alive:
            return None
        slot.alive = False
        slot.death = reason
        try:
            self.ray.kill(slot.actor, no_restart=True)
        except Exception:  # already gone
            pass
        if self.restarts >= self.max_restarts:
            if self.live():
                log.warning("worker %d died (%s); not replaced (%d restarts used), continuing on %d", slot.index, reason,
                            self.restarts, len(self.live()))
                return None
            raise ModelError(
                f"every Ray worker died ({self.restarts} restarts, last: {reason}); check the workers' memory and logs, "
                "then run the same command again: finished queries are kept"
            )
        self.restarts += 1
        new = self.add()
        log.warning("worker %d died (%s): its queries go to the others, worker %d replaces it", slot.index, reason, new.index)
        return new

    def collect(self, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Every replica's facts (node, device, load and warm-up seconds, queries scored, death)."""
        for slot in self.slots:
            if slot.info:
                continue
            try:
                slot.info = self.ray.get(slot.ready_ref, timeout=timeout)
            except Exception:  # died before it reported
                slot.info = {}
        return [slot.record() for slot in self.slots]

    def finals(self, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Each live replica's description after the work and its peak device memory."""
        for slot in self.live():
            try:
                slot.final = self.ray.get(slot.actor.final.remote(), timeout=timeout)
            except Exception:  # died at the end: its facts are lost, not the run
                slot.final = {}
        return [s.final for s in self.live() if s.final]

    def stop(self) -> None:
        for slot in self.slots:
            try:
                self.ray.kill(slot.actor, no_restart=True)
            except Exception:
                pass
