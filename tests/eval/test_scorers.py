"""Every eval scorer on a real plan (demo shop, scripted copy backend): a passing and a failing example."""

from __future__ import annotations

import json

import pytest

from agent.assemble import build_tools
from agent.brief import parse_brief
from agent.llm import FunctionModel
from agent.loop import Planner, PlannerTools
from agent.plan import CampaignPlan
from eval.backends import build_copy_tool, facts_copy
from eval.checks import score_constraints, score_cost, score_schema
from eval.config import EvalConfig
from eval.groundedness import Catalog, score_grounding
from eval.runner import CachedEmbedder, Harness
from eval.similarity import score_diversity, score_personalisation, segment_text
from eval.suite import CostThreshold, DiversityThreshold, EvalCase, LiftThreshold, ScoreThreshold, Suite
from eval.value import PopularityBaseline, predict_plan_value, score_value
from tests.eval.plan_edits import edited, with_products

DISCLAIMER = "Reply STOP to opt out."
BRIEF = {
    "name": "Comedy night", "goal": "Get comedy fans to watch a film tonight", "audience": "people who love comedies",
    "audience_filter": {"genres": ["Comedy"]}, "channels": ["email", "sms"], "send_budget": 400, "language": "en",
    "max_segments": 2, "variants_per_channel": 2, "max_revisions": 1, "disclaimer": DISCLAIMER,
}
STRICT = ScoreThreshold(min_score=1.0)


@pytest.fixture(scope="module")
def tools(settings, store) -> PlannerTools:
    del store  # built once per session by the fixture; build_tools reuses it
    return build_tools(settings, FunctionModel(facts_copy, name="scripted-facts"), shop="movielens")


@pytest.fixture(scope="module")
def harness(tools, settings) -> Harness:
    return Harness.from_tools(tools, settings)


@pytest.fixture(scope="module")
def plan(tools, settings) -> CampaignPlan:
    copy = build_copy_tool(EvalConfig(name="facts", backend="scripted-facts", retries=0), settings)
    plan = Planner(PlannerTools(**{**tools.__dict__, "copy": copy}), concurrency=2, seed=7).run(parse_brief(BRIEF))
    assert plan.status == "ok" and len(plan.segments) == 2
    return plan


@pytest.fixture(scope="module")
def catalog(shop) -> Catalog:
    return Catalog(shop)


@pytest.fixture(scope="module")
def embed(settings) -> CachedEmbedder:
    return CachedEmbedder(settings)


def test_schema_passes_a_plan_and_fails_broken_ones(plan):
    result, valid = score_schema(plan.model_dump_json())
    assert result.status == "pass" and result.score == 1.0 and valid == plan
    data = json.loads(plan.model_dump_json())
    data["variants"][0]["channel"] = "fax"
    result, valid = score_schema(data)
    assert result.status == "fail" and valid is None and "variants.0.channel" in result.evidence[1]
    data = json.loads(plan.model_dump_json())
    data["variants"][0]["segment_id"] = "S9"
    result, valid = score_schema(data)
    assert result.status == "fail" and valid is not None
    assert any("orphans: ['V1']" in line for line in result.evidence)


def test_constraints_pass_the_plan_as_written(plan):
    result = score_constraints(plan, ["guaranteed"], STRICT)
    assert result.status == "pass" and result.score == 1.0, result.evidence


def test_sms_over_the_length_limit_fails_constraints(plan):
    bad = edited(plan)
    sms = next(v for v in bad.active_variants() if v.channel == "sms")
    sms.body = sms.body + " Tonight only." * 10
    result = score_constraints(bad, [], STRICT)
    assert result.status == "fail" and result.score < 1.0
    assert any(sms.variant_id in line and "sms allows 160" in line for line in result.evidence)


