"""Start-up tricks, all in one place behind one switch (``BENCH_FAST_START=0`` turns every one off).

* Deferred ranx import (:func:`import_ranx_metrics`): ``import ranx`` runs ranx's package
  ``__init__``, which imports its fusion, plotting and statistics code (pandas, scipy,
  matplotlib): seconds per process before a single metric is computed. This imports only
  ``ranx.metrics`` (numba functions with ranx's own on-disk cache) and defers ranx's
  ``__init__`` until someone asks the ``ranx`` module for anything else (``ranx.Qrels``,
  ``ranx.compare`` ...), so the numbers are ranx's and the full package still works. Any
  surprise (another ranx layout) falls back to the plain import.
* Prewarm (:func:`prewarm`): after the first stage, evaluation (numba, ranx's metric
  functions, numba's typed lists) and the report (scipy.stats, matplotlib's Agg canvas)
  spend about two seconds importing before any work; a daemon thread imports them while
  the model runs (its forward passes release the GIL). Nothing is computed there, and a
  failure is logged and ignored: the main thread then imports as it would have.
* Fast exit (:func:`exit_now`): once a command has returned, every output is written
  (atomically) and closed; with torch loaded the interpreter's own teardown then takes
  about a second, so the process exits at once after flushing.

The orchestration calls :func:`prewarm` between stages and ``python -m bench`` calls
:func:`exit_now`; nothing in a stage's inner loop does.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys
import threading
import types
from typing import Any

log = logging.getLogger(__name__)

PREWARM_MODULES = ("scipy.stats", "matplotlib.figure", "matplotlib.backends.backend_agg")


def enabled() -> bool:
    """The one switch: ``BENCH_FAST_START=0`` disables every start-up trick."""
    return os.environ.get("BENCH_FAST_START", "1") != "0"


class _DeferredPackage(types.ModuleType):
    """A package whose ``__init__`` runs on the first attribute it does not have yet.

    Submodules (``ranx.metrics``) import without it; ``ranx.Qrels`` and friends trigger the
    real ``__init__`` once, after which the module is exactly the normally imported one.
    """

    def __init__(self, name: str):
        super().__init__(name)
        self._bench_pending = True

    def __getattr__(self, name: str) -> Any:
        if not self.__dict__.pop("_bench_pending", False):
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        self.__spec__.loader.exec_module(self)  # type: ignore[union-attr]
        return getattr(self, name)


_IMPORT_LOCK = threading.Lock()


def _import_ranx_metrics() -> Any:
    """``ranx.metrics`` without running ranx's package ``__init__`` (see the module docstring)."""
    with _IMPORT_LOCK:
        return _import_ranx_metrics_locked()


def _import_ranx_metrics_locked() -> Any:
    if "ranx" in sys.modules:
        import ranx.metrics

        return ranx.metrics
    spec = importlib.util.find_spec("ranx")
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        raise ImportError("ranx is not installed")
    package = _DeferredPackage("ranx")
    package.__spec__ = spec
    package.__loader__ = spec.loader
    package.__file__ = spec.origin
    package.__path__ = list(spec.submodule_search_locations)
    package.__package__ = "ranx"
    sys.modules["ranx"] = package
    try:
        from numba import config

        config.THREADING_LAYER = "workqueue"  # type: ignore[attr-defined]  # what ranx's __init__ sets
        import ranx.metrics

        return ranx.metrics
    except BaseException:
        for name in [m for m in sys.modules if m == "ranx" or m.startswith("ranx.")]:
            del sys.modules[name]
        raise


def import_ranx_metrics() -> Any:
    """``ranx.metrics``, without ranx's package ``__init__`` when the switch is on."""
    if enabled():
        try:
            return _import_ranx_metrics()
        except Exception as exc:  # fall back to the plain, slow import
            log.debug("fast ranx.metrics import failed (%s); importing ranx normally", exc)
    import ranx.metrics

    return ranx.metrics


_started: threading.Thread | None = None


def prewarm() -> threading.Thread | None:
    """Begin importing in the background (once per process); returns the thread, or None when disabled."""
    global _started
    if not enabled():
        return None
    if _started is None:
        _started = threading.Thread(target=_prewarm_work, name="bench-prewarm", daemon=True)
        _started.start()
    return _started


def _prewarm_work() -> None:
    try:
        from .metrics import warm_up

        warm_up()
        for name in PREWARM_MODULES:
            importlib.import_module(name)
    except Exception as exc:  # an optional speed-up: never an error
        log.debug("prewarm stopped: %s", exc)


def exit_now(code: int) -> None:
    """Exit at once after flushing when torch is loaded (its teardown is slow); else a normal exit."""
    if enabled() and "torch" in sys.modules:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
