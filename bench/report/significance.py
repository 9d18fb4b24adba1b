"""Paired significance tests on per-query values, Holm–Bonferroni correction, win/tie/loss.

Every test compares two systems on the same queries (paired): the paired t-test (the
default), a two-sided paired randomisation test (sign flips of the per-query differences,
exact when there are at most ``n_resamples`` sign patterns, otherwise Monte Carlo with a
fixed seed so reports are reproducible) and the Wilcoxon signed-rank test. All three come
from :mod:`scipy.stats`; this module only fixes their inputs and the degenerate cases.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError

TESTS = {"t": "paired t-test", "randomization": "paired randomisation test", "wilcoxon": "Wilcoxon signed-rank test"}
ALIASES = {"t": "t", "ttest": "t", "t-test": "t", "randomization": "randomization", "randomisation": "randomization",
           "permutation": "randomization", "wilcoxon": "wilcoxon"}
SEED = 0
N_RESAMPLES = 10_000
TIE = 1e-12


def check_test(name: str) -> str:
    """The canonical test name, or a one-line error naming the choices."""
    key = ALIASES.get(name.strip().lower())
    if key is None:
        raise ConfigError(f"unknown significance test {name!r}; use one of {', '.join(TESTS)}")
    return key


def paired_pvalue(system: Sequence[float], baseline: Sequence[float], test: str = "t",
                  seed: int = SEED, n_resamples: int = N_RESAMPLES) -> float:
    """Two-sided p-value for ``system`` vs ``baseline`` (same queries, same order).

    Identical per-query values (no difference at all) give p = 1: there is nothing to
    detect, and scipy would answer NaN or raise.
    """
    import numpy as np

    a = np.asarray(system, dtype=np.float64)
    b = np.asarray(baseline, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired values differ in length ({a.size} vs {b.size})")
    diff = a - b
    if a.size == 0 or np.all(np.abs(diff) <= TIE):
        return 1.0
    test = check_test(test)
    with warnings.catch_warnings():  # near-constant differences: scipy warns about precision, the p-value is still right
        warnings.simplefilter("ignore", RuntimeWarning)
        p = _pvalue(a, b, test, seed, n_resamples)
    return 1.0 if math.isnan(p) else min(1.0, p)


def _pvalue(a: Any, b: Any, test: str, seed: int, n_resamples: int) -> float:
    import numpy as np
    from scipy import stats

    if test == "t":
        p = float(stats.ttest_rel(a, b).pvalue)
    elif test == "wilcoxon":
        p = float(stats.wilcoxon(a, b).pvalue)
    else:
        p = float(
            stats.permutation_test(
                (a, b), _mean_difference, permutation_type="samples", vectorized=True,
                n_resamples=n_resamples, alternative="two-sided", rng=np.random.default_rng(seed),
            ).pvalue
        )
    return p


def _mean_difference(x, y, axis):  # type: ignore[no-untyped-def]
    return (x - y).mean(axis=axis)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (step-down, monotone, capped at 1), in input order."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def win_tie_loss(system: Sequence[float], baseline: Sequence[float], tie: float = TIE) -> tuple[int, int, int]:
    """Queries where ``system`` scores higher, the same, lower than ``baseline``."""
    wins = ties = losses = 0
    for a, b in zip(system, baseline, strict=True):
        if abs(a - b) <= tie:
            ties += 1
        elif a > b:
            wins += 1
        else:
            losses += 1
    return wins, ties, losses
