"""The Hillstrom loop end to end (scripted LLM): plan → the experiment's outcomes imported → analysed → learned →
the shop's next plan says what it learned, from which campaign, and predicts and targets accordingly.

The shop is the experiment's first :data:`ROWS` customers (the whole 48,000 take minutes to index); the
experiment fixture (tests/fixtures/hillstrom_experiment.py) is the same customers with the arms they were given
and their real visits. Learning runs in a home of its own, so no other test sees the learned lift.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from agent.assemble import effect_tool
from agent.brief import parse_brief
from agent.candidates import PURCHASE_TOLERANCE
from agent.cli import app as cli_app
from agent.llm import ChatReply, ChatRequest, FunctionModel, reply_json, reply_text
from agent.loop import Planner, PlannerTools
from agent.plan import CampaignPlan
from agent.settings import Settings
from agent.training import learn_from_outcomes
from serve.campaign_outcomes import stored_campaigns
from serve.outcomes import import_outcomes, plan_results
from serve.store import Store
from tests.fixtures.hillstrom_experiment import (
    PLAN_ID,
    experiment_outcomes,
    experiment_plan,
    experiment_rows,
)
from tests.fixtures.offline_cli import plan_offline
from tools.audience import ProfilesTool
from tools.copywriting import CopyTool
from tools.effect import predict_effect
from tools.outcomes import ExperimentRequest, analyse_experiment
from tools.portraits import open_portrait_store
from tools.recommend import RecommendTool
from tools.shop import MENS_EMAIL, WOMENS_EMAIL, Shop, load_hillstrom_shop

ROWS = 4000
PUBLISHED = {"none": 0.106, "womens": 0.151, "mens": 0.183}  # Hillstrom's full 64,000 rows


def copywriter(request: ChatRequest) -> ChatReply:
    """Write an e-mail about the product the copy prompt names."""
    title = re.search(r"Title: (.+?)(?: \(write it.*)?$", request.messages[-1].content or "", re.MULTILINE)
    if title is None:
        return reply_text("?")
    line = title.group(1).removesuffix(" e-mail")
    return reply_json({"headline": f"New {line} for you", "body": f"See what is new in our {line} this week.",
                       "cta": "Visit the shop"})


@pytest.fixture(scope="module")
def home(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings with a home of their own (its learned lift is seen by no other test), the real data folder."""
    folder = tmp_path_factory.mktemp("learning-home")
    (folder / "data").symlink_to(settings.data_dir.resolve(), target_is_directory=True)
    return settings.model_copy(update={"home": folder, "db_url": f"sqlite:///{folder / 'api.db'}"})


@pytest.fixture(scope="module")
def hillstrom_shop(home: Settings) -> Shop:
    return load_hillstrom_shop(home, rows=ROWS)


@pytest.fixture(scope="module")
def tools(home: Settings, hillstrom_shop: Shop, small_headline_model) -> PlannerTools:
    model, local = small_headline_model
    return PlannerTools(
        shop=hillstrom_shop, profiles=ProfilesTool(open_portrait_store(home, hillstrom_shop)),
        recommend=RecommendTool.fit(hillstrom_shop, home), effect=effect_tool(hillstrom_shop, home),
        copy=CopyTool(FunctionModel(copywriter), retries=0),
        predict_effect=functools.partial(predict_effect, headlines=model, settings=local),
        audience_dir=home.home / "audiences")


@pytest.fixture(scope="module")
def store(home: Settings) -> Iterator[Store]:
    store = Store(home.database_url)
    yield store
    store.engine.dispose()


BRIEF = {"name": "Spring e-mail", "shop": "hillstrom", "goal": "Bring customers back to the site",
         "audience": "customers who bought merchandise", "channels": ["email"], "send_budget": ROWS,
         "max_segments": 3, "variants_per_channel": 1, "max_revisions": 1, "strategy_rounds": 0}


def _effects(plan: CampaignPlan) -> dict[str, dict[str, float]]:
    """Each segment's predicted incremental visits per send of each e-mail (every candidate, from the trace)."""
    step = next(s for s in plan.trace if s.step == "predict effect of candidates")
    return {sid: {e["product_id"]: e["point"] for e in estimates} for sid, estimates in step.outputs.items()}


def _tolerance(plan: CampaignPlan) -> float:
    """How much predicted effect a segment gives up to send a product no larger segment sends (relative on a metric
    that is not ``p_like``: :func:`agent.candidates.distinct_tolerance`)."""
    return PURCHASE_TOLERANCE * max(p for effects in _effects(plan).values() for p in effects.values())


def _womens_only_share(tools: PlannerTools, members: dict[str, list[str]]) -> dict[str, float]:
    """Share of each segment's customers who bought women's merchandise only."""
    customers = tools.shop.customers.set_index("customer_id")
    return {sid: float(((customers.loc[ids, "womens"] == 1) & (customers.loc[ids, "mens"] == 0)).mean())
            for sid, ids in members.items()}


def test_the_published_lifts_fall_inside_the_dev_files_intervals(settings: Settings) -> None:
    data = pd.read_csv(settings.shared_data_dir / "hillstrom_dev.csv")
    result = analyse_experiment(data, ExperimentRequest(arm_column="segment", control="No E-Mail", outcome="visit"))
    arms = {a.arm: a for a in result.arms}
    for arm, key in (("Mens E-Mail", "mens"), ("Womens E-Mail", "womens")):
        published = PUBLISHED[key] - PUBLISHED["none"]  # 0.077 and 0.045
        assert arms[arm].ci_low < published < arms[arm].ci_high
    assert result.winner == "Mens E-Mail"


