"""Purchase propensity: features use only lines before the cut; calibration improves held-out ECE."""

import numpy as np
import pandas as pd
import pytest

from tools.effect.calibration import calibration_error
from tools.effect.purchases.history import DAY, VALIDATION_CUT, shop_history
from tools.effect.purchases.propensity import (
    PurchaseModel,
    _product_trend,
    customer_features,
    next_period,
    ranker_features,
)
from tools.shop import Shop


@pytest.fixture(scope="module")
def lines(retail_shop: Shop) -> pd.DataFrame:
    return shop_history(retail_shop.orders)


@pytest.fixture(scope="module")
def categories(retail_shop: Shop) -> pd.Series:
    return retail_shop.products.set_index("product_id")["category"]


def test_features_at_a_cut_ignore_every_line_after_it(lines: pd.DataFrame, categories: pd.Series) -> None:
    before = customer_features(lines, VALIDATION_CUT, categories)
    after = lines["timestamp"] >= VALIDATION_CUT
    changed = lines.copy()
    changed.loc[after, "revenue"] *= 7.0
    changed.loc[after, "timestamp"] -= 3600  # still after the cut unless within the first hour
    changed = changed[~after | (changed["timestamp"] >= VALIDATION_CUT)]
    extra = changed[changed["timestamp"] >= VALIDATION_CUT].head(50).assign(customer_id="c_new_after_cut")
    changed = pd.concat([changed, extra])
    pd.testing.assert_frame_equal(before, customer_features(changed, VALIDATION_CUT, categories))
    assert "c_new_after_cut" not in before.index
    assert len(before) == lines.loc[lines["timestamp"] < VALIDATION_CUT, "customer_id"].nunique()


def test_next_period_labels_hand_computed() -> None:
    t0 = 1_000 * DAY
    lines = pd.DataFrame({"customer_id": ["a", "a", "b", "c"], "timestamp": [t0 - 1, t0 + 5, t0 + 31 * DAY, t0],
                          "revenue": [100.0, 10.0, 20.0, 2.5]})
    labels = next_period(lines, t0, pd.Index(["a", "b", "c", "d"]))
    assert labels["buy"].tolist() == [1, 0, 1, 0]
    assert labels["revenue"].tolist() == [10.0, 0.0, 2.5, 0.0]


def test_product_trend_hand_computed() -> None:
    cut = 1_000 * DAY
    # Product X: 3 invoices in the last 30 days (o2 has it twice: one invoice), 2 in the 60 days before (1 a month).
    # Product Y: none in the last 30 days, 4 in the 60 days before (2 a month).
    rows = [("a", "X", "o1", 5), ("b", "X", "o2", 10), ("b", "X", "o2", 10), ("b", "X", "o3", 20),
            ("c", "X", "o4", 40), ("c", "X", "o5", 70),
            ("a", "Y", "o6", 35), ("c", "Y", "o7", 45), ("c", "Y", "o8", 60), ("c", "Y", "o9", 80)]
    past = pd.DataFrame(rows, columns=["customer_id", "product_id", "order_id", "age"])
    past["timestamp"] = cut - past.pop("age") * DAY
    trend = _product_trend(past, cut)
    x, y = np.log((3 + 1) / (1 + 1)), np.log((0 + 1) / (2 + 1))
    assert trend.loc["a"].tolist() == pytest.approx([(x + y) / 2, x, 0.5])
    assert trend.loc["b"].tolist() == pytest.approx([x, x, 1.0])
    assert trend.loc["c"].tolist() == pytest.approx([(x + y) / 2, x, 0.5])


def test_calibration_improves_held_out_ece_and_model_beats_frequency(lines: pd.DataFrame,
                                                                     categories: pd.Series) -> None:
    model = PurchaseModel.fit(lines, VALIDATION_CUT, categories)
    scores = model.predict(lines)
    truth = next_period(lines, VALIDATION_CUT, scores.index)
    y = truth["buy"].to_numpy()
    raw = calibration_error(y, scores["p_raw"].to_numpy(), strategy="quantile")
    calibrated = calibration_error(y, scores["p_buy"].to_numpy(), strategy="quantile")
    assert calibrated < raw
    assert ((scores["p_low"] <= scores["p_buy"] + 1e-9) & (scores["p_buy"] <= scores["p_high"] + 1e-9)).all()
    from sklearn.metrics import roc_auc_score

    frequency = customer_features(lines, VALIDATION_CUT)["invoices"].reindex(scores.index)
    assert roc_auc_score(y, scores["p_buy"]) > roc_auc_score(y, frequency)
    assert np.isfinite(scores["expected_revenue"]).all() and (scores["expected_revenue"] >= 0).all()


def test_ranker_features_at_a_cut_ignore_every_line_after_it(lines: pd.DataFrame, categories: pd.Series) -> None:
    cut = VALIDATION_CUT - 120 * DAY  # a smaller history keeps the ranker fit short
    before = ranker_features(lines, cut, categories)
    after = lines["timestamp"] >= cut
    changed = pd.concat([lines[~after], lines[after].head(2000).assign(customer_id="c_new_after_cut")])
    pd.testing.assert_frame_equal(before, ranker_features(changed, cut, categories))
    assert "c_new_after_cut" not in before.index
    assert ((before["rk_any"] >= before["rk_max"] - 1e-12) & (before["rk_max"] <= 1.0)).all()
    assert (before["rk_top"] <= before["rk_sum"] + 1e-12).all()


def test_median_revenue_is_zero_below_even_odds_and_the_residual_quantile_above() -> None:
    from tools.effect.purchases.propensity import PurchaseModel

    model = PurchaseModel.__new__(PurchaseModel)
    model.residual_quantiles = list(np.linspace(-1.0, 1.0, 101))  # residual percentile k = -1 + k/50
    p = np.array([0.2, 0.5, 0.8, 1.0])
    log_if_buy = np.log(np.array([100.0, 100.0, 100.0, 100.0]))
    median = model._median_revenue(p, log_if_buy)
    # p = 0.8: the median is the (0.8 - 0.5) / 0.8 = 37.5th percentile of revenue if they buy.
    assert median[0] == 0.0 and median[1] == pytest.approx(100 * np.exp(-1.0))
    assert median[2] == pytest.approx(100 * np.exp(-1.0 + 37.5 / 50)) and median[3] == pytest.approx(100.0)
