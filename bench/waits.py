"""Deadlines and heartbeats: every wait in bench says what it waits for and ends in one line.

A benchmark runs unattended (CI, a cluster reservation), where a silent hang is worse than a
crash. Every wait therefore goes through :func:`waiting` (with :func:`call` for a blocking
call that cannot be interrupted, such as ``ray.init`` or a model load: it runs in a helper
thread): while it lasts, one background thread logs ``waiting for <what> (<elapsed> s of
<deadline> s)`` every :data:`HEARTBEAT_S` seconds, at INFO and, once past
:data:`LOUD_AFTER_S`, at WARNING, so ``-q`` shows a long wait too. When the deadline passes,
:meth:`Wait.check` raises a one-line :class:`~bench.errors.BenchError` naming what was awaited
and how to fix it. A wait bounded by a library's own timeout (an ir_datasets download stalls
after N seconds without bytes) passes no deadline and only gets the heartbeat.

Deadlines are plain settings: :data:`DEFAULTS`, overridden by ``$BENCH_*`` variables
(:data:`ENV`), overridden by the experiment's ``[execution]`` table through :func:`configure`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from .errors import BenchError, ConfigError, ModelError

log = logging.getLogger(__name__)
T = TypeVar("T")

HEARTBEAT_S = 10.0  # a wait logs what it waits for this often
LOUD_AFTER_S = 60.0  # ... at WARNING (shown under -q) once it has lasted this long

DEFAULTS: dict[str, float] = {
    "connect": 30.0,  # joining a Ray cluster (--ray-address / RAY_ADDRESS)
    "load": 1800.0,  # a model loading: in this process, or Ray workers starting and loading it
    "lock": 86400.0,  # another live process holding a run file's lock (it is computing the same thing)
    "download_stall": 30.0,  # an ir_datasets download receiving no bytes (per try; ir_datasets tries 3 times)
    "server": 600.0,  # a model server's health check passing (served models: an 8B model takes minutes to load)
    "request": 600.0,  # one request to a model server
    "batch": 3600.0,  # one batch of queries on a Ray worker (a worker hung mid-batch is replaced and its batches requeued)
}
ENV: dict[str, str] = {
    "connect": "BENCH_CONNECT_TIMEOUT_S",
    "load": "BENCH_LOAD_TIMEOUT_S",
    "lock": "BENCH_LOCK_TIMEOUT_S",
    "download_stall": "BENCH_DOWNLOAD_STALL_S",
    "server": "BENCH_SERVER_TIMEOUT_S",
    "request": "BENCH_REQUEST_TIMEOUT_S",
    "batch": "BENCH_BATCH_TIMEOUT_S",
}
KEYS: dict[str, str] = {"connect": "connect_timeout_s", "load": "load_timeout_s", "lock": "lock_timeout_s", "download_stall": "download_stall_s",
                        "batch": "batch_timeout_s"}
_configured: dict[str, float] = {}


def option(name: str) -> str:
    """How a user changes deadline ``name``, for error messages: ``[execution] load_timeout_s or $BENCH_LOAD_TIMEOUT_S``."""
    key = KEYS.get(name)
    return f"[execution] {key} or ${ENV[name]}" if key else f"${ENV[name]}"


def check_seconds(value: float | None, where: str) -> None:
    """A deadline must be a positive number of seconds (None: not set here)."""
    if value is not None and not value > 0:
        raise ConfigError(f"{where} must be a positive number of seconds, got {value!r}")


def configure(**seconds: float | None) -> None:
    """Set this process's deadlines from an experiment (``configure(load=2.0)``); ``None`` falls back to $BENCH_* and the default."""
    unknown = set(seconds) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown deadline {sorted(unknown)[0]!r}")
    for name, value in seconds.items():
        check_seconds(value, KEYS.get(name, name))
    _configured.clear()
    _configured.update({k: float(v) for k, v in seconds.items() if v is not None})


def limit(name: str) -> float:
    """Deadline ``name`` in seconds: the experiment's ``[execution]`` value, else ``$BENCH_*``, else :data:`DEFAULTS`."""
    if name in _configured:
        return _configured[name]
    raw = os.environ.get(ENV[name], "").strip()
    if not raw:
        return DEFAULTS[name]
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise ConfigError(f"${ENV[name]} must be a positive number of seconds, got {raw!r}")
    return value


