"""Predicted against observed: was each arm's observed outcome inside its predicted interval; calibration.

How calibrated the predictions are across arms, too.

The caller pairs each arm's prediction with the observed outcome it predicts (a rate per send with a 0/1 outcome's
mean, money per send with revenue per customer) and says so in ``pairing``; this module only measures.

Per arm: the prediction (point and its 90% interval, as the plan states it), the observed mean with a 95%
confidence interval (Wilson's for a 0/1 outcome, Student's t for revenue), whether the observed mean lies inside the
predicted interval, and the error (predicted − observed). Across arms: the share inside the intervals, the mean
error (positive: the predictions were too high), and with three or more arms the rank correlation of predicted and
observed (Spearman) and the calibration slope (least-squares slope of observed on predicted; 1: the predictions'
differences between arms are the observed ones, below 1: they overstate them).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from scipy import stats

from tools.outcomes.estimators import wilson_interval

OBSERVED_INTERVAL = "95% confidence interval: Wilson's for a 0/1 outcome, Student's t for a mean of money"
MIN_ARMS_FOR_SLOPE = 3


class Prediction(BaseModel):
    """What was predicted for one arm: a point and its interval (90% in a plan)."""

    arm: str
    point: float
    low: float
    high: float


class ArmCheck(BaseModel):
    """One arm's prediction beside what was observed."""

    arm: str
    n: int = Field(description="Customers of the arm with the outcome.")
    predicted: float
    predicted_low: float
    predicted_high: float
    observed: float = Field(description="Mean of the outcome in the arm.")
    observed_low: float
    observed_high: float
    inside: bool = Field(description="predicted_low <= observed <= predicted_high.")
    error: float = Field(description="predicted - observed.")


class Calibration(BaseModel):
    """Predictions of one quantity against its observations, per arm and across arms."""

    predicted_metric: str = Field(description="What the prediction counts (e.g. orders of the product per send).")
    observed_metric: str = Field(description="The observed outcome it is compared with (e.g. converted).")
    pairing: str = Field(description="Why these two are compared, and how they differ.")
    predicted_interval: str = "90% interval of the plan's prediction"
    observed_interval: str = OBSERVED_INTERVAL
    arms: list[ArmCheck]
    share_inside: float = Field(description="Share of arms whose observed mean is inside the predicted interval.")
    mean_error: float = Field(description="Mean of predicted - observed over the arms (positive: too high).")
    rank_correlation: float | None = Field(None, description="Spearman correlation of predicted and observed "
                                           f"(with {MIN_ARMS_FOR_SLOPE} or more arms whose predictions differ).")
    slope: float | None = Field(None, description="Least-squares slope of observed on predicted (1: calibrated "
                                f"differences; with {MIN_ARMS_FOR_SLOPE} or more arms whose predictions differ).")
    notes: list[str] = Field(default_factory=list)

    def sentence(self) -> str:
        """The calibration in one sentence."""
        inside = sum(a.inside for a in self.arms)
        text = (f"{self.observed_metric} against predicted {self.predicted_metric}: {inside} of {len(self.arms)} "
                f"arms inside their 90% interval, mean predicted - observed {self.mean_error:+.4g}")
        if self.rank_correlation is not None and self.slope is not None:
            text += f", rank correlation {self.rank_correlation:.2f}, slope {self.slope:.2f}"
        return text + "."


def _mean_interval(values: np.ndarray, binary: bool, confidence: float) -> tuple[float, float]:
    n = len(values)
    if binary:
        return wilson_interval(int(values.sum()), n, confidence)
    mean = float(values.mean())
    if n < 2:
        return mean, mean
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * float(values.std(ddof=1)) / math.sqrt(n)
    return mean - half, mean + half


def check_predictions(observed: pd.DataFrame, predictions: list[Prediction], *, binary: bool, predicted_metric: str,
                      observed_metric: str, pairing: str, confidence: float = 0.95) -> Calibration | None:
    """Compare each arm's prediction with the mean of its observed outcome.

    Args:
        observed: One row per customer and arm: columns ``arm`` and ``value`` (0/1 when ``binary``, else money).
            Rows with a missing value are left out.
        predictions: The prediction of each arm (arms without observations are named in the notes).
        binary: Whether ``value`` is a 0/1 outcome (Wilson interval) or a mean of money (t interval).
        predicted_metric: What the predictions count.
        observed_metric: What ``value`` is.
        pairing: Why the two are compared.
        confidence: Coverage of the observed interval.

    Returns:
        The calibration, or None when no predicted arm has observations.
    """
    values = observed.dropna(subset=["value"])
    groups = {str(arm): part["value"].to_numpy(dtype=np.float64) for arm, part in values.groupby("arm")}
    checks: list[ArmCheck] = []
    missing = []
    for p in predictions:
        got = groups.get(p.arm)
        if got is None or len(got) == 0:
            missing.append(p.arm)
            continue
        mean = float(got.mean())
        low, high = _mean_interval(got, binary, confidence)
        checks.append(ArmCheck(arm=p.arm, n=len(got), predicted=p.point, predicted_low=p.low, predicted_high=p.high,
                               observed=mean, observed_low=low, observed_high=high,
                               inside=bool(p.low <= mean <= p.high), error=p.point - mean))
    if not checks:
        return None
    notes = [f"no {observed_metric} observed for {missing}: left out"] if missing else []
    predicted = np.array([c.predicted for c in checks])
    seen = np.array([c.observed for c in checks])
    rank = slope = None
    if len(checks) >= MIN_ARMS_FOR_SLOPE and np.ptp(predicted) > 0:
        slope = float(np.polyfit(predicted, seen, 1)[0])
        rank = float(stats.spearmanr(predicted, seen).statistic) if np.ptp(seen) > 0 else None
    elif len(checks) < MIN_ARMS_FOR_SLOPE:
        notes.append(f"{len(checks)} arm(s): a rank correlation and a calibration slope need {MIN_ARMS_FOR_SLOPE} "
                     "or more")
    else:
        notes.append("every arm has the same prediction: no rank correlation or slope")
    return Calibration(predicted_metric=predicted_metric, observed_metric=observed_metric, pairing=pairing,
                       arms=checks, share_inside=float(np.mean([c.inside for c in checks])),
                       mean_error=float(np.mean(predicted - seen)), rank_correlation=rank, slope=slope, notes=notes)
