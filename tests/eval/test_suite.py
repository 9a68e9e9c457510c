"""Eval suites, configurations, bootstrap statistics and gates (no shop needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agent.brief import BriefError, parse_brief
from agent.llm import ChatRequest, Message
from eval.backends import facts_copy
from eval.checks import score_outcome
from eval.config import EvalConfig, load_config
from eval.results import RunSummary, ScorerSummary, check_gates
from eval.stats import bootstrap_mean, paired_difference
from eval.suite import SCORERS, SuiteError, load_suite

EVAL = Path(__file__).resolve().parents[2] / "eval"
BRIEF = {"name": "x", "goal": "sell films", "audience": "fans", "channels": ["email"], "send_budget": 10}
REFUSED_BY_THE_SHOP = {"edge-unknown-genre", "retail-edge-offer-unknown-product",
                       "retail-edge-offer-unknown-category-zh", "retail-edge-film-genre-on-retail"}


def _write(tmp_path: Path, data: object, name: str = "suite.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def test_full_suite_covers_languages_channels_budgets_and_edge_cases():
    suite = load_suite(EVAL / "suites" / "full.yaml")
    assert len(suite.cases) >= 20
    briefs = [c.brief for c in suite.cases]
    assert {b.get("language", "en") for b in briefs} >= {"en", "zh"}
    assert {ch for b in briefs for ch in b.get("channels", [])} == {"email", "push", "sms"}
    budgets = [b["send_budget"] for b in briefs]
    assert min(budgets) <= 1 and max(budgets) >= 10_000
    assert {c.expect for c in suite.cases} == {"plan", "empty", "refusal", "refusal_or_warning"}
    planned = [c for c in suite.cases if c.expect == "plan"]
    for case in planned:  # every regular brief is valid as written
        parse_brief(case.brief, source=case.id)
    refused = [c for c in suite.cases if c.expect == "refusal"]
    for case in refused:  # valid as written but not for its shop (genre, offer), or invalid as written
        if case.id in REFUSED_BY_THE_SHOP:
            parse_brief(case.brief, source=case.id)
        else:
            with pytest.raises(BriefError):
                parse_brief(case.brief, source=case.id)
    assert {c.id for c in refused} >= REFUSED_BY_THE_SHOP
    assert suite.config is not None and load_config(suite.config).backend == "embedded"


def test_full_suite_plans_on_both_shops_with_retail_seasons_offers_and_categories():
    suite = load_suite(EVAL / "suites" / "full.yaml")
    assert {c.brief.get("shop") for c in suite.cases} == {"movielens", "retail"}  # every brief names its shop
    retail = [parse_brief(c.brief, source=c.id) for c in suite.cases if c.brief["shop"] == "retail"]
    assert {b.language for b in retail} == {"en", "zh"}
    assert {"Christmas", "Candles", "Mugs"} <= {g for b in retail for g in b.audience_filter.genres}
    assert any("lapsed" in b.audience_filter.lifecycle for b in retail)
    offers = [b.offer for b in retail if b.offer is not None]
    assert any(o.percent_off for o in offers) and any(o.amount_off for o in offers)
    assert any(o.product_ids for o in offers) and any(o.categories for o in offers)


def test_smoke_suite_defaults_to_the_scripted_stand_in():
    suite = load_suite(EVAL / "suites" / "smoke.yaml")
    assert 4 <= len(suite.cases) <= 8
    retail = [parse_brief(c.brief, source=c.id) for c in suite.cases if c.brief.get("shop") == "retail"]
    assert {c.brief.get("shop") for c in suite.cases} == {"movielens", "retail"}
    assert {b.language for b in retail} == {"en", "zh"} and any(b.offer for b in retail if b.language == "en")
    assert all(b.max_segments <= 2 and b.variants_per_channel == 1 and b.max_revisions == 1 for b in retail)
    config = load_config(suite.config)
    assert config.backend == "scripted-template" and not config.is_model
    assert "SCRIPTED STAND-IN" in config.label


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"cases": []}, "field 'cases'"),
        ({"gates": {"speed": 0.5}}, "unknown gate 'speed'"),
        ({"gates": {"all": 1.5}}, "between 0 and 1"),
        ({"cases": [{"id": "a", "brief": BRIEF}, {"id": "a", "brief": BRIEF}]}, "appears twice"),
        ({"cases": [{"id": "a", "brief": BRIEF, "expect": "maybe"}]}, "field 'cases.0.expect'"),
        ({"cases": [{"id": "a", "brief": BRIEF, "thresholds": {"speed": {}}}]}, "no thresholds for"),
        ({"thresholds": {"grounding": {"min_score": 2}}}, "field 'thresholds.grounding.min_score'"),
    ],
)
def test_invalid_suites_name_the_field(tmp_path, change, message):
    data = {"name": "s", "cases": [{"id": "a", "brief": BRIEF}], **change}
    with pytest.raises(SuiteError, match=message):
        load_suite(_write(tmp_path, data))


def test_unreadable_suite_and_case_selection(tmp_path):
    with pytest.raises(SuiteError, match="cannot read"):
        load_suite(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("name: [unclosed")
    with pytest.raises(SuiteError, match="not valid YAML at line"):
        load_suite(tmp_path / "bad.yaml")
    suite = load_suite(_write(tmp_path, {"name": "s", "cases": [{"id": "a", "brief": BRIEF},
                                                                {"id": "b", "brief": BRIEF}]}))
    assert [c.id for c in suite.select(["b"]).cases] == ["b"]
    with pytest.raises(SuiteError, match="no case zz"):
        suite.select(["zz"])


def test_case_thresholds_override_the_suite_scorer_by_scorer(tmp_path):
    suite = load_suite(_write(tmp_path, {
        "name": "s", "banned_phrases": ["free"], "thresholds": {"cost": {"max_llm_calls": 10}},
        "cases": [{"id": "a", "brief": BRIEF, "banned_phrases": ["cheap"],
                   "thresholds": {"cost": {"max_tokens": 5}}}]}))
    merged = suite.thresholds_for(suite.cases[0])
    assert merged.cost.max_llm_calls == 10 and merged.cost.max_tokens == 5
    assert merged.grounding.min_score == 1.0
    assert suite.banned_for(suite.cases[0]) == ["free", "cheap"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "c", "backend": "openai"}, "needs base_url and model"),
        ({"name": "c", "backend": "embedded", "base_url": "http://x/v1"}, "only used by backend openai"),
        ({"name": "c", "backend": "scripted-facts", "model": "m"}, "runs no model"),
        ({"name": "c", "backend": "gpt"}, "field 'backend'"),
        ({"name": "c", "backend": "embedded", "retries": 9}, "field 'retries'"),
        ({"name": "c", "backend": "embedded", "prompts_dir": "nowhere"}, "is not a folder"),
    ],
)
def test_invalid_configs_name_the_field(tmp_path, data, message):
    with pytest.raises(SuiteError, match=message):
        load_config(_write(tmp_path, data, "config.yaml"))


def test_brief_overrides_apply_to_mappings_only():
    config = EvalConfig(name="c", backend="scripted-template", brief_overrides={"variants_per_channel": 1})
    assert config.brief_overrides.apply(BRIEF)["variants_per_channel"] == 1
    assert config.brief_overrides.apply(["not", "a", "brief"]) == ["not", "a", "brief"]


def test_scripted_facts_backend_writes_within_the_schema_limits():
    schema = {"properties": {"headline": {"maxLength": 30}, "body": {"maxLength": 60}, "cta": {"maxLength": 12}}}
    prompt = "Title: The Usual Suspects\n- Year: 1995\n- Genres: Crime, Thriller\nWrite one sms message."
    reply = facts_copy(ChatRequest(messages=[Message(role="user", content=prompt)], response_schema=schema))
    draft = yaml.safe_load(reply.content)
    assert "The Usual Suspects" in draft["headline"] + draft["body"]
    assert len(draft["headline"]) <= 30 and len(draft["body"]) <= 60 and len(draft["cta"]) <= 12
    assert reply.usage.total_tokens == 0


def test_bootstrap_interval_brackets_the_mean_and_is_repeatable():
    values = [0.0, 1.0] * 50
    interval = bootstrap_mean(values, seed=3)
    assert interval.mean == 0.5 and interval.low < 0.5 < interval.high and interval.n == 100
    assert bootstrap_mean(values, seed=3) == interval
    assert bootstrap_mean([], seed=3) is None


def test_paired_difference_detects_a_shift_and_not_noise():
    a = [0.1, 0.4, 0.3, 0.8, 0.5, 0.2, 0.6, 0.7]
    shifted = paired_difference(a, [x + 0.2 for x in a])
    assert shifted.mean == pytest.approx(0.2) and shifted.excludes_zero()
    same = paired_difference(a, list(a))
    assert same.mean == 0.0 and not same.excludes_zero()
    with pytest.raises(ValueError, match="differ in length"):
        paired_difference(a, a[:3])


def _summary(pass_rates: dict[str, float | None], pass_all: float) -> RunSummary:
    scorers = [ScorerSummary(scorer=s, unit="", applicable=0 if pass_rates.get(s) is None else 4, passed=0,
                             pass_rate=pass_rates.get(s), mean=None, median=None) for s in SCORERS]
    return RunSummary(cases=4, passed_all=0, pass_all_rate=pass_all, outcomes={}, plans=4, median_plan_time_s=1.0,
                      total_plan_time_s=4.0, llm_calls=0, tokens=0, copy_from_llm=0, copy_from_template=0,
                      scorers=scorers)


def test_gates_fail_below_the_required_share():
    gates = check_gates({"all": 0.5, "grounding": 1.0, "value": 0.5},
                        _summary({"grounding": 0.75, "value": None}, pass_all=0.5))
    by_name = {g.name: g for g in gates}
    assert by_name["all"].passed and not by_name["grounding"].passed
    assert by_name["value"].passed and "no case" in by_name["value"].note


@pytest.mark.parametrize(
    ("expect", "outcome", "message", "warnings", "status"),
    [
        ("plan", "plan", "", [], "pass"),
        ("plan", "refused", "field 'x'", [], "fail"),
        ("empty", "empty", "", ["No customer matches"], "pass"),
        ("empty", "plan", "", [], "fail"),
        ("refusal", "refused", "field 'audience_filter': age_min 60 is above age_max 20", [], "pass"),
        ("refusal", "plan", "", [], "fail"),
        ("refusal_or_warning", "plan", "", ["over the sms limit"], "pass"),
        ("refusal_or_warning", "plan", "", [], "fail"),
        ("refusal_or_warning", "crashed", "ValidationError: body too short", [], "fail"),
    ],
)
def test_outcome_scorer(expect, outcome, message, warnings, status):
    result = score_outcome(expect, outcome, message, warnings)
    assert result.status == status and result.evidence
    if outcome == "crashed":
        assert "crashed" in result.evidence[0] and "ValidationError" in result.evidence[0]