def test_the_hillstrom_loop_learns_and_the_next_plan_changes(home: Settings, tools: PlannerTools, store: Store,
                                                             hillstrom_shop: Shop) -> None:
    from agent.audience_file import segment_members

    brief = parse_brief(BRIEF)
    before = Planner(tools, seed=home.seed).run(brief)
    assert before.status != "empty" and before.segments
    assert any("no campaign outcomes of shop 'hillstrom' yet" in a for a in before.assumptions)
    for effects in _effects(before).values():  # the prior pools both e-mails: they are predicted alike
        assert effects[MENS_EMAIL] == pytest.approx(effects[WOMENS_EMAIL])

    # The experiment, as a launched plan of this shop: its outcomes imported, analysed, learned from.
    rows = experiment_rows(home, ROWS)
    plan = experiment_plan(rows, hillstrom_shop, home, home.home / "audiences")
    store.add_job(PLAN_ID, "someone", plan.brief.model_dump(mode="json"), 1)
    assert store.set_status(PLAN_ID, "done", plan=plan.model_dump_json(), steps_done=1)
    imported = import_outcomes(store, home, PLAN_ID, experiment_outcomes(rows, plan), "hillstrom_outcomes.csv")
    assert imported.inserted == ROWS
    results = plan_results(store, home, PLAN_ID, "clicked")
    assert {s.segment for s in results.segments} == {"bought-mens", "bought-womens", "bought-both"}
    campaigns = stored_campaigns(store, home)
    assert [c.plan_id for c in campaigns] == [PLAN_ID]
    card = learn_from_outcomes(home, campaigns)["hillstrom"]
    assert card["campaigns"] == [{"plan_id": PLAN_ID, "created_at": "2008-03-03T09:00:00+00:00", "metric": "clicked",
                                  "customers": ROWS, "treated": int(rows["product_id"].notna().sum()),
                                  "holdout": int(rows["product_id"].isna().sum())}]
    lifts = {v["product_id"]: v["lift"] for v in card["variants"]}
    assert lifts[MENS_EMAIL] > lifts[WOMENS_EMAIL]  # the men's e-mail raised visits more, as in the full experiment

    learned = dataclasses.replace(tools, effect=effect_tool(hillstrom_shop, home))
    after = Planner(learned, seed=home.seed).run(brief)
    assert any(PLAN_ID in a and "learned from campaign" in a for a in after.assumptions)
    assert any(PLAN_ID in f for s in after.segments for e in s.product_effects for f in e.factors)
    effects_before, effects_after = _effects(before), _effects(after)
    assert effects_after != effects_before
    for effects in effects_after.values():  # learned per segment and e-mail: no longer alike
        assert effects[MENS_EMAIL] != pytest.approx(effects[WOMENS_EMAIL], rel=1e-3)
    womens_share = _womens_only_share(learned, segment_members(home, after))
    for segment in after.segments:
        chosen = {v.product_id for v in after.active_variants() if v.segment_id == segment.segment_id}
        effects = effects_after[segment.segment_id]
        best, other = sorted(effects, key=lambda p: -effects[p])
        if effects[best] - effects[other] > _tolerance(after):  # (within it, a larger segment may keep the best)
            assert chosen == {best}  # the segment gets the e-mail it learned works best for it
        if womens_share[segment.segment_id] < 0.2:  # men's merchandise buyers: the women's e-mail did little
            assert best == MENS_EMAIL


def test_campaign_plan_plans_for_the_hillstrom_shop(home: Settings, tools: PlannerTools, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """``campaign plan BRIEF --shop hillstrom`` with the scripted copywriter (the shop's tools of this module)."""
    plan_offline(monkeypatch, home, tools)
    brief = tmp_path / "brief.yaml"
    brief.write_text("name: Women's line\ngoal: Bring buyers of women's merchandise back to the site\n"
                     "audience: customers who love women's merchandise\n"
                     "audience_filter: {genres: [Women's merchandise]}\nchannels: [email]\nsend_budget: 1000\n"
                     "variants_per_channel: 1\nmax_revisions: 1\nstrategy_rounds: 0\n", encoding="utf-8")
    result = CliRunner().invoke(cli_app, ["plan", str(brief), "--shop", "hillstrom", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    plan = CampaignPlan.model_validate_json((tmp_path / "out" / "plan.json").read_text(encoding="utf-8"))
    assert plan.shop == "hillstrom" and plan.launch is not None and plan.launch.planned_sends > 0
    customers = tools.shop.customers.set_index("customer_id")
    matched = [c for s in plan.segments for c in (segment_members_of(home, plan, s.segment_id))]
    assert matched and customers.loc[matched, "womens"].eq(1).all()  # the genre filter: women's merchandise buyers
    assert {v.product_id for v in plan.active_variants()} <= {MENS_EMAIL, WOMENS_EMAIL}


def segment_members_of(settings: Settings, plan: CampaignPlan, segment_id: str) -> list[str]:
    """The customers of one segment of a plan (from its audience file)."""
    from agent.audience_file import segment_members

    return segment_members(settings, plan)[segment_id]
