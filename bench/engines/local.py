"""The in-process engine: one model on one device, scoring query after query.

The model scores query i while a background thread tokenises query i+1
(``Reranker.score_stream``), so a query's time is pipeline wall time: from the previous
query's scores being ready to this query's (device synchronised). Per-query milliseconds
therefore sum to the loop's wall time (model load and warm-up excluded), and tokenisation
that is not hidden behind the forward pass is still counted.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from .. import waits
from ..partial import PartialRun
from ..progress import progress
from ..rerankers.device import peak_memory_mb, synchronize
from ..stages import Job, StageResult
from ..trec import Run

log = logging.getLogger(__name__)


class LocalEngine:
    @staticmethod
    def run(stage: Any, job: Job, input_run: Run, partial: PartialRun) -> StageResult:
        done = partial.rows()
        if done:
            log.info("%s: resuming, %d of %d queries already done (%s)", stage.name, len(done), len(job.qids), partial.path)
        todo = [q for q in job.qids if q not in done]
        reranker = stage.create()
        started = time.perf_counter()
        waits.load_model(stage.name, reranker.load)  # within the load deadline: one line if it blocks
        load_s = time.perf_counter() - started
        started = time.perf_counter()
        reranker.warmup()
        warmup_s = time.perf_counter() - started
        device = reranker.settings.device
        log.info("%s: %s on %s (%s), loaded in %.1f s", stage.name, reranker.kind, device, reranker.settings.dtype, load_s)
        resumed_s = sum(float(row["ms"]) for row in done.values()) / 1000.0
        with partial.appending(done):
            synchronize(device)
            loop_started = last = time.perf_counter()
            scored = reranker.score_stream(stage.items(job, input_run, todo))
            for (qid, ids), scores in progress(scored, len(todo), stage.name):
                synchronize(device)
                now = time.perf_counter()
                row: dict[str, Any] = {"qid": qid, "docs": ids, "scores": scores, "ms": (now - last) * 1000.0}
                last = now
                done[qid] = row
                partial.append(row)
            wall_s = time.perf_counter() - loop_started + resumed_s
        run, latency, pairs = stage.finish(input_run, job.qids, done)
        extra = {"peak_gpu_memory_mb": peak_memory_mb(device), "engine": "local", "workers": 1}
        return StageResult(run, latency, load_s, warmup_s, wall_s, pairs, len(job.qids) - len(todo), reranker.describe(), extra)
