"""Whole-audience plans (issue 19 item 1): every matching customer, audiences and send lists outside the plan JSON.

On the retail demo shop, lapsed + active customers are more than the 2,000 the loop used to retrieve at most. The
copy model is the API tests' scripted copywriter, so LLM calls are counted without a server.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest

from agent.audience_file import (
    AudienceFileError,
    holdout_members,
    read_send_list,
    segment_members,
)
from agent.brief import check_against_shop, load_brief
from agent.launch import HOLDOUT
from agent.llm import FunctionModel
from agent.loop import Planner, PlannerTools
from agent.plan import CampaignPlan
from tests.previous_release import old_plan_json
from tests.serve.api_harness import copywriter
from tools.audience import AudienceFilter
from tools.copywriting import CopyTool
from tools.scoring import LocalScorer, score_propensity

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "briefs"
WHOLE = AudienceFilter(lifecycle=["lapsed", "active"])


@pytest.fixture(scope="module")
def tools(retail_tools: PlannerTools, tmp_path_factory: pytest.TempPathFactory) -> PlannerTools:
    return dataclasses.replace(retail_tools, copy=CopyTool(FunctionModel(copywriter), retries=0),
                               audience_dir=tmp_path_factory.mktemp("audiences"), scorer=LocalScorer(500))


def _brief(tools: PlannerTools, audience: str, where: AudienceFilter, budget: int):
    brief = load_brief(EXAMPLES / "christmas_gifts.yaml").model_copy(update={
        "audience": audience, "audience_filter": where, "send_budget": budget, "max_revisions": 1,
        "variants_per_channel": 2, "max_segments": 3})
    return check_against_shop(brief, tools.profiles.store.vocabulary())


@pytest.fixture(scope="module")
def plan(tools: PlannerTools) -> CampaignPlan:
    # A budget below the reachable sends (two channels of every treated customer): the budget limits sends.
    return Planner(tools, seed=7).run(_brief(tools, "lapsed and active customers", WHOLE, 3000))


def test_every_matching_customer_is_in_the_audience_file_and_a_segment(plan, tools, settings):
    matching = tools.profiles.count(WHOLE)
    assert matching > 2000  # more than the old RETRIEVE_CAP
    ref = plan.audience_file
    assert ref is not None and plan.audience.size == matching == ref.customers
    table = read_send_list(settings, plan)
    assert table["customer_id"].nunique() == matching
    members = segment_members(settings, plan)
    assert sum(len(ids) for ids in members.values()) == matching == sum(s.size for s in plan.segments)
    assert {s.segment_id: s.size for s in plan.segments} == {k: len(v) for k, v in members.items()}
    assert table.groupby("customer_id")["segment_id"].nunique().max() == 1  # one segment per customer
    # The plan JSON keeps counts and the reference, not the members.
    assert all(not s.customer_ids for s in plan.segments) and plan.launch and not plan.launch.holdout_ids
    assert CampaignPlan.model_validate_json(plan.model_dump_json()).audience_file == ref


def test_the_send_list_has_a_row_per_treated_customer_and_channel_and_matches_the_launch(plan, settings):
    table = read_send_list(settings, plan).fillna({"variant_id": ""})  # null: unsent
    launch = plan.launch
    assert launch is not None
    held = table[table["variant_id"] == HOLDOUT]
    treated = table[table["variant_id"] != HOLDOUT]
    assert held["channel"].isna().all() and len(held) == held["customer_id"].nunique() == launch.holdout_customers
    per_segment = held.groupby("segment_id").size().to_dict()
    assert {k: len(v) for k, v in holdout_members(settings, plan).items()} == per_segment
    assert not set(held["customer_id"]) & set(treated["customer_id"])
    channels = list(plan.brief.channels)
    assert len(treated) == treated["customer_id"].nunique() * len(channels)
    assert not treated.duplicated(["customer_id", "channel"]).any()
    sent = treated[treated["variant_id"] != ""]
    by_variant = sent.groupby("variant_id").size().to_dict()
    assert by_variant == {a.variant_id: a.sends for a in launch.allocations if a.sends}
    assert len(sent) == launch.planned_sends == plan.audience_file.sends == plan.brief.send_budget
    assert (treated["variant_id"] == "").any()  # the budget leaves some treated customers unsent
    variants = {v.variant_id: v for v in plan.variants}
    assert all(variants[v].segment_id == s and variants[v].channel == c
               for v, s, c in sent[["variant_id", "segment_id", "channel"]].itertuples(index=False))


def test_each_customer_gets_the_variant_whose_product_they_are_likelier_to_buy(plan, tools, settings):
    table = read_send_list(settings, plan).fillna({"variant_id": ""})
    sent = table[~table["variant_id"].isin(["", HOLDOUT])]
    product = {v.variant_id: v.product_id for v in plan.variants}
    scores = score_propensity(LocalScorer(), tools.effect, sorted(set(product.values())),
                              sorted(set(sent["customer_id"])))
    checked = 0
    for (_, _), cell in sent.groupby(["segment_id", "channel"]):
        ids = sorted(set(cell["variant_id"]))
        if len(ids) < 2 or product[ids[0]] == product[ids[1]]:
            continue
        # The customers' chances of buying the product of the variant they got beat the same sends dealt at random
        # among the cell's customers (the sends per variant are the launch design's, often unequal).
        got = sum(scores.loc[cell.loc[cell["variant_id"] == v, "customer_id"], product[v]].sum() for v in ids)
        dealt = sum((cell["variant_id"] == v).sum() * scores.loc[cell["customer_id"], product[v]].mean() for v in ids)
        assert got > dealt
        checked += 1
    assert checked > 0
    # The sent customers of a segment and channel are those with the best scores of its products.
    assert "propensity" in plan.audience_file.chosen_by


def test_llm_calls_do_not_grow_with_the_audience(plan, tools):
    # The same customers of one region: a tenth of the audience or less, enough for three segments.
    region = next(r for r in tools.profiles.store.vocabulary()["regions"]
                  if 60 <= tools.profiles.count(WHOLE.model_copy(update={"regions": [r]})) < plan.audience.size / 10)
    small = Planner(tools, seed=7).run(_brief(tools, "lapsed and active customers",
                                              WHOLE.model_copy(update={"regions": [region]}), 3000))
    assert 60 <= small.audience.size < plan.audience.size / 10 and len(small.segments) >= 2
    for p in (small, plan):
        cells = len(p.segments) * len(p.brief.channels) * p.brief.variants_per_channel
        drafts = next(s.llm_calls for s in p.trace if s.step == "write copy")
        assert drafts == cells  # one call per segment x channel x product, whatever the audience's size
        revised = sum(s.llm_calls for s in p.trace if s.step.startswith("revise round"))
        # A revision round rewrites at most one message per segment x channel, each in at most its rewrite calls.
        assert revised <= len(p.segments) * len(p.brief.channels) * (tools.copy.rewrite_retries + 1)
        # Strategy proposals: at most a few calls per segment and round, whatever the audience's size.
        strategy = sum(s.llm_calls for s in p.trace if s.step == "choose products")
        assert strategy <= len(p.segments) * p.brief.strategy_rounds * 2
        assert p.totals.llm_calls == cells + revised + strategy


def test_a_stored_plan_with_inline_members_still_reads():
    data = json.loads(old_plan_json())
    data["segments"] = [{"segment_id": "S1", "name": "Old fans", "description": "3 customers", "size": 3,
                         "customer_ids": ["c1", "c2", "c3"], "top_genres": [], "lifecycle_mix": {"lapsed": 3}}]
    data["launch"] = {"send_budget": 2, "reachable_customers": 3, "holdout_customers": 1,
                      "holdout_ids": {"S1": ["c3"]}, "holdout_fraction": 0.1, "planned_sends": 2, "allocations": []}
    plan = CampaignPlan.model_validate_json(json.dumps(data))
    assert plan.audience_file is None
    assert segment_members(None, plan) == {"S1": ["c1", "c2", "c3"]} and holdout_members(None, plan) == {"S1": ["c3"]}
    table = read_send_list(None, plan)
    assert table.astype(object).where(table.notna(), None).to_dict("records") == [
        {"customer_id": "c1", "segment_id": "S1", "channel": "sms", "variant_id": None},
        {"customer_id": "c2", "segment_id": "S1", "channel": "sms", "variant_id": None},
        {"customer_id": "c3", "segment_id": "S1", "channel": None, "variant_id": HOLDOUT},
    ]


def test_a_changed_audience_file_is_refused(plan, settings, tmp_path):
    ref = plan.audience_file
    assert ref is not None
    copy = tmp_path / Path(ref.path).name
    table = pd.read_parquet(ref.path)
    table.iloc[:-1].to_parquet(copy, index=False)
    moved = plan.model_copy(update={"audience_file": ref.model_copy(update={"path": str(copy)})})
    with pytest.raises(AudienceFileError, match="SHA-256"):
        read_send_list(settings, moved)
    gone = plan.model_copy(update={"audience_file": ref.model_copy(update={"path": str(tmp_path / "gone.parquet")})})
    with pytest.raises(AudienceFileError, match="missing"):
        read_send_list(settings, gone)
