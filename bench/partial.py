"""The resume file of a stage: finished queries, one JSON line each, after a header naming the run's hash.

A rerun of the same configuration reads the file back and continues where it stopped:
after Ctrl-C or a SIGKILL at most the queries in flight are redone. A torn last line
(killed mid-write) is dropped and the file is rewritten (atomically) without it before
new lines are appended, so a second interruption loses nothing either. Lines are flushed
at once and fsynced every :data:`FSYNC_EVERY` rows. Scores round-trip exactly through
JSON, so the final run file is byte-identical to an uninterrupted run's. A full disk while
appending is a one-line error; the rows already written are kept for the rerun.

Shards of one stage (several workers or machines) may each write their own file
(``<run>.partial.<shard>``); :meth:`PartialRun.rows` reads them all, keeps the first row of
each query, and :meth:`discard` removes them with the main file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .store import disk_errors, write_text

log = logging.getLogger(__name__)

FSYNC_EVERY = 5
ROWS = 2  # the shape of a row: 2 is a ranking (docs, scores, ms, cost, trace) from bench.ranking.Ranking.row
KEPT = "free space and run the same command again; the finished queries are kept"


def partial_path(run_file: Path) -> Path:
    return run_file.with_name(run_file.name + ".partial")


class PartialRun:
    """Read, append to (with fsync cadence), merge and discard the resume file(s) of one run."""

    def __init__(self, path: Path, run_hash: str):
        self.path = path
        self.run_hash = run_hash
        self._fh: IO[str] | None = None
        self._count = 0

    @classmethod
    def for_run(cls, run_file: Path, run_hash: str) -> PartialRun:
        return cls(partial_path(run_file), run_hash)

    def shard(self, name: str) -> PartialRun:
        """The file a shard of this stage appends to (merged by :meth:`rows`)."""
        return PartialRun(self.path.with_name(f"{self.path.name}.{name}"), self.run_hash)

    def files(self) -> list[Path]:
        return sorted(p for p in self.path.parent.glob(self.path.name + "*") if p.is_file() and not p.name.endswith(".tmp"))

    # -- reading ---------------------------------------------------------------------
    def _read_one(self, path: Path) -> dict[str, dict[str, Any]]:
        done: dict[str, dict[str, Any]] = {}
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().split("\n")
        try:
            header = json.loads(lines[0])
        except (json.JSONDecodeError, IndexError):
            return done
        if not isinstance(header, dict) or header.get("hash") != self.run_hash:
            log.warning("ignoring %s: it belongs to another configuration", path)
            return done
        if header.get("rows") != ROWS:
            log.warning("ignoring %s: written by an older bench (rows of another shape); its queries are run again", path)
            return done
        for line in lines[1:]:
            try:
                row = json.loads(line)
                if len(row["docs"]) == len(row["scores"]) and isinstance(row["ms"], (int, float)):
                    done.setdefault(row["qid"], row)
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a torn last line from a kill mid-write
        return done

    def rows(self) -> dict[str, dict[str, Any]]:
        """Finished queries of an earlier, interrupted run of the same hash, over every shard's file."""
        done: dict[str, dict[str, Any]] = {}
        for path in self.files():
            for qid, row in self._read_one(path).items():
                done.setdefault(qid, row)
        return done

    # -- writing ---------------------------------------------------------------------
    @contextlib.contextmanager
    def appending(self, done: dict[str, dict[str, Any]]) -> Iterator[PartialRun]:
        """Open for appending: fresh (header only) or rewritten with exactly the rows in ``done``.

        Rewriting merges shard files into the main one and drops a torn last line, so the
        next line does not land on the end of it.
        """
        with disk_errors(self.path, KEPT):
            if done:
                write_text(self.path, self._header() + "".join(json.dumps(row) + "\n" for row in done.values()))
                for other in self.files():
                    if other != self.path:
                        other.unlink(missing_ok=True)
                self._fh = open(self.path, "a", encoding="utf-8")
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fh = open(self.path, "w", encoding="utf-8")
                self._fh.write(self._header())
                self._fh.flush()
        self._count = 0
        try:
            yield self
            with disk_errors(self.path, KEPT):
                os.fsync(self._fh.fileno())
        finally:
            with contextlib.suppress(OSError):  # after a failed write (disk full) closing fails too; that error is already raised
                self._fh.close()
            self._fh = None

    def append(self, row: dict[str, Any]) -> None:
        """One finished query: written and flushed at once, fsynced every few rows."""
        assert self._fh is not None, "append() outside appending()"
        with disk_errors(self.path, KEPT):
            self._fh.write(json.dumps(row) + "\n")
            self._fh.flush()
            self._count += 1
            if self._count % FSYNC_EVERY == 0:
                os.fsync(self._fh.fileno())

    def discard(self) -> None:
        """Remove the file and every shard's (the run is complete, or ``--force`` starts over)."""
        for path in self.files():
            path.unlink(missing_ok=True)

    def _header(self) -> str:
        return json.dumps({"hash": self.run_hash, "rows": ROWS}) + "\n"
