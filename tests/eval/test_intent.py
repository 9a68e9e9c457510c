"""The intent-match scorer and the strategy counts, on a real plan of the comedy brief (scripted-facts backend)."""

from __future__ import annotations

import pytest

from agent.assemble import build_tools
from agent.brief import parse_brief
from agent.llm import FunctionModel
from agent.loop import Planner, PlannerTools
from agent.plan import CampaignPlan
from eval.backends import build_copy_tool, facts_copy
from eval.config import EvalConfig
from eval.groundedness import Catalog
from eval.intent import score_intent, strategy_counts
from eval.suite import ScoreThreshold
from tests.eval.plan_edits import edited

COMEDY = {
    "name": "Comedy welcome", "shop": "movielens", "goal": "Welcome new customers with a comedy they will enjoy",
    "audience": "new customers who like comedy", "channels": ["email"], "send_budget": 500, "max_segments": 2,
    "variants_per_channel": 2, "max_revisions": 1,
}
STRICT = ScoreThreshold(min_score=1.0)


@pytest.fixture(scope="module")
def plan(settings, store) -> CampaignPlan:
    del store  # built once per session by the fixture; build_tools reuses it
    tools = build_tools(settings, FunctionModel(facts_copy, name="scripted-facts"), shop="movielens")
    copy = build_copy_tool(EvalConfig(name="facts", backend="scripted-facts", retries=0), settings)
    return Planner(PlannerTools(**{**tools.__dict__, "copy": copy}), concurrency=2, seed=7).run(parse_brief(COMEDY))


@pytest.fixture(scope="module")
def catalog(shop) -> Catalog:
    return Catalog(shop)


def test_the_comedy_plan_features_comedies(plan, catalog):
    result = score_intent(plan, catalog, STRICT)
    assert result.status == "pass" and result.score == 1.0
    assert result.details["intent"] == ["Comedy"] and result.details["intent_share"] == 1.0
    assert "comedy (goal)" in result.details["named_by"]["Comedy"]


def test_a_film_outside_the_intent_fails_unless_the_plan_says_why(plan, catalog, shop):
    out = edited(plan)
    kane = shop.products.set_index("title").loc["Citizen Kane", "product_id"]
    variant = out.active_variants()[0]
    variant.product_id, variant.product_title = str(kane), "Citizen Kane"
    failed = score_intent(out, catalog, STRICT)
    assert failed.status == "fail" and failed.details["intent_share"] < 1.0
    assert any("Citizen Kane is outside, unexplained" in e for e in failed.evidence)
    segment = next(s for s in out.segments if s.segment_id == variant.segment_id)
    assert segment.strategy is not None
    segment.strategy.intent_note = "no comedy left that the segment has not seen"
    explained = score_intent(out, catalog, STRICT)
    assert explained.status == "pass" and explained.details["intent_share"] == failed.details["intent_share"]


def test_a_brief_naming_no_genre_is_not_scored(plan, catalog):
    out = edited(plan)
    out.brief = out.brief.model_copy(update={"goal": "Welcome new customers", "audience": "new customers"})
    assert score_intent(out, catalog, STRICT).status == "n/a"


def test_strategy_counts_follow_the_plan(plan):
    counts = strategy_counts(plan)
    records = [s.strategy for s in plan.segments if s.strategy]
    assert counts.segments == len(plan.segments) == len(records)
    assert 1 <= counts.rounds <= plan.brief.strategy_rounds
    assert counts.proposals == sum(p.source == "llm" for r in records for p in r.proposals) >= 1
    assert counts.llm_wins == sum(r.winner != "R" for r in records)
    # the winner is the best predicted proposal of the intent, so never predicted below the rules' baseline here
    assert counts.winner_vs_rules is not None and counts.winner_vs_rules >= 1.0
