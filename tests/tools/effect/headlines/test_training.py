"""Headline model: the within-test likelihood on known answers, pair accuracy on toy files, real Upworthy data."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from agent.settings import Settings
from tools.effect.headlines.features import CACHE_FILE, STYLE_FEATURES, style_matrix
from tools.effect.headlines.model import HeadlineModel
from tools.effect.headlines.pairs import HeadlinePairsError, pair_accuracy, read_pairs, within_test_pair_accuracy
from tools.effect.headlines.training import VAL_FILE, load_arms, score_pairs_file
from tools.effect.headlines.within_test import WithinTestPoisson


def test_within_test_poisson_recovers_a_known_ratio() -> None:
    # Three tests with very different base rates; in each, the arm with x = 1 gets twice the CTR of x = 0.
    x = np.array([[0.0], [1.0], [0.0], [1.0], [0.0], [1.0]])
    impressions = np.array([1000, 1000, 5000, 2500, 800, 1600])
    clicks = np.array([10, 20, 250, 250, 40, 160])  # CTRs 1% / 2%, 5% / 10%, 5% / 10%
    groups = np.array(["a", "a", "b", "b", "c", "c"])
    model = WithinTestPoisson(penalty=1e-9).fit(x, clicks, impressions, groups)
    assert model.coef[0] == pytest.approx(np.log(2.0), abs=1e-5)  # the test levels cancel out
    assert model.score_sd(np.array([[1.0]]))[0] > 0
    ridge = WithinTestPoisson(penalty=100.0).fit(x, clicks, impressions, groups)
    assert 0 < ridge.coef[0] < model.coef[0]  # the penalty shrinks towards no effect
    with pytest.raises(ValueError, match="at least one click"):
        WithinTestPoisson().fit(x, np.zeros(6), impressions, groups)


def test_pair_accuracy_on_a_toy_file(tmp_path) -> None:
    records = [
        {"label": "Headline 1 has more clicks than Headline 2.", "headline_1": "A", "headline_2": "B"},
        {"label": "Headline 2 has more clicks than Headline 1.", "headline_1": "C", "headline_2": "D"},
        {"label": "Headline 2 has more clicks than Headline 1.", "headline_1": "E", "headline_2": "F"},
    ]
    path = tmp_path / "pairs.json"
    path.write_text(json.dumps(records))
    first, second, labels = read_pairs(path)
    assert first == ["A", "C", "E"] and labels.tolist() == [1, 2, 2]
    score = {"A": 2.0, "B": 1.0, "C": 0.0, "D": 3.0, "E": 5.0, "F": 4.0}
    s1, s2 = np.array([score[h] for h in first]), np.array([score[h] for h in second])
    assert pair_accuracy(s1, s2, labels) == pytest.approx(2 / 3)
    assert pair_accuracy(np.zeros(3), np.zeros(3), labels) == 0.0  # ties are never right
    path.write_text(json.dumps([{"label": "neither", "headline_1": "A", "headline_2": "B"}]))
    with pytest.raises(HeadlinePairsError, match="names neither headline"):
        read_pairs(path)


def test_within_test_pair_accuracy_by_hand() -> None:
    arms = pd.DataFrame({
        "clickability_test_id": ["t", "t", "t", "u", "u"],
        "impressions": [1000, 1000, 1000, 1000, 1000],
        "clicks": [10, 20, 30, 15, 15],  # test u is a tie: no pair
    })  # fmt: skip
    accuracy, pairs = within_test_pair_accuracy(arms, np.array([1.0, 3.0, 2.0, 0.0, 1.0]))
    assert pairs == 3 and accuracy == pytest.approx(2 / 3)  # (10<20 ✓), (10<30 ✓), (20<30 ✗)


def test_style_markers() -> None:
    row = dict(zip(STYLE_FEATURES, style_matrix(["Why Did 7 Of You Say This?"])[0], strict=True))
    assert row["question"] == row["number"] == row["you"] == row["tease"] == row["wh_word"] == 1.0
    assert row["words"] == 7 and row["exclamation"] == 0.0


@pytest.fixture(scope="module")
def headline_settings(settings: Settings, tmp_path_factory) -> Settings:
    """A fresh home, its embedding cache seeded from the repository's (a cache only: missing texts get encoded)."""
    home = tmp_path_factory.mktemp("headline-home")
    cached = Settings().models_dir / "headlines" / CACHE_FILE
    if cached.is_file():
        (home / "models" / "headlines").mkdir(parents=True)
        shutil.copy(cached, home / "models" / "headlines" / CACHE_FILE)
    return settings.model_copy(update={"home": home})


def test_real_arms_drop_the_bad_weeks(headline_settings: Settings) -> None:
    arms, info = load_arms(headline_settings)
    raw = pd.read_parquet(headline_settings.shared_data_dir / "upworthy_dev.parquet")
    kept = raw[raw["clickability_test_id"].isin(arms["clickability_test_id"])]
    assert not kept["test_week"].between(201326, 201402).any()
    assert info["tests_dropped_bad_weeks"] > 0 and (arms.groupby("clickability_test_id").size() >= 2).all()
    assert arms["clicks"].sum() == kept["clicks"].sum()  # packages sharing a headline are summed, not dropped


def test_pairs_file_scoring_excludes_overlapping_tests(headline_settings: Settings, tmp_path) -> None:
    records = json.loads((headline_settings.shared_data_dir / VAL_FILE).read_text())[:40]
    path = tmp_path / "val40.json"
    path.write_text(json.dumps(records))
    result = score_pairs_file(path, headline_settings, penalties=(1e5,), fine_tune=None)
    assert result["pairs"] == 40 and result["excluded_tests"] >= 30  # these pairs come from Upworthy tests
    assert 0.0 <= result["accuracy"] <= 1.0 and result["accuracy"] * 40 == pytest.approx(round(result["accuracy"] * 40))
    assert result["cross_validation"]["significant_pairs"] > 0


def test_ratings_have_intervals_and_factors(headline_settings: Settings) -> None:
    arms, _ = load_arms(headline_settings)
    arms = arms[arms["clickability_test_id"].isin(arms["clickability_test_id"].unique()[:150])]
    from tools.effect.headlines.features import headline_matrix

    model = HeadlineModel.fit(headline_matrix(arms["headline"].tolist(), headline_settings), arms, 1e4)
    ratings = model.rate(["Here's Why 3 Of Your Neighbors Stopped Buying Bottled Water", "Water."], headline_settings)
    for rating in ratings:
        assert 0 < rating.low < rating.index < rating.high and len(rating.factors) == 3
        assert all("click-through vs an average headline" in f for f in rating.factors)
