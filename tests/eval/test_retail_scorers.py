"""Grounding and value scorers on a real retail plan (UCI Online Retail, GBP, the brief's offer XMAS10).

The plan's copy is the copy tool's fact template (scripted-template stand-in), which states each product's
price and the price after XMAS10. Prices in the checks are read from the shop's products table, not the plan.
"""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from agent.brief import parse_brief
from agent.loop import Planner, PlannerTools
from agent.plan import CampaignPlan
from eval.backends import build_copy_tool
from eval.config import EvalConfig
from eval.groundedness import Catalog, score_grounding, variant_problems
from eval.scoring import message_text
from eval.suite import LiftThreshold, ScoreThreshold
from eval.value import PopularityBaseline, predict_plan_value, score_value
from tests.eval.plan_edits import edited, with_products
from tools.copywriting import format_price
from tools.effect import PurchaseEffect
from tools.effect.purchases.plan_effect import CAVEAT, METRIC
from tools.shop import Offer

XMAS10 = {"code": "XMAS10", "percent_off": 10, "valid_from": "2011-11-09", "valid_to": "2011-12-09"}
BRIEF = {
    "name": "Christmas with XMAS10", "shop": "retail", "offer": XMAS10,
    "goal": "Get Christmas orders in early, 10% off with XMAS10", "audience": "customers who buy Christmas decorations",
    "audience_filter": {"genres": ["Christmas"]}, "channels": ["email", "push"], "send_budget": 600,
    "language": "en", "max_segments": 2, "variants_per_channel": 1, "max_revisions": 1,
}
STRICT = ScoreThreshold(min_score=1.0)


@pytest.fixture(scope="module")
def plan(retail_eval_tools: PlannerTools, settings) -> CampaignPlan:
    copy = build_copy_tool(EvalConfig(name="template", backend="scripted-template", retries=0), settings)
    plan = Planner(dataclasses.replace(retail_eval_tools, copy=copy), concurrency=2, seed=7).run(parse_brief(BRIEF))
    assert plan.status == "ok" and plan.shop == "retail" and plan.currency == "GBP"
    return plan


@pytest.fixture(scope="module")
def catalog(retail_eval_tools: PlannerTools) -> Catalog:
    return Catalog(retail_eval_tools.shop)


@pytest.fixture(scope="module")
def prices(retail_eval_tools: PlannerTools) -> dict[str, float]:
    """Each product's price as the shop's products table gives it."""
    products = retail_eval_tools.shop.products
    return dict(zip(products["product_id"], products["price"].astype(float), strict=True))


def _gbp(amount: float) -> str:
    return format_price(amount, "GBP")


def _after(price: float) -> float:
    return round(price * 0.9, 2)


def test_copy_stating_the_real_price_and_the_briefs_offer_is_grounded(plan, catalog, prices):
    active = plan.active_variants()
    assert active
    for v in active:
        text = message_text(v)
        assert _gbp(prices[v.product_id]) in text and f"{_gbp(_after(prices[v.product_id]))} with" in text, text
        assert v.offer_code == "XMAS10" and v.product_price == prices[v.product_id]
    result = score_grounding(plan, catalog, STRICT)
    assert result.status == "pass" and result.score == 1.0, result.evidence
    assert "offers the copy may state: XMAS10 (10% off)" in result.evidence
    assert result.details["stating_an_offer"] == len(active) and result.details["shop"] == "retail"


def test_a_wrong_price_fails_grounding(plan, catalog, prices):
    bad = edited(plan)
    v = bad.active_variants()[0]
    real, wrong = _gbp(prices[v.product_id]), _gbp(prices[v.product_id] + 1.0)
    v.headline, v.body = v.headline.replace(real, wrong), v.body.replace(real, wrong)
    assert wrong in message_text(v)
    result = score_grounding(bad, catalog, STRICT)
    assert result.status == "fail"
    assert any(v.variant_id in line and f"states the price '{wrong}'" in line for line in result.evidence)


@pytest.mark.parametrize(
    ("addition", "problem"),
    [
        (" Extra 25% off today.", "states a discount ('25%', 25% off) that no offer gives; the offers are XMAS10"),
        (" Or use code BONUS5.", "states the code 'BONUS5', but the only codes are XMAS10"),
        (" Now £5.00 off.", "states a discount of '£5.00' that no offer gives"),
        (" Free delivery on every order.", "claims"),
    ],
)
def test_an_invented_discount_code_or_claim_fails_grounding(plan, catalog, addition, problem):
    bad = edited(plan)
    bad.active_variants()[0].body += addition
    result = score_grounding(bad, catalog, STRICT)
    assert result.status == "fail" and problem in " ".join(result.evidence), result.evidence


