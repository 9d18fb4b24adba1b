"""How reranker stages are executed: the ``[execution]`` table, ``--workers`` and ``--ray-address`` (and every wait's deadline).

None of this is part of a run's hash: a run started on one worker can be finished on eight.
``engine = "auto"`` (the default) is the in-process ``local`` engine for one worker and
``ray`` for more (or when a Ray address is given), so the default never imports Ray.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError


@dataclass(frozen=True)
class ExecutionConfig:
    """Where rerankers run: ``workers`` replicas of each model, each with its own CPUs and GPUs.

    ``gpus_per_worker`` ``None`` means 1 on CUDA and 0 otherwise (fractions share a GPU);
    ``cpus_per_worker`` is also each worker's torch thread count, ``None``: 1 on a GPU and,
    on the CPU, the threads one process uses (CPU scores depend on the thread count, so this
    default keeps the bytes of the one-process run); ``address`` joins an existing Ray
    cluster (else ``$RAY_ADDRESS``, else a local instance started for the run). The
    ``*_timeout_s`` and ``download_stall_s`` deadlines are :mod:`bench.waits`' (None: its
    ``$BENCH_*`` variable, else its default).
    """

    engine: str = "auto"
    workers: int = 1
    gpus_per_worker: float | None = None
    cpus_per_worker: int | None = None
    address: str | None = None
    connect_timeout_s: float | None = None  # deadlines (bench.waits): None is $BENCH_*_TIMEOUT_S, else the default
    load_timeout_s: float | None = None
    lock_timeout_s: float | None = None
    download_stall_s: float | None = None

    def __post_init__(self) -> None:
        from ..waits import check_seconds
        from . import ENGINES

        for key in ("connect_timeout_s", "load_timeout_s", "lock_timeout_s", "download_stall_s"):
            check_seconds(getattr(self, key), key)

        if self.engine != "auto" and self.engine not in ENGINES:
            raise ConfigError(f"unknown execution engine {self.engine!r}; use auto, {', '.join(ENGINES.names())}")
        if self.workers < 1:
            raise ConfigError(f"--workers must be 1 or more, got {self.workers}")
        if self.cpus_per_worker is not None and self.cpus_per_worker < 1:
            raise ConfigError(f"cpus_per_worker must be 1 or more, got {self.cpus_per_worker}")
        if self.gpus_per_worker is not None and self.gpus_per_worker < 0:
            raise ConfigError(f"gpus_per_worker must be 0 or more, got {self.gpus_per_worker}")
        if self.engine == "local" and (self.workers > 1 or self.address):
            raise ConfigError(f"engine 'local' runs one worker in this process; use engine = \"ray\" for {self.workers} workers or a Ray address")

    def deadlines(self) -> dict[str, float | None]:
        """The deadlines this table sets, for :func:`bench.waits.configure`."""
        return {"connect": self.connect_timeout_s, "load": self.load_timeout_s, "lock": self.lock_timeout_s,
                "download_stall": self.download_stall_s}

    def engine_name(self) -> str:
        """The engine that runs the rerankers: ``auto`` is ``ray`` for several workers or an address, else ``local``."""
        if self.engine != "auto":
            return self.engine
        return "ray" if self.workers > 1 or self.address else "local"

    def gpus(self, device: str) -> float:
        """GPUs each worker holds: the configured number, else one on CUDA and none elsewhere."""
        if self.gpus_per_worker is not None:
            return float(self.gpus_per_worker)
        return 1.0 if device.startswith("cuda") else 0.0

    def cpus(self, device: str) -> int:
        """CPUs (and torch threads) each worker holds: the configured number, else 1 on a GPU, else this process's torch threads."""
        if self.cpus_per_worker is not None:
            return self.cpus_per_worker
        if device.startswith(("cuda", "mps")):
            return 1
        import torch

        return int(torch.get_num_threads())
