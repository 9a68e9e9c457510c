"""OBD CTR model: calibration error by hand, calibration on a later slice of real logs, reliability PNG."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator

from tools.effect.bandit.ctr import CATEGORICAL, NUMERIC, candidate_models, impressions, time_split
from tools.effect.calibration import calibration_error, save_reliability_plot


def test_quantile_calibration_error_by_hand() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.3, 0.2, 0.6])
    # 2 equal-mass bins by rank of p: {0.1, 0.2} → |1 − 0.3| and {0.3, 0.6} → |1 − 0.9|, over 4 rows.
    assert calibration_error(y, p, n_bins=2, strategy="quantile") == pytest.approx((0.7 + 0.1) / 4)
    assert calibration_error(y, p, n_bins=2, strategy="uniform") == pytest.approx((abs(1 - 0.6) + abs(1 - 0.6)) / 4)
    with pytest.raises(ValueError, match="strategy"):
        calibration_error(y, p, strategy="other")


@pytest.fixture(scope="module")
def obd_split(settings):
    data = impressions(settings)
    assert len(data) == 60_000 and data["timestamp"].is_monotonic_increasing
    return time_split(data)


def test_time_split_is_ordered(obd_split) -> None:
    fit, cal, test = obd_split
    assert fit["timestamp"].max() <= cal["timestamp"].min() and cal["timestamp"].max() <= test["timestamp"].min()
    assert (len(fit), len(cal), len(test)) == (36_000, 12_000, 12_000)


def test_calibration_on_a_later_slice_improves_held_out_ece(obd_split, settings, tmp_path) -> None:
    fit, cal, test = obd_split
    cols = CATEGORICAL + NUMERIC
    model = candidate_models(settings.seed)["logistic"].fit(fit[cols], fit["click"])
    calibrated = CalibratedClassifierCV(FrozenEstimator(model), method="sigmoid").fit(cal[cols], cal["click"])
    y = test["click"].to_numpy()
    raw, platt = model.predict_proba(test[cols])[:, 1], calibrated.predict_proba(test[cols])[:, 1]
    ece_raw, ece_platt = calibration_error(y, raw, 10, "quantile"), calibration_error(y, platt, 10, "quantile")
    print(f"\nOBD held-out ECE (10 equal-mass bins): raw {ece_raw:.5f}, sigmoid-calibrated {ece_platt:.5f}")
    assert ece_platt < ece_raw
    png = save_reliability_plot(y, {"raw": raw, "sigmoid": platt}, tmp_path / "rel.png", "test")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
