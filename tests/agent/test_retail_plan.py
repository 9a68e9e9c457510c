"""Plans on shops with prices: the retail demo shop (UCI Online Retail) and a shop imported from its files.

The copy model is the API tests' scripted copywriter, which writes what the prompt's facts say (name, price,
the first offer's code and price after it), so these tests check what the loop gives the copywriter and records.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import pandas as pd
import pytest

from agent.assemble import effect_tool
from agent.brief import check_against_shop, load_brief
from agent.llm import FunctionModel
from agent.loop import Planner, PlannerTools
from agent.report import render_markdown
from tests.serve.api_harness import copywriter
from tests.tools.shop.test_shop_orders import RAW, write_files
from tools.audience import AudienceFilter, ProfilesTool
from tools.copywriting import CopyTool, format_price, grounding_problems
from tools.effect import CategoryPurchaseRate, predict_effect
from tools.portraits import open_portrait_store
from tools.recommend import RecommendTool
from tools.shop import ingest_shop_files, load_shop

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "briefs"


def _catalog_price(tools: PlannerTools, product_id: str) -> float:
    return float(tools.shop.products.set_index("product_id").at[product_id, "price"])


def test_retail_plan_states_real_prices_and_the_briefs_offer(retail_tools: PlannerTools):
    tools = dataclasses.replace(retail_tools, copy=CopyTool(FunctionModel(copywriter), retries=0))
    brief = load_brief(EXAMPLES / "christmas_gifts.yaml").model_copy(
        update={"send_budget": 3000, "variants_per_channel": 1, "max_revisions": 1})
    brief = check_against_shop(brief, tools.profiles.store.vocabulary())
    plan = Planner(tools).run(brief)
    assert plan.shop == "retail" and plan.currency == "GBP" and plan.status == "ok"
    names = [s.name for s in plan.segments]
    assert len(plan.segments) >= 2 and len(set(names)) == len(names)
    assert not any(name.endswith(")") for name in names), names  # told apart by what differs, not by a number
    active = plan.active_variants()
    assert active
    for v in active:
        price = _catalog_price(tools, v.product_id)
        assert v.product_price == price and v.offer_code == "XMAS10"
        assert v.price_after_offer == round(price * 0.9, 2)
        text = f"{v.headline}\n{v.body}\n{v.cta}"
        assert format_price(price, "GBP") in text and format_price(v.price_after_offer, "GBP") in text
    # Products chosen by expected incremental revenue; each variant shows orders and revenue beside the baseline.
    assert "expected incremental revenue per send" in active[0].effect.metric
    for v in active:
        value = v.effect.value
        assert v.effect.unit == "currency" and value is not None and value.currency == "GBP"
        assert value.organic_orders.point < value.with_send_orders.point
        assert value.incremental_revenue.low <= value.incremental_revenue.point <= value.incremental_revenue.high
        assert any("Hillstrom" in f for f in v.effect.factors)
    assert plan.launch is not None and plan.launch.value is not None
    assert plan.launch.value.sends == plan.launch.planned_sends
    assert any("visits, not purchases" in a for a in plan.assumptions)  # stated in every plan of a shop of orders
    report = render_markdown(plan)
    assert "## Assumptions" in report and "organic baseline (no send)" in report


def test_a_plan_runs_on_an_imported_shop(settings, small_headline_model, tmp_path):
    raw = pd.read_parquet(RAW)
    raw = raw[raw["CustomerID"].notna() & raw["StockCode"].str.contains(r"\d") & (raw["UnitPrice"] > 0)]
    first = raw[raw["InvoiceDate"] < "2010-12-15"]
    lines = first[first["CustomerID"].isin(first["CustomerID"].drop_duplicates().head(60))].reset_index(drop=True)
    files = write_files(lines, tmp_path)
    ingest_shop_files(settings, "imported-gifts", files["customers"], files["products"], None,
                      orders=files["orders"], offers=files["offers"])
    shop = load_shop(settings, "imported-gifts")
    model, local = small_headline_model
    tools = PlannerTools(
        shop=shop, profiles=ProfilesTool(open_portrait_store(settings, shop)),
        recommend=RecommendTool.fit(shop, settings), effect=effect_tool(shop, settings),
        copy=CopyTool(FunctionModel(copywriter), retries=0),
        predict_effect=functools.partial(predict_effect, headlines=model, settings=local),
    )
    brief = load_brief(EXAMPLES / "christmas_gifts.yaml").model_copy(update={
        "shop": "imported-gifts", "offer": None, "audience_filter": AudienceFilter(),
        "audience": "customers who buy gifts", "send_budget": 200, "max_segments": 2, "variants_per_channel": 1,
        "max_revisions": 1})
    # Two weeks of orders are too few for a purchase model: the observed category rate, saying why.
    assert isinstance(tools.effect, CategoryPurchaseRate)
    assert "needs at least 120" in tools.effect.model_card["why_not_a_purchase_model"]
    plan = Planner(tools).run(brief)
    assert plan.shop == "imported-gifts" and plan.currency == "GBP" and plan.audience.size > 0
    assert plan.active_variants()
    for v in plan.active_variants():
        assert v.product_price == _catalog_price(tools, v.product_id)
        assert v.offer_code in ("XMAS10", "FIVEOFF")  # the shop's own offers file (valid in December 2010)
        facts = next(s for s in plan.segments if s.segment_id == v.segment_id)
        assert facts.size > 0
        assert not grounding_problems(f"{v.headline}\n{v.body}\n{v.cta}", _facts(tools, v.product_id), "en")


def _facts(tools: PlannerTools, product_id: str):
    from agent.offers import product_facts
    from tools.recommend import ScoredProduct

    row = tools.shop.products.set_index("product_id").loc[product_id]
    product = ScoredProduct(product_id=product_id, title=str(row["title"]), year=None, genres=list(row["genres"]),
                            score=0.0, reason="")
    return product_facts(tools.shop, product, list(tools.shop.offers))


@pytest.fixture(autouse=True)
def _clean_imported(settings):
    yield
    folder = settings.home / "shops" / "imported-gifts"
    if folder.is_dir():
        import shutil

        shutil.rmtree(folder)
