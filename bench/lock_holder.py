"""Who holds a cache entry's lock: pid, host and since when, written into the lock file itself.

The lock is an ``fcntl.flock`` (released by the kernel when its holder dies, even by
SIGKILL), so a dead holder never blocks anyone. What the lock file adds is *who*: a waiter
can say which process it is waiting for, and a process that takes a lock whose file still
names a holder knows that holder ended without releasing it (a clean release empties the
file) and says so. Best effort: a full disk only loses the description, never the lock.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    since: float  # time.time() when it took the lock

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.since))
        return f"pid {self.pid} on host {self.host} since {when}"

    def running(self) -> bool | None:
        """Whether the holder process still exists (None: on another host, unknown). A zombie counts as gone."""
        if self.host != socket.gethostname():
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # another user's process
            return True
        try:
            with open(f"/proc/{self.pid}/stat", encoding="ascii", errors="replace") as fh:
                return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
        except (OSError, IndexError):
            return True


def read(fd: int) -> Holder | None:
    """The holder named in the lock file (None: empty, or written by a bench without holder records)."""
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
        return Holder(int(data["pid"]), str(data["host"]), float(data["since"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def claim(fd: int) -> Holder | None:
    """Write this process into the lock file (just locked); return the holder it names when that one never released it."""
    left = read(fd)
    me = Holder(os.getpid(), socket.gethostname(), time.time())
    try:
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": me.pid, "host": me.host, "since": me.since}).encode("utf-8"))
    except OSError as exc:  # a full disk: the lock holds, only its description is lost
        log.debug("cannot record the lock holder: %s", exc)
    return left


def release(fd: int) -> None:
    """Empty the lock file before unlocking: a file that still names a holder was left by a process that died holding it."""
    try:
        os.ftruncate(fd, 0)
    except OSError as exc:
        log.debug("cannot clear the lock holder: %s", exc)


def waiting_detail(holder: Holder | None) -> str:
    """What a waiter says about the holder."""
    if holder is None:
        return "held by another process"
    if holder.running() is False:
        return f"held by a process started by {holder.describe()}, which is gone"
    return f"held by {holder.describe()}"
