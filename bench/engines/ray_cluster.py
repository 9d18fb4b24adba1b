"""Getting a Ray instance for a run: join one, or start (and later stop) a local one.

Ray is an optional extra, imported only here and only when the ``ray`` engine runs, so
the default (one worker) never imports it. The address is ``--ray-address``, else
``$RAY_ADDRESS``, else a local instance started inside the command with enough CPUs for
the workers; a Ray already initialised in this process (a notebook, a test) is used as is
and left running. Joining a cluster has a deadline (:mod:`bench.engines.ray_connect`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import ConfigError

log = logging.getLogger(__name__)

INSTALL = "pip install -e '.[ray]' (or pip install 'ray>=2.9')"


def require_ray(execution: Any) -> Any:
    """The ``ray`` module, or a one-line error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(
            f"{execution.workers} workers run on Ray, which is not installed; install it with {INSTALL}, or use --workers 1"
        ) from None
    return ray


def _worker_env() -> dict[str, str]:
    """What Ray's worker processes need: this bench first on their path (not another copy installed elsewhere), quiet HF."""
    here = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "0")}


def _local_cpus(workers: int, cpus_per_worker: int) -> int:
    return max(os.cpu_count() or 1, workers * cpus_per_worker)


@contextlib.contextmanager
def session(execution: Any, workers: int, gpus: float, cpus: int) -> Iterator[tuple[Any, dict[str, Any]]]:
    """``(ray, facts)`` for the duration of a stage: joined, reused or started here (and then shut down)."""
    ray = require_ray(execution)
    address = execution.address or os.environ.get("RAY_ADDRESS")
    started = time.perf_counter()
    owned = False
    kwargs: dict[str, Any] = {"runtime_env": {"env_vars": _worker_env()}, "logging_level": logging.WARNING}
    if ray.is_initialized():
        where = "this process's Ray"
    elif address:
        from .ray_connect import join

        join(ray, address, **kwargs)  # within the connect deadline: one line for a dead or non-Ray address
        where = address
        owned = True
    else:
        ray.init(address="local", num_cpus=_local_cpus(workers, cpus), include_dashboard=False, **kwargs)
        where = "local"
        owned = True
    try:
        fit = _check_resources(ray, workers, gpus, cpus, local=where == "local")
        facts = {"ray_address": where, "ray_version": ray.__version__, "ray_start_s": time.perf_counter() - started, "workers_fit": fit}
        log.info("Ray %s (%s) ready in %.1f s", ray.__version__, where, facts["ray_start_s"])
        yield ray, facts
    finally:
        if owned:
            ray.shutdown()


def _check_resources(ray: Any, workers: int, gpus: float, cpus: int, local: bool) -> int:
    """How many workers can run: a local instance that cannot hold one is an error (a cluster may still grow: a warning)."""
    total = ray.cluster_resources()
    for name, each, unit in (("GPU", gpus, "gpus_per_worker"), ("CPU", float(cpus), "cpus_per_worker")):
        have = float(total.get(name, 0.0))
        if each <= 0 or have >= each:
            continue
        message = (f"a worker needs {each:g} {name}s but the Ray {'instance' if local else 'cluster'} has {have:g}; "
                   f"lower {unit} in [execution]" + (" or use --device cpu" if name == "GPU" else ""))
        if local:
            raise ConfigError(message)
        log.warning("%s (waiting for the cluster to grow)", message)
    if gpus <= 0 or not local:
        return workers
    fit = int(float(total.get("GPU", 0.0)) // gpus)
    if fit < workers:
        log.warning("%d workers x %g GPUs do not fit on this machine's %g GPUs: running %d", workers, gpus, total.get("GPU", 0.0), fit)
    return min(workers, fit)
