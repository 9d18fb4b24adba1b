"""Expected failures.

A :class:`BenchError` carries a one-line message for the user: what is wrong and how
to fix it. The CLI prints it on stderr and exits non-zero without a traceback; any
other exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class BenchError(Exception):
    """A failure caused by input or environment, explained in one line."""

    exit_code = 2


class DataError(BenchError):
    """A collection, qrels, run or corpus file is missing or malformed."""


class ConfigError(BenchError):
    """An experiment file or command-line option is invalid."""


class ModelError(BenchError):
    """A model cannot be found, loaded or produced unusable scores."""


class DriftError(BenchError):
    """A reproduced metric differs from the recorded one beyond tolerance; ``table`` holds the comparison."""

    exit_code = 1

    def __init__(self, message: str, table: str = ""):
        super().__init__(message)
        self.table = table
