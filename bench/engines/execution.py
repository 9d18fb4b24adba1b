"""Resources of each engine worker, from the ``[execution]`` table (:class:`bench.config.ExecutionConfig`).

None of this is part of a run's hash: a run started on one worker can be finished on eight.
"""

from __future__ import annotations

from typing import Any


def gpus(execution: Any, device: str) -> float:
    """GPUs each worker holds: the configured number, else one on CUDA and none elsewhere."""
    if execution.gpus_per_worker is not None:
        return float(execution.gpus_per_worker)
    return 1.0 if device.startswith("cuda") else 0.0


def cpus(execution: Any, device: str) -> int:
    """CPUs (and torch threads) each worker holds: the configured number, else 1 on a GPU, else this process's torch threads.

    CPU scores depend on torch's thread count in the last digits, so CPU workers default to
    the in-process count and ``--workers 2`` writes the one-process bytes.
    """
    if execution.cpus_per_worker is not None:
        return int(execution.cpus_per_worker)
    if device.startswith(("cuda", "mps")):
        return 1
    import torch

    return int(torch.get_num_threads())
