"""Click model and effect tool on the real MovieLens-100k demo shop (skipped until the dataset is fetched)."""

from __future__ import annotations

import dataclasses
import json
import time

import numpy as np
import pytest
from pydantic import ValidationError

from agent.settings import Settings
from tools.effect.click_features import HistoryStats
from tools.effect.click_model import METRIC, ClickModel, expected_calibration_error
from tools.effect.effect_tool import ESTIMATE_METRIC, EffectRequest, EffectTool

SETTINGS = Settings()


@pytest.fixture(scope="module")
def shop():
    if not (SETTINGS.data_dir / "ml-100k").is_dir():
        pytest.skip(
            f"MovieLens-100k not fetched into {SETTINGS.data_dir} (run tools.shop.datasets.fetch_datasets)"
        )
    from tools.shop import load_demo_shop

    return load_demo_shop(SETTINGS)


@pytest.fixture(scope="module")
def model_settings(tmp_path_factory) -> Settings:
    return SETTINGS.model_copy(update={"home": tmp_path_factory.mktemp("home")})


@pytest.fixture(scope="module")
def model(shop, model_settings) -> ClickModel:
    start = time.perf_counter()
    trained = ClickModel.train(shop, model_settings)
    print(f"\nclick model trained in {time.perf_counter() - start:.2f}s: {trained.card['metrics']}")
    return trained


@pytest.fixture(scope="module")
def tool(shop, model) -> EffectTool:
    return EffectTool(shop, model)


def test_ece_by_hand() -> None:
    # 10 bins, one prediction each: |0 − .05| + |1 − .15| + |1 − .85| + |1 − .95| = 1.1 over 4 rows.
    assert expected_calibration_error(np.array([0, 1, 1, 1]), np.array([0.05, 0.15, 0.85, 0.95])) == (
        pytest.approx(1.1 / 4)
    )
    # 2 bins: [.21, .29] → mean p .25 vs mean y .5; [.71, 1.0] → .855 vs 1; each bin holds half the rows.
    y, p = np.array([0, 1, 1, 1]), np.array([0.21, 0.29, 0.71, 1.0])
    assert expected_calibration_error(y, p, n_bins=2) == pytest.approx(0.5 * 0.25 + 0.5 * 0.145)
    assert expected_calibration_error(np.array([0, 1]), np.array([0.0, 1.0])) == 0.0


def test_held_out_metrics_beat_chance(model) -> None:
    card = model.card
    metrics = card["metrics"]
    assert metrics["auc"] > 0.62, metrics
    assert metrics["log_loss"] < metrics["log_loss_of_constant_rate"] - 0.02, metrics
    assert metrics["ece"] < 0.1, metrics
    assert card["split"]["n_test"] == pytest.approx(20_000, rel=0.01)
    assert card["split"]["calibration_start"] < card["split"]["test_start"]
    assert "not observed clicks" in card["derivation"] and card["metric"] == METRIC


def test_training_rows_never_see_their_own_rating(shop) -> None:
    inter = shop.interactions.sort_values("timestamp", kind="stable").reset_index(drop=True)
    history = inter.iloc[:5000]
    event = history.iloc[[1234]]
    stats = HistoryStats.from_history(shop, history)
    without = HistoryStats.from_history(shop, history.drop(index=1234))
    c = stats.customer_ids.get_indexer(event["customer_id"])
    i = stats.product_ids.get_indexer(event["product_id"])
    left_out = stats.features(c, i, own_rating=event["rating"].to_numpy())
    expected = without.features(c, i)
    numeric = [col for col in expected.columns if col not in ("age_band", "gender", "occupation")]
    # Equal up to the global mean and genre shares, which move by one rating in 5,000.
    np.testing.assert_allclose(left_out[numeric].to_numpy(), expected[numeric].to_numpy(), rtol=2e-3)
    assert not np.allclose(stats.features(c, i)[numeric].to_numpy(), expected[numeric].to_numpy(), rtol=2e-3)


def test_model_and_card_are_saved_and_reused(shop, model, model_settings, monkeypatch) -> None:
    folder = model_settings.models_dir / "effect"
    card = json.loads((folder / "model_card.json").read_text())
    assert card["metrics"] == model.card["metrics"] and card["data"]["n_events"] == len(shop.interactions)
    retrained: list[int] = []
    monkeypatch.setattr(
        ClickModel, "train", classmethod(lambda cls, shop, settings: retrained.append(len(shop.interactions)))
    )
    reloaded = ClickModel.load_or_train(shop, model_settings)
    assert retrained == [] and reloaded.card == model.card
    x = HistoryStats.from_history(shop, shop.interactions).features(np.arange(5), np.arange(5))
    np.testing.assert_allclose(reloaded.predict_proba(x), model.predict_proba(x))
    changed = dataclasses.replace(shop, interactions=shop.interactions.iloc[:-1])
    ClickModel.load_or_train(changed, model_settings)
    assert retrained == [len(shop.interactions) - 1]  # other data: the saved model is not reused