def test_missing_disclaimer_banned_phrase_and_overspent_budget_fail_constraints(plan):
    bad = edited(plan)
    first, second = bad.active_variants()[:2]
    first.disclaimer = None
    second.cta = "Guaranteed fun"
    bad.launch.planned_sends = bad.brief.send_budget + 1
    evidence = " | ".join(score_constraints(bad, ["guaranteed"], STRICT).evidence)
    assert f"{first.variant_id} " in evidence and "carries the required disclaimer" in evidence
    assert "banned phrase 'guaranteed'" in evidence
    assert f"within the send budget {bad.brief.send_budget}" in evidence


def test_grounding_passes_catalog_facts(plan, catalog):
    result = score_grounding(plan, catalog, STRICT)
    assert result.status == "pass" and result.score == 1.0, result.evidence


def test_an_invented_movie_year_fails_grounding(plan, catalog):
    bad = edited(plan)
    variant = bad.active_variants()[0]
    variant.body = f"{variant.body} A 1888 classic."
    result = score_grounding(bad, catalog, STRICT)
    assert result.status == "fail" and result.score < 1.0
    assert any(variant.variant_id in line and "year 1888" in line for line in result.evidence)


@pytest.mark.parametrize(
    ("addition", "problem"),
    [
        (" Oscar-winning fun.", "claims an award"),
        (" Starring a big name.", "claims cast or crew"),
        (" Rated 4.5 stars.", "claims a star rating"),
        (" Top 10 pick.", "states the number(s) 10"),
        (" The latest hit.", "claims newness"),
        (" Only $3.99.", "price or offer"),
    ],
)
def test_claims_the_catalog_cannot_back_fail_grounding(plan, catalog, addition, problem):
    bad = edited(plan)
    bad.active_variants()[0].body += addition
    result = score_grounding(bad, catalog, STRICT)
    assert result.status == "fail" and problem in " ".join(result.evidence)


def test_naming_another_catalog_title_fails_grounding(plan, catalog):
    bad = edited(plan)
    variant = bad.active_variants()[0]
    other = "Toy Story" if "Toy Story" not in variant.product_title else "Star Wars"
    variant.body = f"{variant.body} Loved {other}? You will love this."
    result = score_grounding(bad, catalog, STRICT)
    assert result.status == "fail" and f"names other catalog titles: {other}" in " ".join(result.evidence)


def test_other_titles_ignore_the_own_title_ordinary_words_and_sentence_starts(catalog, shop):
    products = shop.products.set_index("title")
    heat, star_wars = str(products.loc["Heat", "product_id"]), str(products.loc["Star Wars", "product_id"])
    assert catalog.other_titles("Heat is back. See Heat tonight.", heat) == []
    assert catalog.other_titles("Heat: the stakes rise.", star_wars) == []
    assert catalog.other_titles("Tonight, watch Heat with us.", star_wars) == ["Heat"]
    assert catalog.other_titles("Star Wars (1977) for all the fans", star_wars) == []


def test_personalisation_rewards_copy_written_for_its_segment(plan, embed):
    good, swapped = edited(plan), edited(plan)
    texts = {s.segment_id: segment_text(s) for s in plan.segments}
    other = dict(zip(texts, reversed(list(texts.values())), strict=True))
    for v in good.active_variants():
        v.body = texts[v.segment_id]
    for v in swapped.active_variants():
        v.body = other[v.segment_id]
    threshold = LiftThreshold(min_lift=0.0)
    passed = score_personalisation(good, embed, [], threshold)
    failed = score_personalisation(swapped, embed, [], threshold)
    assert passed.status == "pass" and passed.score > 0.05, passed.evidence
    assert failed.status == "fail" and failed.score < 0, failed.evidence
    assert "lift" in failed.evidence[0]


def test_personalisation_needs_another_segment(plan, embed):
    one = edited(plan)
    one.segments = one.segments[:1]
    one.variants = [v for v in one.variants if v.segment_id == one.segments[0].segment_id]
    assert score_personalisation(one, embed, [], LiftThreshold()).status == "n/a"
    assert score_personalisation(one, embed, ["Active Horror fans, 18–24."], LiftThreshold()).status != "n/a"


