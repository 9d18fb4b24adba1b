"""Execution engines for reranker stages, by name in :data:`ENGINES`.

An engine has ``run(stage, job, input_run, partial) -> StageResult``: it scores every query
not yet in the partial run, appending each finished query as it arrives, and reports
per-query milliseconds, the stage's wall time, and load and warm-up apart. ``local`` runs in
this process, ``ray`` on replicas in Ray actors (``--workers N``). Adding an engine is one file plus one line here.
"""

from __future__ import annotations

from typing import Any

from ..registry import Registry

ENGINES: Registry[Any] = Registry("execution engine", {
    "local": "bench.engines.local:LocalEngine",
    "ray": "bench.engines.ray:RayEngine",
})
