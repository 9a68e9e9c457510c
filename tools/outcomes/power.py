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


class ArmPower(BaseModel):
    """What one variant's comparison with its segment's holdout can detect, as the launch is designed."""

    segment_id: str
    channel: str
    variant_id: str
    sends: int
    holdout: int
    base_rate: float = Field(description="Predicted rate of the segment without a send (the holdout's rate).")
    mde: float | None = Field(description="Minimum detectable lift (absolute, in the rate) for these sends and "
                              "holdout; None when it cannot be measured (no holdout customers).")
    predicted_lift: float | None = Field(None, description="Predicted rate with the send minus base_rate.")
    detectable: bool | None = Field(None, description="predicted_lift >= mde (None without a predicted lift or mde).")


class CellSizing(BaseModel):
    """The split of one segment × channel that detects its target lift, from :func:`size_test`."""

    segment_id: str
    channel: str
    variants: int = Field(description="Variants the plan has for the cell.")
    sizing: TestSizing

    def sentence(self) -> str:
        """Say what the sizing found, with a suggestion when the target cannot be reached."""
        s = self.sizing
        where = f"{self.segment_id}/{self.channel}"
        if s.feasible:
            fewer = f" (not {self.variants}: more arms could not detect it)" if s.arms < self.variants else ""
            return (f"{where}: to detect a lift of {s.target_lift:.4f} at a baseline of {s.base_rate:.2%}, hold out "
                    f"{s.holdout} of {s.audience} customers ({s.holdout / s.audience:.0%}) and test {s.arms} "
                    f"variant(s){fewer}; MDE {s.mde:.4f}.")
        need = f"about {s.audience_needed:,} customers" if s.audience_needed else "a predicted lift above 0"
        return (f"{where}: {s.audience} customers cannot detect a lift of {s.target_lift:.4f} at a baseline of "
                f"{s.base_rate:.2%} (best split: MDE {s.mde:.4f}, even with one variant); it needs {need}. "
                "Test fewer variants, or run the campaign longer (more customers or more waves) before judging it.")


class LaunchPower(BaseModel):
    """Whether the launch can measure something: per variant the minimum detectable lift, and the sizing.

    MDE: normal approximation of a two-sided two-proportion test at ``alpha`` with ``power``, variance at the
    predicted baseline rate (see :func:`minimum_detectable_lift`).
    """

    alpha: float = 0.05
    power: float = 0.8
    target_lift: float | None = Field(None, description="The lift the design was asked to detect (None: the "
                                      "predicted lift of each cell is the target of the sizing).")
    applied: bool = Field(False, description="Whether the holdout and arms follow the sizing.")
    arms: list[ArmPower] = Field(default_factory=list)
    sizing: list[CellSizing] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
