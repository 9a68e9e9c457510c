"""The runner plans each case on its brief's shop and scores it against that shop's catalog, baseline and effect."""

from __future__ import annotations

import json

import pytest

from agent.brief import check_against_shop, parse_brief
from agent.loop import Planner, PlannerTools
from eval.config import EvalConfig
from eval.runner import Harness
from eval.suite import EvalCase, Suite
from tools.shop import ShopDataError

TEMPLATE = EvalConfig(name="template", backend="scripted-template", retries=0)
SMALL = {"max_segments": 1, "variants_per_channel": 1, "max_revisions": 1}
FILMS = {"name": "Comedy tonight", "shop": "movielens", "goal": "Get comedy fans to watch a film tonight",
         "audience": "people who love comedies", "audience_filter": {"genres": ["Comedy"]}, "channels": ["push"],
         "send_budget": 200, **SMALL}
GIFTS = {"name": "Christmas with XMAS10", "goal": "Christmas orders, 10% off with XMAS10",
         "offer": {"code": "XMAS10", "percent_off": 10, "valid_to": "2011-12-09"},
         "audience": "customers who buy Christmas decorations", "audience_filter": {"genres": ["Christmas"]},
         "channels": ["email"], "send_budget": 200, **SMALL}
CANDLES_ZH = {"name": "蜡烛", "shop": "retail", "goal": "向喜欢蜡烛的客户推荐蜡烛",
              "audience": "customers who buy candles", "audience_filter": {"genres": ["Candles"]},
              "channels": ["sms"], "send_budget": 200, "language": "zh", "disclaimer": "回复TD退订", **SMALL}


class Shops:
    """A tool source over already built tools, by shop name; a brief naming no shop gets ``default``."""

    def __init__(self, *tools: PlannerTools, default: str) -> None:
        self.tools, self.default = {t.shop.name: t for t in tools}, default

    def for_shop(self, name: str | None) -> PlannerTools:
        key = name or self.default
        if key not in self.tools:
            raise ShopDataError(f"unknown shop {key!r}; the shops are {', '.join(self.tools)}")
        return self.tools[key]

    def ready(self, name: str) -> bool:
        return name in self.tools


@pytest.fixture(scope="module")
def harness(movielens_eval_tools, retail_eval_tools, settings) -> Harness:
    return Harness.from_tools(Shops(movielens_eval_tools, retail_eval_tools, default="retail"), settings)


def test_each_case_is_planned_and_scored_on_its_own_shop(harness, tmp_path):
    suite = Suite(name="shops", cases=[EvalCase(id="films", brief=FILMS), EvalCase(id="gifts-default", brief=GIFTS),
                                       EvalCase(id="candles-zh", brief=CANDLES_ZH)])
    run = harness.run(suite, TEMPLATE, plans_dir=tmp_path)
    cases = {c.case_id: c for c in run.cases}
    shops = {cid: json.loads((tmp_path / f"{cid}.json").read_text())["shop"] for cid in cases}
    assert shops == {"films": "movielens", "gifts-default": "retail", "candles-zh": "retail"}
    for case in cases.values():
        assert case.outcome == "plan" and case.messages, case.message
        assert case.score("grounding").status == "pass", case.score("grounding").evidence
        assert case.score("value").status in {"pass", "fail"}, case.score("value").evidence
    assert all("£" not in m["body"] for m in cases["films"].messages)
    assert all("£" in m["body"] and "XMAS10" in m["body"] for m in cases["gifts-default"].messages)
    assert "offers the copy may state: XMAS10 (10% off)" in cases["gifts-default"].score("grounding").evidence
    assert cases["films"].score("value").details["effect_tool"].startswith("click_model")
    assert cases["gifts-default"].score("value").details["effect_tool"] == "PurchaseEffect"
    assert cases["candles-zh"].score("grounding").details["shop"] == "retail"
    retail = harness.scoring("retail")
    assert retail is harness.scoring("retail") and retail.catalog.shop.name == "retail"
    toy_story = harness.scoring("movielens").catalog.facts("1")
    assert toy_story is not None and toy_story.title == "Toy Story" and toy_story.price is None


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"offer": {"code": "GHOST20", "percent_off": 20, "product_ids": ["NOSUCH-1"]}},
         "gifts: field 'offer.product_ids': the shop does not sell 'NOSUCH-1' (offer GHOST20"),
        ({"offer": {"code": "SURF5", "amount_off": 5, "categories": ["Surfboards"]}},
         "gifts: field 'offer.categories': the shop has no category 'Surfboards'; valid: Bags, Baking"),
        ({"shop": "nosuchshop"}, "gifts: field 'shop': unknown shop 'nosuchshop'"),
        ({"audience_filter": {"genres": ["Sci-Fi"]}}, "gifts: field 'audience_filter': unknown genre 'Sci-Fi'"),
    ],
)
def test_a_brief_its_shop_cannot_serve_is_refused_in_one_line(harness, change, said):
    case = EvalCase(id="gifts", expect="refusal", brief={**GIFTS, **change})
    run = harness.plan_case(case, Planner(harness.tools), TEMPLATE)
    assert run.outcome == "refused" and run.message.startswith(said) and "\n" not in run.message, run.message
    result = harness.score_case(run, Suite(name="s", cases=[case]), [])
    assert result.score("outcome").status == "pass"


def test_an_offer_on_products_the_shop_sells_passes_the_check(retail_eval_tools):
    brief = parse_brief({**GIFTS, "offer": {"code": "HEART5", "percent_off": 5, "product_ids": ["85123A"],
                                            "categories": ["Candles"]}})
    checked = check_against_shop(brief, retail_eval_tools.profiles.store.vocabulary(), "brief",
                                 products=retail_eval_tools.shop.products)
    assert checked.offer == brief.offer


def test_the_suites_banned_phrases_reach_the_brief_the_agent_plans(harness):
    suite = Suite(name="s", banned_phrases=["limited time", "act now"],
                  cases=[EvalCase(id="films", expect="plan", brief={**FILMS, "banned_phrases": ["act now", "hurry"]},
                                  banned_phrases=["best ever"])])
    case = suite.cases[0]
    run = harness.plan_case(case, Planner(harness.tools), TEMPLATE, suite.banned_for(case))
    assert run.outcome == "plan" and run.plan is not None
    assert run.plan.brief.banned_phrases == ["act now", "hurry", "limited time", "best ever"]
    alone = harness.plan_case(case, Planner(harness.tools), TEMPLATE)
    assert alone.plan is not None and alone.plan.brief.banned_phrases == ["act now", "hurry"]
