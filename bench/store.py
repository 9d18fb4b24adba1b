"""Where artifacts live and how they are written.

Every artifact is written to a temporary file in the destination folder and renamed
into place, so a reader sees either the old file or the complete new one, never a
half-written one (a crash, a full disk, Ctrl-C). Cache entries are guarded by a lock
file so two concurrent runs of one experiment do not build the same thing twice.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .errors import BenchError, ConfigError

log = logging.getLogger(__name__)

_SAFE_COMPONENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def cache_dir() -> Path:
    """The user cache (BM25 indexes, numba caches): ``$BENCH_CACHE_DIR`` or ``~/.cache/bench``."""
    root = os.environ.get("BENCH_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "bench"
    )
    return Path(root)


def safe_name(name: str, what: str = "name") -> str:
    """Turn a collection or system name into one path component that cannot escape its folder.

    ``msmarco-passage/trec-dl-2019/judged`` becomes ``msmarco-passage__trec-dl-2019__judged``;
    ``../../x``, absolute paths and empty parts are refused.
    """
    parts = name.split("/")
    if not name or any(not _SAFE_COMPONENT.match(p) or p in {".", ".."} for p in parts):
        raise ConfigError(
            f"{what} {name!r} is not allowed: use letters, digits, '.', '_', '+', '-' and '/' "
            "between non-empty parts (no '..', no leading '/')"
        )
    return "__".join(parts)


def slug(text: str, fallback: str = "x") -> str:
    """A name derived from something the user did not choose as a name (a folder, a file stem), made safe.

    Runs of characters outside ``[A-Za-z0-9._+-]`` become ``-`` and punctuation at either end is
    dropped (``My Model (v2)`` -> ``My-Model-v2``, ``../../x`` -> ``x``); the result always passes
    :func:`safe_name`.
    """
    out = re.sub(r"[^A-Za-z0-9._+-]+", "-", text).strip("-._+")
    return out if out and _SAFE_COMPONENT.match(out) and out not in {".", ".."} else fallback


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and fixed separators: the same text in every process and Python version."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def stable_hash(obj: Any, length: int = 12) -> str:
    """A short content hash of a JSON-able object (config hashes, cache keys)."""
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()[:length]


def _disk_error(path: Path, exc: OSError, full: str = "free space or choose another --output; nothing was left half-written") -> BenchError:
    if exc.errno == errno.ENOSPC:
        return BenchError(f"disk full while writing {path}; {full}")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return BenchError(f"cannot write {path} ({exc.strerror}); choose a writable --output or cache folder")
    return BenchError(f"cannot write {path} ({exc.strerror or exc}); check that --output and the cache folder are writable folders")


def _default_mode(path: Path, directory: bool = False) -> int:
    """The mode a plain ``open``/``mkdir`` would give (mkstemp's 0600 hides results from co-workers); an existing file keeps its own."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        return (0o777 if directory else 0o666) & ~_umask()


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (os.umask(0) would race with other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


@contextlib.contextmanager
def disk_errors(path: str | os.PathLike[str], full: str | None = None) -> Iterator[None]:
    """Turn an ``OSError`` while writing ``path`` (disk full, read-only) into a one-line :class:`BenchError`.

    ``full`` replaces the advice given when the disk is full.
    """
    try:
        yield
    except OSError as exc:
        raise (_disk_error(Path(path), exc, full) if full else _disk_error(Path(path), exc)) from exc


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success fsync and rename it over ``path``.

    On any error the temporary file is removed and ``path`` is untouched. A temporary file
    left by a killed process (``.<name>.*.tmp-``) is removed by the next :func:`file_lock` holder.
    """
    path = Path(path)
    binary = "b" in mode
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp-", dir=path.parent)
        handle: IO[Any] = os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="\n")
        with handle as fh:
            os.fchmod(fh.fileno(), _default_mode(path))
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise _disk_error(path, exc) from exc
    except BaseException:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Atomically write a text file."""
    with atomic_open(path, "w") as fh:
        fh.write(text)


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Atomically write pretty, key-sorted JSON (stable diffs for committed records)."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Build a folder under a temporary name and rename it into place when complete."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp-", dir=path.parent))
        os.chmod(tmp, _default_mode(path, directory=True))
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise _disk_error(path, exc) from exc
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise


def lock_path(path: str | os.PathLike[str]) -> Path:
    """The lock file of a cache entry: hidden, beside it (``.<name>.lock``)."""
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


def _sweep_temps(path: Path) -> None:
    """Remove temporary files and folders a killed writer of this entry left (``.<stem>.*.tmp-``)."""
    for leftover in path.parent.glob(f".{glob_escape(path.stem)}.*.tmp-"):
        log.info("removing %s, left by an interrupted run", leftover)
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                leftover.unlink()


def glob_escape(text: str) -> str:
    """``text`` matched literally in a glob pattern."""
    return re.sub(r"([*?\[])", r"[\1]", text)


@contextlib.contextmanager
def file_lock(path: str | os.PathLike[str], timeout_s: float | None = None) -> Iterator[None]:
    """An exclusive advisory lock on a cache entry (released when the process dies, even by SIGKILL).

    The holder owns ``path`` and its siblings named ``<stem>.*`` (a run's ``.meta.json`` and
    ``.partial``); temporary files a killed holder left for them are removed on entry.
    A second process waits (saying who holds the lock: :mod:`bench.lock_holder`) until the
    first is done, then finds its finished artifact; it gives up with one line after
    ``timeout_s`` (default: the ``lock`` deadline of :mod:`bench.waits`).
    """
    from . import lock_holder

    path = Path(path)
    lock = lock_path(path)
    with disk_errors(path):
        lock.parent.mkdir(parents=True, exist_ok=True)
        fh = open(lock, "a+")
    with fh:
        fd = fh.fileno()
        if not _try_flock(fd):
            _wait_for_lock(fd, path, timeout_s)
        try:
            left = lock_holder.claim(fd)
            if left is not None:
                log.warning("taking over the lock on %s from %s, which ended without releasing it (killed?)", path, left.describe())
            _sweep_temps(path)
            yield
        finally:
            lock_holder.release(fd)
            fcntl.flock(fd, fcntl.LOCK_UN)


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _wait_for_lock(fd: int, path: Path, timeout_s: float | None) -> None:
    """Poll the lock until it is free, naming its holder; one line when the deadline passes."""
    from . import lock_holder, waits

    seconds = waits.limit("lock") if timeout_s is None else timeout_s
    fix = f"wait for that run to finish (or stop it), or raise {waits.option('lock')}"
    with waits.waiting(f"the lock on {path}", seconds, fix) as wait:
        wait.detail = lock_holder.waiting_detail(lock_holder.read(fd))
        log.info("waiting for another run that is computing %s (%s)", path, wait.detail)
        polls = 0
        while not _try_flock(fd):
            wait.check()
            time.sleep(min(0.2, max(wait.remaining, 0.01)))
            polls += 1
            if polls % 10 == 0:  # the holder may have changed (or written its record since)
                wait.detail = lock_holder.waiting_detail(lock_holder.read(fd))


def file_sha256(path: str | os.PathLike[str], chunk: int = 1 << 22) -> str:
    """Content hash of a file (corpus and model fingerprints)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()
