"""Device and dtype choice for model inference.

``auto`` picks CUDA, then Apple MPS, then the CPU. The dtype ``auto`` is bf16 on GPUs
that support it and fp16 on older ones; on the CPU it is bf16 when the CPU has native
bf16 matrix units (AMX or AVX512-BF16), where bf16 weights roughly double throughput and
keep rankings within measurement noise of fp32 (BENCHMARKS.md), and fp32 elsewhere
(without those units bf16 is emulated and slower than fp32).
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from .errors import ConfigError

log = logging.getLogger(__name__)

DTYPES = ("auto", "float32", "bfloat16", "float16")


def resolve_device(device: str) -> str:
    """``auto`` -> the best available device; an unavailable explicit device is an error."""
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} requested but CUDA is not available; use --device cpu or auto")
    if device == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("device 'mps' requested but MPS is not available; use --device cpu or auto")
    if device != "cpu" and not device.startswith(("cuda", "mps")):
        raise ConfigError(f"unknown device {device!r}; use auto, cpu, cuda, cuda:N or mps")
    return device


@functools.lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (AMX tiles or AVX512-BF16)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            flags = fh.read()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_dtype(dtype: str, device: str) -> str:
    """``auto`` -> bf16/fp16 on GPUs, bf16 on CPUs with bf16 units, fp32 elsewhere."""
    import torch

    if dtype not in DTYPES:
        raise ConfigError(f"unknown dtype {dtype!r}; use one of {', '.join(DTYPES)}")
    if dtype != "auto":
        return dtype
    if device.startswith("cuda"):
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    if device == "mps":
        return "float16"
    return "bfloat16" if cpu_has_bf16() else "float32"


def torch_dtype(name: str) -> Any:
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def describe_device(device: str) -> dict[str, Any]:
    """What the results record says about the hardware."""
    import platform

    import torch

    info: dict[str, Any] = {"type": device.split(":")[0], "torch_threads": torch.get_num_threads()}
    if device.startswith("cuda"):
        info["name"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    else:
        info["name"] = platform.processor() or platform.machine()
        info["cpu_bf16"] = cpu_has_bf16()
    return info


def synchronize(device: str) -> None:
    """Wait for queued kernels so timers measure work, not launches."""
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize(device)
    elif device == "mps":
        torch.mps.synchronize()


def peak_memory_mb(device: str) -> float | None:
    """Peak GPU memory allocated by this process (None off CUDA)."""
    if not device.startswith("cuda"):
        return None
    import torch

    return float(torch.cuda.max_memory_allocated(device) / 2**20)
