"""Importing a package's submodule without its heavy package ``__init__``, behind bench's one start-up switch.

``import ranx`` runs ranx's package ``__init__``, which imports its fusion, plotting and
statistics code (pandas, scipy, matplotlib): seconds per process before a single metric is
computed. :func:`import_submodule` imports only the submodule bench needs (``ranx.metrics``:
numba functions with ranx's own on-disk cache) and defers the package's ``__init__`` until
someone asks the package for anything else (``ranx.Qrels``, ``ranx.fuse`` ...), so the numbers
are ranx's and the full package still works. :mod:`bench.evaluate` decides to use it for ranx.

``BENCH_FAST_START=0`` (:func:`enabled`) turns every start-up trick off: this one, the prewarm
thread of :mod:`bench.experiment` and the fast exit of ``python -m bench`` (:mod:`bench.__main__`).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


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


def _import_locked(package_name: str, submodule: str, before: Callable[[], None] | None) -> Any:
    full = f"{package_name}.{submodule}"
    if package_name in sys.modules:
        return importlib.import_module(full)
    spec = importlib.util.find_spec(package_name)
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        raise ImportError(f"{package_name} is not installed")
    package = _DeferredPackage(package_name)
    package.__spec__ = spec
    package.__loader__ = spec.loader
    package.__file__ = spec.origin
    package.__path__ = list(spec.submodule_search_locations)
    package.__package__ = package_name
    sys.modules[package_name] = package
    try:
        if before is not None:
            before()  # what the package's __init__ would have set up first
        return importlib.import_module(full)
    except BaseException:
        for name in [m for m in sys.modules if m == package_name or m.startswith(package_name + ".")]:
            del sys.modules[name]
        raise


def import_submodule(package_name: str, submodule: str, before: Callable[[], None] | None = None) -> Any:
    """``package.submodule`` without running the package's ``__init__`` first (when the switch is on).

    The package's ``__init__`` runs later, once, on the first attribute asked of the package
    that its submodules did not define, so the package still works in full. Any surprise (a
    layout this trick does not fit) falls back to the plain import.
    """
    if enabled():
        try:
            with _IMPORT_LOCK:
                return _import_locked(package_name, submodule, before)
        except Exception as exc:  # fall back to the plain, slow import
            log.debug("fast %s.%s import failed (%s); importing it normally", package_name, submodule, exc)
    return importlib.import_module(f"{package_name}.{submodule}")
