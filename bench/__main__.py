"""``python -m bench``.

Once a command has returned, every output is written (atomically) and closed. With torch
and transformers loaded, the interpreter's own teardown (collecting every module, C++
destructors) then takes about a second of a DL19 run's wall time (BENCHMARKS.md, end to
end), so such a process exits at once after flushing; ``BENCH_SLOW_EXIT=1`` keeps the
normal exit.
"""

import logging
import os
import sys

from .cli import main


def run() -> None:
    code = main()
    if "torch" in sys.modules and not os.environ.get("BENCH_SLOW_EXIT"):
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
