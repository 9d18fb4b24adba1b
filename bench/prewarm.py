"""Import what the end of a run needs while the model is busy.

After the rerank loop, evaluation (numba, ranx's metric functions, numba's typed lists) and
the report written next to the results (scipy.stats, matplotlib's Agg canvas) spend about
two seconds importing and compiling before any work. ``start`` does those imports in a
daemon thread when the rerank loop begins (bench.rerank), so they overlap the forward passes (which
release the GIL) instead of adding to the run's wall time (BENCHMARKS.md, end to end).
Nothing is computed there, only imported, and a failure is logged and ignored: the main
thread then imports as it would have. ``BENCH_PREWARM=0`` turns it off.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading

log = logging.getLogger(__name__)

MODULES = ("scipy.stats", "matplotlib.figure", "matplotlib.backends.backend_agg")


_started: threading.Thread | None = None


def start() -> threading.Thread | None:
    """Begin importing in the background (once per process); returns the thread, or None when disabled."""
    global _started
    if os.environ.get("BENCH_PREWARM", "1") == "0":
        return None
    if _started is None:
        _started = threading.Thread(target=_work, name="bench-prewarm", daemon=True)
        _started.start()
    return _started


def _work() -> None:
    try:
        from .metrics import warm_up

        warm_up()
        for name in MODULES:
            importlib.import_module(name)
    except Exception as exc:  # an optional speed-up: never an error
        log.debug("prewarm stopped: %s", exc)
