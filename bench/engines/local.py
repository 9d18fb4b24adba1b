"""The in-process engine: one worker on one device, batch after batch.

The worker runs batch i while a background thread prepares (tokenises) batch i+1
(:meth:`bench.work.Runner.stream`), so a query's time is pipeline time: from the driver
asking for its batch to the batch's rows being ready (device synchronised), shared equally by
the batch's queries. Load and warm-up are timed apart.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from ..options import NoOptions
from ..work import EngineStage, Runner

log = logging.getLogger(__name__)


class LocalSession:
    """A loaded worker in this process."""

    workers = 1

    def __init__(self, stage: EngineStage, runner: Runner):
        self.stage = stage
        self.runner = runner
        self.load_s = runner.load_s
        self.warmup_s = runner.warmup_s

    def rows(self, batches: Iterable[list[Any]]) -> Iterator[list[dict[str, Any]]]:
        return self.runner.stream(batches)

    def finish(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """What ran (described after the work: a batch size halved by an OOM back-off is the one reported) and engine facts."""
        from ..device import peak_memory_mb

        device = self.runner.worker.device
        return self.runner.worker.describe(), {"peak_gpu_memory_mb": peak_memory_mb(device), "engine": "local", "workers": 1}


class LocalEngine:
    name = "local"
    Options = NoOptions

    @staticmethod
    def check(execution: Any) -> None:
        """Nothing to check: the local engine needs nothing installed."""

    @staticmethod
    @contextlib.contextmanager
    def open(stage: EngineStage, queries: int) -> Iterator[LocalSession]:
        runner = Runner(stage.worker()).start(deadline=stage.name)  # a load that blocks past [execution] load_timeout_s: one line
        describe = runner.worker.describe()
        log.info("%s: %s on %s (%s), loaded in %.1f s", stage.name, describe.get("kind", type(runner.worker).__name__),
                 runner.worker.device, describe.get("dtype", "-"), runner.load_s)
        yield LocalSession(stage, runner)