def test_value_against_the_popularity_baseline(plan, tools, shop):
    baseline = PopularityBaseline(shop.interactions, shop.products)
    threshold = LiftThreshold(min_lift=0.0)
    strong = score_value(with_products(plan, tools.effect, baseline, best=True), tools.effect, baseline, threshold)
    weak = score_value(with_products(plan, tools.effect, baseline, best=False), tools.effect, baseline, threshold)
    assert strong.status == "pass" and strong.score >= 0, strong.evidence
    assert weak.status == "fail" and weak.score < 0, weak.evidence
    assert "popular products, generic copy" in weak.evidence[1]
    assert weak.evidence[2].startswith("rate: expected positive response per send: p_like")
    assert weak.details["effect_tool"].startswith("click_model")


def test_plan_value_is_sends_times_predicted_rate(plan, tools):
    value = predict_plan_value(plan, tools.effect)
    assert value.sends == plan.launch.planned_sends > 0
    assert value.expected_positives == pytest.approx(sum(value.per_variant.values()))
    assert all(0 <= v <= a.sends for a in plan.launch.allocations
               for k, v in value.per_variant.items() if k == a.variant_id)


def test_diversity_passes_distinct_copy_and_fails_clones(plan, embed):
    threshold = DiversityThreshold(min_text_diversity=0.05, min_product_coverage=0.5)
    assert score_diversity(plan, embed, threshold).status == "pass"
    clones = edited(plan)
    first = clones.active_variants()[0]
    for v in clones.active_variants():
        v.product_id, v.headline, v.body, v.cta = first.product_id, first.headline, first.body, first.cta
    result = score_diversity(clones, embed, threshold)
    assert result.status == "fail" and result.score == pytest.approx(0.0, abs=1e-4)
    assert "FAILED: product coverage" in result.evidence[1]


def test_cost_reports_calls_and_fails_above_a_bound(plan):
    calls = plan.totals.llm_calls
    assert calls > 0
    unbounded = score_cost(plan, CostThreshold())
    assert unbounded.status == "pass" and f"{calls} LLM calls" in unbounded.evidence[1]
    assert score_cost(plan, CostThreshold(max_llm_calls=calls)).status == "pass"
    over = score_cost(plan, CostThreshold(max_llm_calls=calls - 1))
    assert over.status == "fail" and over.evidence[0].startswith("FAILED: LLM calls")


def test_runner_scores_a_refusal_and_a_crash_without_stopping(harness, tools):
    suite = Suite(name="t", cases=[
        EvalCase(id="refused", expect="refusal", brief={**BRIEF, "audience_filter": {"age_min": 60, "age_max": 20}}),
        EvalCase(id="crash", expect="plan", brief={**BRIEF, "channels": ["push"], "max_segments": 1,
                                                    "variants_per_channel": 1})])
    config = EvalConfig(name="t", backend="scripted-template", retries=0)

    def explode(request):
        raise RuntimeError("backend exploded")

    crashing = PlannerTools(**{**tools.__dict__, "copy": build_copy_tool(config, harness.settings)})
    crashing.copy.model = FunctionModel(explode)
    planner = Planner(crashing, concurrency=1)
    refused, crashed = (harness.plan_case(case, planner, config) for case in suite.cases)
    assert refused.outcome == "refused" and "age_min 60 is above age_max 20" in refused.message
    assert crashed.outcome == "crashed" and crashed.message.startswith("RuntimeError: backend exploded (at ")
    results = [harness.score_case(run, suite, []) for run in (refused, crashed)]
    assert results[0].score("outcome").status == "pass" and results[0].passed
    assert results[1].score("outcome").status == "fail" and not results[1].passed
    assert {s.status for s in results[1].scores if s.scorer != "outcome"} == {"n/a"}
