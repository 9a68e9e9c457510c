"""predict_effect: base rate (p_like) × headline index per copy variant, with the combined interval by hand."""

from __future__ import annotations

import numpy as np
import pytest

from agent.plan import CopyVariant
from tools.effect.category_rate import METRIC as CATEGORY_RATE_METRIC
from tools.effect.effect_tool import METRIC, EffectEstimate
from tools.effect.headlines.model import HeadlineRating
from tools.effect.variant_effect import NOT_RATED, combination, combine, predict_effect, predict_variant_effect


def estimate(point: float, low: float, high: float) -> EffectEstimate:
    return EffectEstimate(product_id="50", metric=METRIC, point=point, low=low, high=high, n_customers=40,
                          factors=["title is widely liked (+0.40 log-odds)", "b", "c"])  # fmt: skip


def test_combination_by_hand() -> None:
    rating = HeadlineRating(headline="h", index=1.2, low=1.2 * np.exp(-0.1 * 1.645), high=1.2 * np.exp(0.1 * 1.645),
                            factors=["asks a question: yes (+2.0% click-through vs an average headline)", "x", "y"],
                            evidence=['closest tested headline: "Why Cats?" (CTR +12%, 900 views)'])
    effect = estimate(0.5, 0.5 * np.exp(-0.2 * 1.645), 0.5 * np.exp(0.2 * 1.645))
    result = combine("v1", "s1", effect, rating)
    sd = np.hypot(0.2, 0.1)  # log-scale sds of the two intervals, as if independent
    assert result.point == pytest.approx(0.6)
    assert result.low == pytest.approx(0.6 * np.exp(-1.645 * sd))
    assert result.high == pytest.approx(0.6 * np.exp(1.645 * sd))
    assert result.p_like == 0.5 and result.headline_index == 1.2 and result.combination == combination(METRIC)
    assert result.factors[0].startswith("product for this segment: title is widely liked")
    assert result.factors[2].startswith("headline: asks a question")
    assert result.evidence == rating.evidence  # observed examples reach the plan, apart from the model's factors
    # A one-customer estimate has no spread: the interval is the headline's alone; the point is capped at 1.
    single = combine("v2", "s1", estimate(0.9, 0.9, 0.9), rating.model_copy(update={"index": 1.5, "low": 1.4,
                                                                                      "high": 1.6}))  # fmt: skip
    assert single.point == 1.0 and single.high == 1.0


def test_combination_names_the_base_rate_of_the_effect_tool_used() -> None:
    rating = HeadlineRating(headline="h", index=1.0, low=1.0, high=1.0, factors=["x"])
    purchases = estimate(0.08, 0.06, 0.1).model_copy(update={"metric": CATEGORY_RATE_METRIC})
    result = combine("v1", "s1", purchases, rating)
    assert result.combination.endswith(CATEGORY_RATE_METRIC) and "rated" not in result.combination
    assert combine("v1", "s1", estimate(0.5, 0.4, 0.6), rating).combination.endswith(METRIC)


def variant(variant_id: str, headline: str, effect: EffectEstimate, language: str = "en") -> CopyVariant:
    return CopyVariant(variant_id=variant_id, segment_id="s1", channel="email", language=language, product_id="50",
                       product_title="Star Wars", headline=headline, body="b", cta="c", source="template",
                       effect=effect)  # fmt: skip


def test_predict_effect_per_variant_and_in_batch(small_headline_model) -> None:
    model, settings = small_headline_model
    effect = estimate(0.4, 0.35, 0.45)
    variants = [variant("v1", "Why Star Wars Still Matters To You", effect), variant("v2", "Star Wars.", effect)]
    batch = predict_effect(variants, headlines=model, settings=settings)
    one = predict_variant_effect(variants[1], model, settings)
    assert [e.variant_id for e in batch] == ["v1", "v2"] and batch[1].point == pytest.approx(one.point)
    ratings = model.rate([v.headline for v in variants], settings)
    for result, rating in zip(batch, ratings, strict=True):
        assert result.point == pytest.approx(0.4 * rating.index)
        assert result.low < result.point < result.high


def test_chinese_headlines_get_a_neutral_index_that_says_why(small_headline_model) -> None:
    model, settings = small_headline_model
    effect = estimate(0.4, 0.35, 0.45)
    zh_variant = variant("zh", "星球大战：经典回归", effect, language="zh")
    variants = [zh_variant, variant("en", "Why Star Wars Matters To You", effect)]
    zh, en = predict_effect(variants, headlines=model, settings=settings)
    assert zh.headline_index == 1.0 and zh.point == pytest.approx(0.4) and any(NOT_RATED in f for f in zh.factors)
    assert en.headline_index == pytest.approx(model.rate([variants[1].headline], settings)[0].index)