def test_the_offer_comes_from_the_brief(plan, catalog):
    """The same copy without the brief's offer states a code and a discount that do not exist."""
    bad = edited(plan)
    bad.brief.offer = None
    result = score_grounding(bad, catalog, STRICT)
    assert result.status == "fail" and result.score == 0.0
    evidence = " ".join(result.evidence)
    assert "states the code 'XMAS10', but no offer exists for this product" in evidence
    assert "plan records the offer 'XMAS10', which does not exist for this product" in evidence


def test_an_offer_on_another_category_does_not_cover_the_plans_products(plan, catalog, retail_eval_tools):
    products = retail_eval_tools.shop.products.set_index("product_id")
    used = {products.at[v.product_id, "category"] for v in plan.active_variants()}
    other = next(c for c in sorted(products["category"].dropna().unique()) if c not in used)
    bad = edited(plan)
    bad.brief.offer = Offer(code="XMAS10", percent_off=10, valid_to=date(2011, 12, 9), categories=[other])
    result = score_grounding(bad, catalog, STRICT)
    assert result.status == "fail" and "no offer exists for this product" in " ".join(result.evidence)


def test_a_recorded_price_the_catalog_does_not_give_fails(plan, catalog):
    bad = edited(plan)
    v = bad.active_variants()[0]
    v.product_price = (v.product_price or 0.0) + 1.0
    result = score_grounding(bad, catalog, STRICT)
    assert result.status == "fail" and f"plan records the price {v.product_price}" in " ".join(result.evidence)


def _in_chinese(plan: CampaignPlan, prices: dict[str, float], discount: str = "9折", price_shift: float = 0.0
                ) -> CampaignPlan:
    """Rewrite every message in Chinese from the catalog price and XMAS10 (the first with ``discount``/shift)."""
    out = edited(plan)
    out.brief.language = "zh"
    for i, v in enumerate(out.active_variants()):
        price = prices[v.product_id]
        stated, off = (price + price_shift, discount) if i == 0 else (price, "9折")
        v.headline, v.cta = v.product_title, "立即选购"
        v.body = f"{v.product_title}：售价{_gbp(stated)}，使用优惠码XMAS10享{off}，折后{_gbp(_after(price))}。"
    return out


def test_chinese_copy_with_the_real_price_and_offer_is_grounded(plan, catalog, prices):
    result = score_grounding(_in_chinese(plan, prices), catalog, STRICT)
    assert result.status == "pass" and result.score == 1.0, result.evidence


@pytest.mark.parametrize(
    ("discount", "shift", "problem"),
    [("8折", 0.0, "states a discount ('8折', 20% off) that no offer gives"), ("9折", 0.5, "states the price '£")],
)
def test_chinese_copy_with_a_wrong_discount_or_price_fails(plan, catalog, prices, discount, shift, problem):
    bad = _in_chinese(plan, prices, discount, shift)
    result = score_grounding(bad, catalog, STRICT)
    assert result.status == "fail" and result.details["ungrounded"] == 1
    assert problem in " ".join(result.evidence), result.evidence


def test_catalog_facts_carry_price_category_attributes_and_the_offers_that_apply(catalog, plan):
    offers = catalog.offers(plan.brief)
    assert [o.code for o in offers] == ["XMAS10"]
    facts = catalog.facts("85123A", offers)
    assert facts is not None
    assert (facts.title, facts.price, facts.currency, facts.category) == (
        "White hanging heart T-light holder", 2.95, "GBP", "Holders")
    assert "colour:white" in facts.attributes and [o.code for o in facts.offers] == ["XMAS10"]
    text = "White hanging heart T-light holder: £2.95, or £2.66 with code XMAS10 (10% off)."
    assert variant_problems(text, facts, "en", catalog) == []
    mugs_only = Offer(code="MUGS1", amount_off=1.0, categories=["Mugs"])
    not_a_mug = catalog.facts("85123A", [mugs_only])
    assert not_a_mug is not None and not_a_mug.offers == []
    assert catalog.facts("NOSUCH-1", offers) is None


def test_value_on_retail_uses_expected_incremental_revenue(plan, retail_eval_tools):
    effect, shop = retail_eval_tools.effect, retail_eval_tools.shop
    assert isinstance(effect, PurchaseEffect)
    baseline = PopularityBaseline(shop.interactions, shop.products)
    threshold = LiftThreshold(min_lift=0.0)
    strong = score_value(with_products(plan, effect, baseline, best=True), effect, baseline, threshold)
    weak = score_value(with_products(plan, effect, baseline, best=False), effect, baseline, threshold)
    assert strong.status == "pass" and strong.score is not None and strong.score >= 0, strong.evidence
    assert weak.status == "fail" and weak.score is not None and weak.score < 0, weak.evidence
    assert weak.evidence[2] == f"rate: {METRIC}"
    assert f"caveat of PurchaseEffect: {CAVEAT}" in weak.evidence
    assert weak.details["effect_tool"] == "PurchaseEffect"
    value = predict_plan_value(plan, effect)
    assert plan.launch is not None and value.metric == METRIC and value.sends == plan.launch.planned_sends > 0
