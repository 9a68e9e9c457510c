"""Later-period evaluation: hand-computed metrics, and a file never seen in training whose new customers are ignored.

The later file of these tests is carved from the dev data: real rows of its last two weeks (2011-10-25..11-08).
The models are then trained only on dev lines before the file's first line, so the file is unseen. To keep the
runtime modest the product ranking measured here is the personal-frequency baseline (the default ranker is the
trained next-month ranker, measured by ``campaign bench shop``).
"""

import numpy as np
import pandas as pd
import pytest

from agent.settings import Settings
from tools.effect.purchases import METRIC_KEYS, evaluate_later_file, personal_frequency, purchase_metrics
from tools.effect.purchases.history import clean_later_lines, shop_history
from tools.shop import Shop


def test_purchase_metrics_hand_computed() -> None:
    # positives score 0.9 and 0.4, negatives 0.5 and 0.1: pairs (0.9>0.5, 0.9>0.1, 0.4<0.5, 0.4>0.1) → AUC 3/4
    result = purchase_metrics(np.array([1, 1, 0, 0]), np.array([0.9, 0.4, 0.5, 0.1]),
                              np.array([100.0, 20.0, 0.0, 0.0]), np.array([80.0, 30.0, 10.0, 0.0]))
    assert result["auc_buy"] == pytest.approx(0.75)
    assert result["revenue_mae"] == pytest.approx((20 + 10 + 10 + 0) / 4)
    assert np.isnan(purchase_metrics(np.array([1, 1]), np.array([0.2, 0.3]), np.zeros(2), np.zeros(2))["auc_buy"])


def _frequency_ranker(orders: pd.DataFrame, cut: int, customers: list[str], categories: pd.Series) -> dict:
    return personal_frequency(orders, pd.Timestamp(cut, unit="s"), customers, 10)


def test_later_file_is_scored_and_unknown_customers_are_ignored(settings: Settings, retail_shop: Shop,
                                                                 tmp_path) -> None:  # type: ignore[no-untyped-def]
    raw = pd.read_parquet(settings.shared_data_dir / "online_retail_dev.parquet")
    later = raw[raw["InvoiceDate"] >= "2011-10-25"].reset_index(drop=True)
    plain = tmp_path / "later_carved_from_dev.parquet"
    later.to_parquet(plain)
    newcomer = later[later["CustomerID"].notna()].head(40).assign(CustomerID=pd.array([999_999] * 40, dtype="Int64"))
    with_new = tmp_path / "later_with_a_new_customer.parquet"
    pd.concat([later, newcomer], ignore_index=True).to_parquet(with_new)

    result = evaluate_later_file(plain, settings, rank=_frequency_ranker)
    assert set(result) == set(METRIC_KEYS)
    cut = int((later["InvoiceDate"].min() - pd.Timestamp(0)) // pd.Timedelta(seconds=1))
    known = set(shop_history(retail_shop.orders, cut)["customer_id"])
    lines = clean_later_lines(later, settings)
    assert result["customers"] == len(known)
    assert result["buyers"] == len(set(lines["customer_id"]) & known) > 0
    assert 0.6 < result["auc_buy"] < 1.0
    assert result["revenue_mae"] > 0 and 0 < result["ndcg_at_10"] <= 1

    assert evaluate_later_file(with_new, settings, rank=_frequency_ranker) == result


def test_each_month_is_scored_by_a_model_trained_only_on_the_months_before_it(retail_shop: Shop) -> None:
    from tools.effect.purchases.evaluation import auc_by_month
    from tools.effect.purchases.history import DAY, VALIDATION_CUT

    cut = VALIDATION_CUT
    lines = shop_history(retail_shop.orders)
    lines = lines[lines["timestamp"] < cut + 31 * DAY]
    categories = retail_shop.products.set_index("product_id")["category"]
    months = auc_by_month(lines, cut, categories, months=2, with_ranker=False)
    assert [m["month"] for m in months] == ["2011-10-09", "2011-09-09"]
    # Monthly cuts back from 2011-10-09 with 60 days of history before them: 2011-09-09 .. 2011-02-11.
    assert [m["trained_on_months"] for m in months] == [8, 7]
    known = lines.loc[lines["timestamp"] < cut, "customer_id"].unique()
    month = lines[(lines["timestamp"] >= cut) & lines["customer_id"].isin(known)]
    assert months[0]["customers"] == len(known)
    assert months[0]["buyers"] == month["customer_id"].nunique()
    assert 0.5 < months[0]["purchase_frequency_auc_buy"] < months[0]["auc_buy"] < 1.0
    # The latest month's outcomes removed: the month before is scored exactly as it was (no leak from later
    # labels into its training), and the latest month has no buyer left to rank.
    without_latest = auc_by_month(lines[lines["timestamp"] < cut], cut, categories, months=2, with_ranker=False)
    assert without_latest[1] == months[1]
    assert without_latest[0]["buyers"] == 0 and np.isnan(without_latest[0]["auc_buy"])