def test_factors_add_up_to_the_logit(shop, model) -> None:
    stats = HistoryStats.from_history(shop, shop.interactions)
    rng = np.random.default_rng(SETTINGS.seed)
    x = stats.features(rng.integers(0, 943, 200), rng.integers(0, 1682, 200))
    logit, parts = model.explain(x)
    assert parts.shape == (200, len(model.factor_names))
    np.testing.assert_allclose(logit - parts.sum(axis=1), (logit - parts.sum(axis=1))[0], atol=1e-9)


def scifi_groups(tool, product_id: str) -> tuple[list[str], list[str]]:
    """Return the 20 customers with the highest share of Sci-Fi ratings, and every customer with none.

    Only customers who have not rated ``product_id``: for them the estimate is the model's p_like.
    """
    stats = tool.stats
    scifi = stats.customer_genre_n[:, stats.genres.index("Sci-Fi")]
    share = scifi / stats.customer_n
    unrated = ~stats.rated[:, stats.product_ids.get_loc(product_id)].toarray().ravel()
    order = [k for k in np.argsort(-share, kind="stable") if unrated[k]]
    return list(stats.customer_ids[order[:20]]), list(stats.customer_ids[(scifi == 0) & unrated])


def test_scifi_fans_like_star_wars_more(shop, tool) -> None:
    products = shop.products
    star_wars = products.loc[
        (products["title"] == "Star Wars") & (products["year"] == 1977), "product_id"
    ].iat[0]
    fans, none = scifi_groups(tool, star_wars)
    assert len(none) >= 10
    fan_estimate = tool.predict(EffectRequest(customer_ids=fans, product_ids=[star_wars])).estimates[0]
    none_estimate = tool.predict(EffectRequest(customer_ids=none, product_ids=[star_wars])).estimates[0]
    print(f"\nStar Wars p_like: Sci-Fi fans {fan_estimate.point:.3f}, none {none_estimate.point:.3f}")
    assert fan_estimate.point > none_estimate.point + 0.03
    assert any("strong Sci-Fi affinity in this group" in f for f in fan_estimate.factors), (
        fan_estimate.factors
    )


def test_interval_contains_point_and_factors_read_well(shop, tool) -> None:
    group = list(shop.customers["customer_id"].iloc[:50])
    products = list(shop.products["product_id"].iloc[:8])
    start = time.perf_counter()
    result = tool.predict(EffectRequest(customer_ids=group, product_ids=products))
    print(f"\neffect 50 customers × 8 products in {time.perf_counter() - start:.3f}s")
    assert [e.product_id for e in result.estimates] == products
    for estimate in result.estimates:
        assert 0 < estimate.low <= estimate.point <= estimate.high < 1 and estimate.low < estimate.high
        assert estimate.n_customers == 50 and estimate.metric == ESTIMATE_METRIC
        assert len(estimate.factors) == 3 and all(f.endswith("log-odds)") for f in estimate.factors)
    assert result.model_card == tool.model_card and result.model_card["metrics"]["auc"] > 0.5
    single = tool.predict(EffectRequest(customer_ids=group[:1], product_ids=products[:1])).estimates[0]
    assert single.low == single.point == single.high


def test_group_point_is_the_mean_of_individual_points(shop, tool) -> None:
    group = list(shop.customers["customer_id"].iloc[10:14])
    joint = tool.predict(EffectRequest(customer_ids=group, product_ids=["50"])).estimates[0].point
    alone = [
        tool.predict(EffectRequest(customer_ids=[c], product_ids=["50"])).estimates[0].point for c in group
    ]
    assert joint == pytest.approx(float(np.mean(alone)))


def test_customers_who_already_rated_the_title_count_zero(shop, tool) -> None:
    """Promoting a title to a customer who has rated it cannot produce a new rating: their response is 0."""
    raters = set(shop.interactions.loc[shop.interactions["product_id"] == "50", "customer_id"])
    rater = next(c for c in shop.customers["customer_id"] if c in raters)
    others = [c for c in shop.customers["customer_id"] if c not in raters][:3]
    alone = tool.predict(EffectRequest(customer_ids=[rater], product_ids=["50"])).estimates[0]
    assert alone.point == alone.low == alone.high == 0.0 and alone.already_rated == 1
    fresh = [tool.predict(EffectRequest(customer_ids=[c], product_ids=["50"])).estimates[0] for c in others]
    assert all(e.point > 0 and e.already_rated == 0 for e in fresh)
    group = tool.predict(EffectRequest(customer_ids=[rater, *others], product_ids=["50"])).estimates[0]
    assert group.already_rated == 1 and group.point == pytest.approx(sum(e.point for e in fresh) / 4)


def test_unknown_ids_and_bounds(tool) -> None:
    with pytest.raises(ValueError, match="unknown customer ids"):
        tool.predict(EffectRequest(customer_ids=["nobody"], product_ids=["50"]))
    with pytest.raises(ValueError, match="unknown product ids"):
        tool.predict(EffectRequest(customer_ids=list(tool.stats.customer_ids[:1]), product_ids=["no-such"]))
    with pytest.raises(ValidationError):
        EffectRequest(customer_ids=[], product_ids=["50"])
