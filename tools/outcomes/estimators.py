"""Estimators of the difference between an arm and the control.

Newcombe's interval for 0/1 outcomes, a percentile bootstrap interval for continuous ones (revenue).
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of one proportion (scipy's ``binomtest(...).proportion_ci(method="wilson")``).

    Args:
        successes: Count of 1s.
        n: Count of rows (at least 1).
        confidence: Coverage of the interval.

    Returns:
        The interval's lower and upper bounds.
    """
    ci = stats.binomtest(int(successes), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def newcombe_interval(
    successes: int, n: int, control_successes: int, control_n: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Newcombe's hybrid score interval of a difference of proportions (arm rate - control rate).

    Method 10 of Newcombe (1998), "Interval estimation for the difference between independent proportions",
    Statistics in Medicine 17: it combines the Wilson intervals of both proportions, so it stays inside [-1, 1]
    and keeps its coverage for small counts and rates near 0 or 1, where the Wald interval does not.

    Args:
        successes: 1s in the arm.
        n: Rows in the arm.
        control_successes: 1s in the control.
        control_n: Rows in the control.
        confidence: Coverage of the interval.

    Returns:
        Lower and upper bound of the difference.
    """
    p1, p0 = successes / n, control_successes / control_n
    l1, u1 = wilson_interval(successes, n, confidence)
    l0, u0 = wilson_interval(control_successes, control_n, confidence)
    diff = p1 - p0
    low = diff - float(np.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2))
    high = diff + float(np.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2))
    return low, high


def bootstrap_mean_difference(
    values: np.ndarray, control_values: np.ndarray, seed: int, n_resamples: int = 2000, confidence: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of mean(values) - mean(control_values), each sample resampled on its own.

    Uses ``scipy.stats.bootstrap`` with a fixed seed, so the same data always gives the same interval.

    Args:
        values: The arm's outcomes (e.g. revenue per customer).
        control_values: The control's outcomes.
        seed: Seed of the resampling.
        n_resamples: Bootstrap resamples.
        confidence: Coverage of the interval.

    Returns:
        Lower and upper bound of the difference of means.
    """

    def diff(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.mean(a, axis=axis) - np.mean(b, axis=axis)

    res = stats.bootstrap(
        (np.asarray(values, dtype=float), np.asarray(control_values, dtype=float)), diff, vectorized=True,
        paired=False, n_resamples=n_resamples, confidence_level=confidence, method="percentile",
        rng=np.random.default_rng(seed), batch=50,
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)
