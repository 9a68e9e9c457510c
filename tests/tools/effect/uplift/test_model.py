"""Uplift metrics on toy randomised tables with known answers, and the Hillstrom policy on real rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from agent.settings import Settings
from tools.effect.uplift.metrics import bootstrap_interval, ipw_policy_value, qini_auuc
from tools.effect.uplift.model import DEV_FILE, UpliftDataError, evaluate_uplift_file, read_experiment, split


def test_ipw_policy_value_on_a_toy_randomised_table() -> None:
    # Six customers, arms assigned 1/3 each; the policy matches the assigned arm for customers 0, 2 and 5.
    taken = np.array(["none", "mens", "womens", "none", "mens", "womens"])
    visit = np.array([1.0, 1.0, 0.0, 0.0, 1.0, 1.0])
    policy = np.array(["none", "womens", "womens", "mens", "none", "womens"])
    # matched outcomes: 1 (row 0) + 0 (row 2) + 1 (row 5) = 2 → 2 / 6 / (1/3) = 1.0
    assert ipw_policy_value(taken, visit, policy, 1 / 3) == pytest.approx(1.0)
    # "send to everyone in arm a" recovers the arm's mean outcome ×(share of the arm)/(1/3) = its mean here.
    for arm in ("none", "mens", "womens"):
        assert ipw_policy_value(taken, visit, np.full(6, arm), 1 / 3) == pytest.approx(visit[taken == arm].mean())
    with pytest.raises(ValueError, match="propensity"):
        ipw_policy_value(taken, visit, policy, 0.0)


def test_qini_and_auuc_by_hand() -> None:
    # Ranked: treated y=1, control y=0, treated y=0, control y=1.
    uplift = np.array([0.4, 0.3, 0.2, 0.1])
    treated = np.array([True, False, True, False])
    outcome = np.array([1.0, 0.0, 0.0, 1.0])
    result = qini_auuc(uplift, treated, outcome)
    # Qini per treated unit: 0.5, 0.5, 0.5, 0 → mean 0.375; random line ends at 0.
    assert result["qini"] == pytest.approx(0.375)
    # Uplift curve: 0 (no control yet), 1·0.5, 0.5·0.75, 0·1 → mean 0.21875; ATE 0.
    assert result["auuc"] == pytest.approx(0.21875) and result["ate"] == pytest.approx(0.0)
    assert qini_auuc(-uplift, treated, outcome)["qini"] < result["qini"]  # reversed ranking is worse
    with pytest.raises(ValueError, match="treated and control"):
        qini_auuc(uplift, np.ones(4, bool), outcome)


def test_bootstrap_interval_of_a_mean() -> None:
    values = np.arange(100, dtype=float)
    low, high = bootstrap_interval(lambda rows: float(values[rows].mean()), 100, n_bootstrap=500, seed=1)
    assert low < 49.5 < high and high - low < 25


def test_read_experiment_rejects_bad_files(tmp_path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("recency,visit\n1,0\n")
    with pytest.raises(UpliftDataError, match="missing columns"):
        read_experiment(bad)
    with pytest.raises(UpliftDataError, match="no such file"):
        read_experiment(tmp_path / "none.csv")


def test_real_visit_rates_match_the_published_ones(settings) -> None:
    data = read_experiment(settings.shared_data_dir / DEV_FILE)
    rates = data.groupby("arm")["visit"].mean()
    # Published on the full data (64,000 rows): 10.6%, 15.1%, 18.3%; this file holds 75% of them.
    assert rates["none"] == pytest.approx(0.106, abs=0.005)
    assert rates["womens"] == pytest.approx(0.151, abs=0.005)
    assert rates["mens"] == pytest.approx(0.183, abs=0.005)


@pytest.fixture(scope="module")
def small_experiment(settings, tmp_path_factory) -> Settings:
    """Settings whose shared Hillstrom file is the first 9,000 real rows (a subset, to keep the test fast)."""
    shared = tmp_path_factory.mktemp("shared")
    pd.read_csv(settings.shared_data_dir / DEV_FILE).iloc[:9000].to_csv(shared / DEV_FILE, index=False)
    return settings.model_copy(update={"home": tmp_path_factory.mktemp("uplift-home"), "shared_data_dir": shared})


def test_policy_on_held_out_real_rows(small_experiment: Settings, settings: Settings, tmp_path) -> None:
    full_file = settings.shared_data_dir / DEV_FILE
    settings = small_experiment
    result = evaluate_uplift_file(settings.shared_data_dir / DEV_FILE, settings)
    data = read_experiment(settings.shared_data_dir / DEV_FILE)
    test = split(data, settings.seed)[1]
    assert result["rows"] == len(test) == 2700 and result["evaluated_on"].startswith("held-out")
    for arm in ("none", "mens", "womens"):
        by_hand = float((test["visit"] * (test["arm"] == arm)).mean() * 3)
        assert result[f"send_{arm}"] == pytest.approx(by_hand)
    details = result["details"]
    assert details["policy"]["low"] <= result["policy_value"] <= details["policy"]["high"]
    assert result["policy_value"] > result["send_none"]  # e-mails raise visits on real held-out customers
    assert sum(details["policy_mix"].values()) == pytest.approx(1.0)
    # A file the model never saw is evaluated on all its rows; a high cost per send stops every e-mail.
    other = tmp_path / "other.csv"
    pd.read_csv(full_file).iloc[9000:9300].to_csv(other, index=False)  # real rows outside the training subset
    costly = evaluate_uplift_file(other, settings, cost_per_send=1.0)
    assert costly["rows"] == 300 and costly["evaluated_on"].startswith("all rows")
    assert costly["details"]["policy_mix"]["none"] == 1.0 and costly["policy_value"] == costly["send_none"]
