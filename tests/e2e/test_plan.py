"""End to end: `campaign plan` against the real embedded vLLM server."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from agent.cli import app
from agent.plan import CampaignPlan
from tools.copywriting import ProductFacts, grounding_problems

pytestmark = pytest.mark.e2e


def test_campaign_plan_on_the_embedded_server(llm_url, shop, tmp_path):
    brief = {
        "name": "Documentary push", "goal": "Get documentary lovers to watch a well-liked documentary",
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
