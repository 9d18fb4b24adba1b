"""``python -m bench``: run the command, then exit.

Once a command has returned, every output is written (atomically) and closed; with torch
loaded the interpreter's own teardown then takes about a second, so the process exits at
once after flushing (unless ``BENCH_FAST_START=0``, :func:`bench.lazy_import.enabled`).
"""

import logging
import os
import sys

from .cli import main


def exit_now(code: int) -> None:
    """Exit at once after flushing when torch is loaded (its teardown is slow); else a normal exit."""
    from .lazy_import import enabled

    if enabled() and "torch" in sys.modules:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def run() -> None:
    exit_now(main())


if __name__ == "__main__":
    run()
