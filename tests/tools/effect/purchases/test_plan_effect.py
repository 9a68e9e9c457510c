"""The retail shop's effect tool: expected incremental revenue per send, its value in orders and money, its words."""

from __future__ import annotations

import numpy as np
import pytest

from agent.settings import Settings
from tools.effect import Amount, EffectRequest, PurchaseEffect, SendValue
from tools.effect.uplift import ASSUMPTION
from tools.shop import Shop


@pytest.fixture(scope="module")
def tool(retail_shop: Shop, settings: Settings) -> PurchaseEffect:
    return PurchaseEffect.load_or_train(retail_shop, settings)


def test_point_is_organic_probability_times_lift_minus_one_times_line_revenue(tool: PurchaseEffect,
                                                                               retail_shop: Shop) -> None:
    customers = retail_shop.customers["customer_id"].astype(str).tolist()[:40]
    products = ["85123A", "22423", "84879"]
    result = tool.predict(EffectRequest(customer_ids=customers, product_ids=products))
    p = tool.ranker.score(np.repeat(customers, 3).tolist(), np.tile(products, 40).tolist()).reshape(40, 3)
    for j, estimate in enumerate(result.estimates):
        line = tool.line_revenue[estimate.product_id]
        assert line == pytest.approx(tool.quantity[estimate.product_id] * tool.price[estimate.product_id])
        assert estimate.point == pytest.approx(p[:, j].mean() * (tool.prior.lift - 1) * line)
        assert estimate.low <= estimate.point <= estimate.high and estimate.unit == "currency"
        value = estimate.value
        assert value is not None and value.customers == 40 and value.currency == "GBP"
        assert value.organic_orders.point == pytest.approx(p[:, j].sum())
        assert value.with_send_orders.point == pytest.approx(np.minimum(p[:, j] * tool.prior.lift, 1).sum())
        assert value.incremental_revenue.point == pytest.approx(estimate.point * 40)
        assert value.organic_revenue.point == pytest.approx(value.organic_orders.point * line)
        for amount in (value.organic_orders, value.with_send_orders, value.incremental_revenue):
            assert 0 <= amount.low <= amount.point <= amount.high
        assert value.assumption == ASSUMPTION and "Hillstrom" in value.lift_source
    assert "visits, not purchases" in result.model_card["assumption"]


def test_factors_say_who_buys_anyway_what_an_order_is_worth_and_the_borrowed_lift(tool: PurchaseEffect,
                                                                                  retail_shop: Shop) -> None:
    customers = retail_shop.customers["customer_id"].astype(str).tolist()[:25]
    estimate = tool.predict(EffectRequest(customer_ids=customers, product_ids=["85123A"])).estimates[0]
    title = retail_shop.product("85123A").title
    first, line, lift = estimate.factors
    assert "without a message" in first and title in first and "25 customers" in first
    assert "£" in line and " × " in line
    assert "Hillstrom" in lift and "not a measured effect on purchases" in lift


def test_unknown_ids_are_refused(tool: PurchaseEffect, retail_shop: Shop) -> None:
    known = retail_shop.customers["customer_id"].astype(str).iat[0]
    with pytest.raises(ValueError, match="unknown product ids"):
        tool.predict(EffectRequest(customer_ids=[known], product_ids=["NO-SUCH-PRODUCT"]))
    with pytest.raises(ValueError, match="unknown customer ids"):
        tool.predict(EffectRequest(customer_ids=["nobody"], product_ids=["85123A"]))


def test_send_value_scales_to_sends_and_sums_conservatively() -> None:
    one = Amount(point=2.0, low=1.0, high=4.0)
    value = SendValue(customers=100, currency="GBP", line_revenue=10.0, organic_orders=one, with_send_orders=one,
                      incremental_orders=one, organic_revenue=one, with_send_revenue=one, incremental_revenue=one,
                      lift=Amount(point=1.6, low=1.5, high=1.7), lift_source="test")
    half = value.scaled(50)
    assert half.customers == 50 and half.organic_orders == Amount(point=1.0, low=0.5, high=2.0)
    assert half.lift == value.lift and half.line_revenue == 10.0
    assert one + one == Amount(point=4.0, low=2.0, high=8.0)


def test_a_copy_index_scales_what_the_send_adds_not_the_organic_baseline() -> None:
    def amount(x: float) -> Amount:
        return Amount(point=x, low=x / 2, high=x * 2)

    value = SendValue(customers=10, currency="GBP", line_revenue=5.0, organic_orders=amount(4.0),
                      with_send_orders=amount(6.0), incremental_orders=amount(2.0), organic_revenue=amount(20.0),
                      with_send_revenue=amount(30.0), incremental_revenue=amount(10.0),
                      lift=Amount(point=1.5, low=1.4, high=1.6), lift_source="test")
    half = value.with_index(Amount(point=0.5, low=0.25, high=1.0))
    assert half.organic_orders == value.organic_orders and half.organic_revenue == value.organic_revenue
    assert half.incremental_revenue == Amount(point=5.0, low=1.25, high=20.0)
    assert half.with_send_orders.point == 5.0 and half.with_send_revenue.point == 25.0
    assert half.with_send_revenue.low == pytest.approx(15.0 * 25 / 30)


def test_a_lift_the_shop_measured_replaces_the_prior_for_the_product_it_sent(tool: PurchaseEffect, retail_shop: Shop,
                                                                             settings: Settings) -> None:
    import pandas as pd

    from tools.effect.uplift import CampaignOutcomes, hillstrom_heterogeneity, learn_lift, log_lift_prior
    from tools.effect.uplift.model import read_experiment
    from tools.effect.uplift.prior import lift_prior

    customers = retail_shop.customers["customer_id"].astype(str).tolist()[:400]
    # A campaign that sent 85123A to 200 customers (30 bought) and held out 200 (10 bought): a measured lift ~3.
    rows = [{"customer_id": c, "arm": "V1" if i < 200 else "holdout", "segment_id": "S1", "channel": "email",
             "product_id": "85123A" if i < 200 else None, "outcome": int(i % 20 < 3) if i < 200 else int(i % 20 < 1)}
            for i, c in enumerate(customers)]
    campaign = CampaignOutcomes("plan-abc", retail_shop.name, None, "converted", pd.DataFrame(rows))
    data = read_experiment(settings.shared_data_dir / "hillstrom_dev.csv")
    prior = log_lift_prior(lift_prior(data, "any"), hillstrom_heterogeneity(data))
    learned = learn_lift(retail_shop.name, [campaign], prior, prior_baseline=0.05)
    taught = PurchaseEffect(retail_shop, tool.ranker, tool.prior, seed=tool.seed, learned=learned)
    request = EffectRequest(customer_ids=customers[:40], product_ids=["85123A", "22423"])
    before, after = tool.predict(request).estimates, taught.predict(request).estimates
    sent, other = after
    assert sent.value is not None and sent.value.lift.point > tool.prior.lift  # pulled up towards the measured ~3
    assert sent.point > before[0].point and "plan-abc" in sent.value.lift_source
    assert "this shop measured against its holdout" in sent.factors[2] and "plan-abc" in sent.factors[2]
    assert other.point == pytest.approx(before[1].point)  # a product no campaign sent keeps the prior
    card = taught.predict(request).model_card
    assert "plan-abc" in card["assumption"] and card["learned"]["campaigns"][0]["plan_id"] == "plan-abc"

