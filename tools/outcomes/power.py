"""Power of a test of an arm against a control: the minimum detectable lift, and sizing a test to detect one.

Normal approximation of the two-sided two-sample test, with the variance at the baseline rate in both groups
(the usual planning approximation): a lift is detectable with probability ``power`` at level ``alpha`` when

    lift ≥ (z[1 - alpha/2] + z[power]) × sd × sqrt(1/n_arm + 1/n_control),  sd = sqrt(p (1 - p)) for a rate p.

statsmodels is not a dependency of this project; the normal quantiles are scipy's.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, Field
from scipy import stats


def _z(alpha: float, power: float) -> float:
    return float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power))


def minimum_detectable_lift(
    n_arm: int, n_control: int, base_rate: float | None = None, sd: float | None = None,
    alpha: float = 0.05, power: float = 0.8,
) -> float:
    """Smallest absolute lift (arm minus control) a two-sided test detects with probability ``power``.

    Args:
        n_arm: Rows in the arm.
        n_control: Rows in the control.
        base_rate: The control's rate, for a 0/1 outcome (sd = sqrt(p(1-p))).
        sd: The outcome's standard deviation, for a continuous outcome (used when ``base_rate`` is None).
        alpha: Two-sided significance level.
        power: Probability of detecting the lift.

    Returns:
        The minimum detectable lift (``inf`` when either group is empty).
    """
    if n_arm <= 0 or n_control <= 0:
        return math.inf
    spread = math.sqrt(base_rate * (1 - base_rate)) if base_rate is not None else float(sd or 0.0)
    return _z(alpha, power) * spread * math.sqrt(1 / n_arm + 1 / n_control)


class TestSizing(BaseModel):
    """How to split an audience into a holdout and equal arms so each arm can detect a target lift."""

    audience: int = Field(description="Customers to split.")
    base_rate: float = Field(description="Predicted rate without treatment.")
    target_lift: float = Field(description="Absolute lift each arm should detect against the holdout.")
    feasible: bool = Field(description="Whether some split detects the target lift with at least one arm.")
    arms: int = Field(description="Arms of the split (the most arms up to max_arms that can detect the target).")
    holdout: int = Field(description="Smallest holdout with which each arm detects the target (or the best one).")
    per_arm: int
    mde: float = Field(description="Minimum detectable lift of that split.")
    audience_needed: int | None = Field(
        None, description="When not feasible: customers one arm plus its holdout would need (the optimal split)."
    )


def size_test(
    audience: int, base_rate: float, target_lift: float, max_arms: int, alpha: float = 0.05, power: float = 0.8,
) -> TestSizing:
    """Split ``audience`` into a holdout and up to ``max_arms`` equal arms so that each arm detects ``target_lift``.

    For each number of arms k from ``max_arms`` down to 1, every holdout size h is tried (arms of (audience - h) / k,
    rounded down); the first k for which some h reaches the target wins, with the smallest such h, so as many
    customers as possible are treated. When no split reaches it, the result holds the one-arm split with the
    smallest MDE (holdout = audience / 2) and the audience that split would need.

    Args:
        audience: Customers to split.
        base_rate: Predicted rate without treatment.
        target_lift: Absolute lift to detect.
        max_arms: Most arms (variants) wanted.
        alpha: Two-sided significance level.
        power: Probability of detecting the target lift.

    Returns:
        The sizing.
    """
    spread = math.sqrt(base_rate * (1 - base_rate))
    z = _z(alpha, power)
    holdouts = np.arange(1, audience)
    for k in range(max(1, max_arms), 0, -1):
        per_arm = (audience - holdouts) // k
        ok = per_arm > 0
        mde = np.full(holdouts.shape, np.inf)
        mde[ok] = z * spread * np.sqrt(1 / per_arm[ok] + 1 / holdouts[ok])
        hits = np.flatnonzero(mde <= target_lift)
        if target_lift > 0 and hits.size:
            i = int(hits[0])
            return TestSizing(audience=audience, base_rate=base_rate, target_lift=target_lift, feasible=True, arms=k,
                              holdout=int(holdouts[i]), per_arm=int(per_arm[i]), mde=float(mde[i]))
    half = audience // 2
    needed = (2 * math.ceil(2 * (z * spread / target_lift) ** 2)) if target_lift > 0 else None
    return TestSizing(audience=audience, base_rate=base_rate, target_lift=target_lift, feasible=False, arms=1,
                      holdout=half, per_arm=audience - half,
                      mde=minimum_detectable_lift(audience - half, half, base_rate, alpha=alpha, power=power),
                      audience_needed=needed)
