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
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .errors import BenchError, ConfigError

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


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and fixed separators: the same text in every process and Python version."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def stable_hash(obj: Any, length: int = 12) -> str:
    """A short content hash of a JSON-able object (config hashes, cache keys)."""
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()[:length]


def _disk_error(path: Path, exc: OSError) -> BenchError:
    if exc.errno == errno.ENOSPC:
        return BenchError(f"disk full while writing {path}; free space or choose another --output; nothing was left half-written")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return BenchError(f"cannot write {path} ({exc.strerror}); choose a writable --output or cache folder")
    return BenchError(f"cannot write {path}: {exc.strerror or exc}")


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success fsync and rename it over ``path``.

    On any error the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _disk_error(path, exc) from exc
    binary = "b" in mode
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp-", dir=path.parent)
    try:
        handle: IO[Any] = os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="\n")
        with handle as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise _disk_error(path, exc) from exc
    except BaseException:
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
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp-", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _disk_error(path, exc) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def file_lock(path: str | os.PathLike[str]) -> Iterator[None]:
    """An exclusive advisory lock on ``path + '.lock'`` (released when the process dies)."""
    lock_path = Path(str(path) + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def file_sha256(path: str | os.PathLike[str], chunk: int = 1 << 22) -> str:
    """Content hash of a file (corpus and model fingerprints)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()
