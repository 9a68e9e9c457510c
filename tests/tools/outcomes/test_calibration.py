"""Predicted against observed on small tables with hand-computed answers."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy import stats

from tools.outcomes import Calibration, Prediction, check_predictions, wilson_interval


def _rows(counts: dict[str, tuple[int, int]]) -> pd.DataFrame:
    """One row per customer: ``counts`` maps an arm to (1s, rows)."""
    return pd.DataFrame([{"arm": arm, "value": int(i < ones)} for arm, (ones, n) in counts.items() for i in range(n)])


def _check(observed: pd.DataFrame, predictions: list[Prediction], binary: bool = True) -> Calibration | None:
    return check_predictions(observed, predictions, binary=binary, predicted_metric="p", observed_metric="y",
                             pairing="test")


def test_each_arm_is_inside_or_outside_its_interval_with_its_error() -> None:
    result = _check(_rows({"A": (10, 100), "B": (30, 100)}),
                    [Prediction(arm="A", point=0.12, low=0.08, high=0.15),
                     Prediction(arm="B", point=0.20, low=0.15, high=0.25)])
    assert result is not None
    a, b = result.arms
    assert (a.arm, a.n, a.observed, a.inside) == ("A", 100, 0.10, True)
    assert (b.observed, b.inside) == (0.30, False)
    assert a.error == pytest.approx(0.02) and b.error == pytest.approx(-0.10)
    assert (a.observed_low, a.observed_high) == pytest.approx(wilson_interval(10, 100))
    assert result.share_inside == 0.5
    assert result.mean_error == pytest.approx(-0.04)
    assert result.slope is None and result.rank_correlation is None  # two arms
    assert any("need 3 or more" in n for n in result.notes)


def test_three_arms_give_a_rank_correlation_and_a_slope() -> None:
    # observed 0.10, 0.20, 0.40 against predicted 0.10, 0.15, 0.20: slope = Σ dx·dy / Σ dx² = 0.015 / 0.005 = 3
    result = _check(_rows({"A": (10, 100), "B": (20, 100), "C": (40, 100)}),
                    [Prediction(arm=a, point=p, low=p - 0.05, high=p + 0.05)
                     for a, p in (("A", 0.10), ("B", 0.15), ("C", 0.20))])
    assert result is not None
    x, y = [0.10, 0.15, 0.20], [0.10, 0.20, 0.40]
    mx, my = sum(x) / 3, sum(y) / 3
    slope = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True)) / sum((a - mx) ** 2 for a in x)
    assert result.slope == pytest.approx(slope) and slope == pytest.approx(3.0)
    assert result.rank_correlation == pytest.approx(1.0)
    assert [c.inside for c in result.arms] == [True, True, False]


def test_revenue_gets_a_t_interval_and_arms_without_rows_are_named() -> None:
    observed = pd.DataFrame({"arm": ["A", "A", "A", "A", "B"], "value": [0.0, 10.0, 20.0, 30.0, None]})
    result = _check(observed, [Prediction(arm="A", point=12.0, low=5.0, high=20.0),
                               Prediction(arm="B", point=1.0, low=0.0, high=2.0)], binary=False)
    assert result is not None
    (a,) = result.arms
    half = stats.t.ppf(0.975, 3) * math.sqrt(((15 ** 2) + 5 ** 2 + 5 ** 2 + 15 ** 2) / 3) / 2
    assert (a.observed, a.observed_low, a.observed_high) == pytest.approx((15.0, 15.0 - half, 15.0 + half))
    assert a.inside
    assert result.notes[0] == "no y observed for ['B']: left out"


def test_no_observed_arm_gives_none() -> None:
    assert _check(_rows({"A": (1, 2)}), [Prediction(arm="Z", point=0.1, low=0.0, high=0.2)]) is None
