"""End to end: `campaign plan` against the real embedded vLLM server."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from agent.cli import EXAMPLE_BRIEF, app
from agent.offers import campaign_offers, product_facts
from agent.plan import CampaignPlan
from tools.copywriting import ProductFacts, grounding_problems
from tools.recommend import ScoredProduct

pytestmark = pytest.mark.e2e


def test_campaign_plan_on_the_embedded_server(llm_url, shop, tmp_path):
    brief = {
        "name": "Documentary push", "shop": "movielens",
        "goal": "Get documentary lovers to watch a well-liked documentary",
        "audience": "people who love documentaries", "audience_filter": {"genres": ["Documentary"]},
        "channels": ["push"], "send_budget": 200, "language": "en", "max_segments": 1,
        "variants_per_channel": 2, "max_revisions": 1,
    }
    path = tmp_path / "brief.yaml"
    path.write_text(yaml.safe_dump(brief))
    result = CliRunner().invoke(app, ["plan", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    plan = CampaignPlan.model_validate(json.loads((tmp_path / "out" / "plan.json").read_text()))
    assert plan.status == "ok" and plan.llm_model == "smollm2-135m-instruct"
    assert plan.totals.llm_calls >= 2 and plan.totals.completion_tokens > 0
    products = shop.products.set_index("product_id")
    for variant in plan.active_variants():
        row = products.loc[variant.product_id]
        facts = ProductFacts(product_id=variant.product_id, title=row["title"],
                             year=None if pd.isna(row["year"]) else int(row["year"]), genres=list(row["genres"]))
        assert grounding_problems(f"{variant.headline}\n{variant.body}\n{variant.cta}", facts, "en") == []
        assert variant.llm_attempts >= 1
    assert (tmp_path / "out" / "plan.md").read_text().startswith("# Campaign plan: Documentary push")
    assert plan.launch is not None and plan.launch.planned_sends <= 200


def test_christmas_brief_on_the_retail_shop_states_real_prices_and_the_offer(llm_url, retail_shop, tmp_path):
    brief = yaml.safe_load(EXAMPLE_BRIEF.read_text())
    brief.update(send_budget=1000, max_segments=2, variants_per_channel=1, max_revisions=1)
    path = tmp_path / "brief.yaml"
    path.write_text(yaml.safe_dump(brief))
    result = CliRunner().invoke(app, ["plan", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    plan = CampaignPlan.model_validate(json.loads((tmp_path / "out" / "plan.json").read_text()))
    assert plan.status == "ok" and plan.shop == "retail" and plan.currency == "GBP"
    assert len({s.name for s in plan.segments}) == len(plan.segments)
    offers = campaign_offers(retail_shop, plan.brief)
    catalog = retail_shop.products.set_index("product_id")
    for variant in plan.active_variants():
        assert variant.product_price == catalog.at[variant.product_id, "price"]
        product = ScoredProduct(product_id=variant.product_id, title=variant.product_title, year=None,
                                genres=list(catalog.at[variant.product_id, "genres"]), score=0.0, reason="")
        facts = product_facts(retail_shop, product, offers)
        assert grounding_problems(f"{variant.headline}\n{variant.body}\n{variant.cta}", facts, "en") == []
    markdown = (tmp_path / "out" / "plan.md").read_text()
    assert "XMAS10" in markdown and "£" in markdown