class Wait:
    """One wait in progress: what it is for, its deadline (None: bounded by a library's own timeout) and how to fix it."""

    def __init__(self, what: str, seconds: float | None, fix: str = "", error: type[BenchError] = BenchError):
        self.what = what
        self.seconds = seconds
        self.fix = fix
        self.error = error
        self.detail = ""  # what the wait knows now (who holds a lock, how many workers are ready), shown by the heartbeat
        self.started = self.last_beat = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def remaining(self) -> float:
        return float("inf") if self.seconds is None else max(0.0, self.seconds - self.elapsed)

    def passed(self) -> bool:
        return self.seconds is not None and self.elapsed >= self.seconds

    def check(self, reason: str = "") -> None:
        """Raise the one-line error once the deadline has passed."""
        if self.passed():
            raise self.expired(reason)

    def expired(self, reason: str = "") -> BenchError:
        """The one line: what was awaited, for how long, why (``reason``, else the detail) and the fix."""
        why = reason or self.detail
        limit_text = f"{self.seconds:g} s" if self.seconds is not None else f"{self.elapsed:.0f} s"
        return self.error(f"gave up waiting for {self.what} after {limit_text}{f' ({why})' if why else ''}" + (f"; {self.fix}" if self.fix else ""))

    def beat(self, now: float) -> None:
        """Log the heartbeat when one is due (called by the heartbeat thread)."""
        if now - self.last_beat < HEARTBEAT_S:
            return
        self.last_beat = now
        elapsed = now - self.started
        of = f" of {self.seconds:g} s" if self.seconds is not None else ""
        detail = f"; {self.detail}" if self.detail else ""
        log.log(logging.WARNING if elapsed >= LOUD_AFTER_S else logging.INFO, "waiting for %s (%.0f s%s%s)", self.what, elapsed, of, detail)


@contextlib.contextmanager
def waiting(what: str, seconds: float | None = None, fix: str = "", error: type[BenchError] = BenchError) -> Iterator[Wait]:
    """A wait with the heartbeat running while the block lasts; the block calls ``wait.check()`` as it polls."""
    wait = Wait(what, seconds, fix, error)
    _Heartbeat.add(wait)
    try:
        yield wait
    finally:
        _Heartbeat.remove(wait)


def call(fn: Callable[[], T], wait: Wait) -> T:
    """``fn()`` bounded by ``wait``'s deadline, for a call that cannot be interrupted (``ray.init``, a model load).

    ``fn`` runs in a daemon thread; this thread waits (the heartbeat runs) and raises
    ``wait``'s one-line error when the deadline passes, abandoning ``fn`` (the process is
    about to exit with that error). ``fn``'s own exception is raised here as it was.
    """
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the waiting thread
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"bench-wait: {wait.what}"[:60], daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(min(1.0, max(wait.remaining, 0.01)))
        if thread.is_alive():
            wait.check()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def load_model(name: str, load: Callable[[], T]) -> T:
    """``load()`` (a reranker's model load) within the ``load`` deadline: one line if it blocks past it."""
    fix = f"a model this large may need longer: raise {option('load')}; else check the disk or device it loads from"
    with waiting(f"{name} to load its model", limit("load"), fix, ModelError) as wait:
        return call(load, wait)


class _Heartbeat:
    """One daemon thread for every wait in the process (started on first use): logs each wait when its beat is due."""

    _lock = threading.Lock()
    _active: dict[int, Wait] = {}
    _work = threading.Event()
    _thread: threading.Thread | None = None

    @classmethod
    def add(cls, wait: Wait) -> None:
        with cls._lock:
            cls._active[id(wait)] = wait
            if cls._thread is None or not cls._thread.is_alive():
                cls._thread = threading.Thread(target=cls._loop, name="bench-heartbeat", daemon=True)
                cls._thread.start()
        cls._work.set()

    @classmethod
    def remove(cls, wait: Wait) -> None:
        with cls._lock:
            cls._active.pop(id(wait), None)

    @classmethod
    def _loop(cls) -> None:
        while True:
            with cls._lock:
                waits = list(cls._active.values())
            cls._work.wait(min(1.0, HEARTBEAT_S / 4) if waits else None)  # a new wait wakes it at once
            cls._work.clear()
            now = time.monotonic()
            for wait in waits:
                if id(wait) not in cls._active:  # ended while this thread slept
                    continue
                try:
                    wait.beat(now)
                except Exception:  # a heartbeat must never take the process down
                    log.debug("heartbeat failed", exc_info=True)
