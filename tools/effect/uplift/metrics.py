"""Metrics of uplift models on randomised data: IPW policy value, Qini and AUUC, bootstrap intervals.

Hand-written rather than taken from causalml: causalml's ``qini_score``/``auuc_score`` would pull in xgboost,
numba, shap and a CUDA communication library (≈ 400 MB) for a few lines of arithmetic; scikit-learn has no
uplift metrics. Definitions follow Radcliffe (2007) and Gutierrez & Gérardy (2017).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def ipw_policy_value(taken: np.ndarray, outcome: np.ndarray, policy: np.ndarray, propensity: float) -> float:
    """Return the inverse-propensity estimate of a policy's mean outcome: mean(1{taken = policy}·y / p).

    Args:
        taken: Arm each unit was randomised to.
        outcome: Observed outcome per unit.
        policy: Arm the evaluated policy would give each unit.
        propensity: Probability of each arm under the randomisation (the same for every arm and unit).
    """
    if not 0 < propensity <= 1:
        raise ValueError(f"propensity must be in (0, 1], got {propensity}")
    if not len(taken) == len(outcome) == len(policy) or len(taken) == 0:
        raise ValueError("taken, outcome and policy must be non-empty and of equal length")
    match = np.asarray(taken) == np.asarray(policy)
    return float(np.mean(match * np.asarray(outcome, dtype=np.float64)) / propensity)


def qini_auuc(uplift: np.ndarray, treated: np.ndarray, outcome: np.ndarray) -> dict[str, float]:
    """Return the Qini coefficient and AUUC of a predicted uplift on treated and control units.

    Units are sorted by predicted uplift (descending). After the top k units, with n_t(k), n_c(k) treated and
    control units and y_t(k), y_c(k) their summed outcomes:

    * Qini curve Q(k) = (y_t(k) − y_c(k)·n_t(k)/n_c(k)) / N_t — incremental outcomes per treated unit;
      the Qini coefficient is the mean over k of Q(k) minus that of the random-targeting line Q(N)·k/N.
    * Uplift curve U(k) = (y_t(k)/n_t(k) − y_c(k)/n_c(k))·k/N; AUUC is its mean over k, and
      ``auuc_random`` the mean of the random line U(N)·k/N (≈ ATE / 2).

    Returns:
        ``{"qini", "auuc", "auuc_random", "ate"}``.
    """
    order = np.argsort(-np.asarray(uplift, dtype=np.float64), kind="stable")
    t, y = np.asarray(treated, dtype=bool)[order], np.asarray(outcome, dtype=np.float64)[order]
    if t.all() or not t.any():
        raise ValueError("need both treated and control units")
    n = t.size
    n_t, n_c = np.cumsum(t), np.cumsum(~t)
    y_t, y_c = np.cumsum(y * t), np.cumsum(y * ~t)
    with np.errstate(divide="ignore", invalid="ignore"):
        qini = np.where(n_c > 0, y_t - y_c * n_t / n_c, y_t) / n_t[-1]
        rate_gap = np.where((n_t > 0) & (n_c > 0), y_t / n_t - y_c / n_c, 0.0)
    frac = np.arange(1, n + 1) / n
    gain = rate_gap * frac
    return {
        "qini": float(np.mean(qini - qini[-1] * frac)),
        "auuc": float(np.mean(gain)),
        "auuc_random": float(np.mean(gain[-1] * frac)),
        "ate": float(rate_gap[-1]),
    }


def bootstrap_interval(
    statistic: Callable[[np.ndarray], float], n: int, n_bootstrap: int = 1000, seed: int = 42, level: float = 0.95
) -> tuple[float, float]:
    """Return the percentile bootstrap interval of ``statistic(rows)`` over ``n`` units resampled with replacement."""
    rng = np.random.default_rng(seed)
    values = [statistic(rng.integers(0, n, n)) for _ in range(n_bootstrap)]
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)
