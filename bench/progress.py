"""Progress for long stages: a tqdm bar on a terminal, periodic log lines elsewhere (CI logs)."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger("bench.progress")


def progress(items: Iterable[T], total: int, desc: str, unit: str = "queries") -> Iterator[T]:
    """Yield ``items`` while showing progress on stderr."""
    if sys.stderr.isatty():
        from tqdm import tqdm

        yield from tqdm(items, total=total, desc=desc, unit=unit, leave=False)
        return
    started = last = time.perf_counter()
    step = max(1, total // 10)
    for done, item in enumerate(items, start=1):
        yield item
        now = time.perf_counter()
        if done == total or done % step == 0 or now - last > 30:
            rate = done / (now - started) if now > started else 0.0
            log.info("%s: %d/%d %s (%.1f/s)", desc, done, total, unit, rate)
            last = now
