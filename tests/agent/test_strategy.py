"""The strategy step: intent from the brief, the constrained choice, and bounded rounds scored by the effect models."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from agent.brief import load_brief, parse_brief
from agent.candidates import Candidate
from agent.llm import ChatReply, ChatRequest, FunctionModel, reply_candidates, reply_text
from agent.loop import Planner, PlannerTools
from agent.strategy import (
    NO_OFFER,
    SCHEMA_NAME,
    Intent,
    StrategyOptions,
    brief_intent,
    choice_model,
    random_strategy_reply,
    shop_vocabulary,
)
from tests.serve.api_harness import copywriter
from tools.copywriting import CopyTool

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "briefs"

COMEDY = {
    "name": "Comedy welcome", "shop": "movielens", "goal": "Welcome new customers with a comedy they will enjoy",
    "audience": "new customers who like comedy", "channels": ["email"], "send_budget": 500, "max_segments": 2,
    "variants_per_channel": 2, "max_revisions": 1,
}


def brief(**fields: object):
    return parse_brief({**COMEDY, **fields})


def answering(strategy) -> FunctionModel:
    """A model answering strategy requests with ``strategy`` and every copy request with text that is not JSON."""
    def respond(request: ChatRequest) -> ChatReply:
        return strategy(request) if request.schema_name == SCHEMA_NAME else reply_text("not json")
    return FunctionModel(respond)


def plan_with(tools: PlannerTools, model: FunctionModel, **fields: object):
    return Planner(dataclasses.replace(tools, copy=CopyTool(model, retries=0)), seed=7).run(brief(**fields))


def options_of(request: ChatRequest) -> dict[str, list[str]]:
    """The values each field's JSON schema allows (an enum, or a const when there is one option)."""
    props = request.response_schema["properties"]  # type: ignore[index]

    def allowed(spec: dict) -> list[str]:
        return list(spec["enum"]) if "enum" in spec else [spec["const"]]

    return {"angle": allowed(props["angle"]), "products": allowed(props["products"]["items"]),
            "offer": allowed(props["offer"])}


def test_brief_intent_names_the_shops_genres_in_the_briefs_words(shop):
    vocabulary = shop_vocabulary(shop)
    assert brief_intent(brief(), vocabulary).terms == ["Comedy"]
    assert brief_intent(brief(goal="Two comedies and a western for the weekend", audience="film fans"),
                        vocabulary).terms == ["Comedy", "Western"]
    assert brief_intent(brief(goal="Win back science fiction fans", audience="lapsed viewers"),
                        vocabulary).terms == ["Sci-Fi"]
    assert brief_intent(brief(goal="向新用户推荐一部喜剧", audience="new customers"), vocabulary).terms == ["Comedy"]
    # "love" is a theme of the retail shop and a word of every brief: never an intent; nor is "action" in "reaction"
    assert brief_intent(brief(goal="A film they will love", audience="reactions of new customers"),
                        vocabulary).terms == []


def test_brief_intent_on_retail_reads_categories_and_themes(retail_shop):
    vocabulary = shop_vocabulary(retail_shop)
    found = brief_intent(brief(shop="retail", goal="Sell Christmas candles to gift shops", audience="all buyers"),
                         vocabulary)
    assert set(found.terms) == {"Christmas", "Candles"}
    assert brief_intent(brief(shop="retail", goal="Thank loyal buyers", audience="buyers who love us"),
                        vocabulary).terms == []


def test_the_choice_is_an_enum_of_the_grounded_options(real_tools):
    seen: list[ChatRequest] = []

    def record(request: ChatRequest) -> ChatReply:
        seen.append(request)
        return random_strategy_reply(request)

    plan = plan_with(real_tools, answering(record), strategy_rounds=1)
    request = seen[0]
    schema = request.response_schema
    assert schema is not None and schema["additionalProperties"] is False
    assert set(schema["required"]) == {"angle", "products", "offer"}
    options = options_of(request)
    seg = next(s for s in plan.segments if s.strategy and s.strategy.angles == options["angle"])  # segments run at once
    record_ = seg.strategy
    assert record_ is not None
    assert options["offer"] == record_.offers == [NO_OFFER]  # MovieLens has no prices, so no offer
    assert 2 <= len(options["angle"]) <= 8
    assert schema["properties"]["products"]["minItems"] == schema["properties"]["products"]["maxItems"] == 2
    titles = {p.title for p in seg.products}
    assert set(options["products"]) <= titles | {f"{p.title} #{p.product_id}" for p in seg.products}
    # the reply model refuses what the schema forbids: a product not offered, a product twice, an unknown offer
    model = choice_model_of(seg)
    good = {"angle": options["angle"][0], "products": options["products"][:2], "offer": NO_OFFER}
    model.model_validate(good)
    for bad in ({**good, "products": [options["products"][0]] * 2}, {**good, "products": ["Citizen Kane", "Fargo"]},
                {**good, "offer": "XMAS10"}, {**good, "angle": "the best film ever made"}):
        with pytest.raises(ValidationError):
            model.model_validate(bad)


def choice_model_of(seg):
    """Rebuild the choice model of a segment from its recorded options."""
    record = seg.strategy
    by_id = {p.product_id: (p, e) for p, e in zip(seg.products, seg.product_effects, strict=True)}
    candidates = [Candidate(product=by_id[pid][0], effect=by_id[pid][1], relevance_rank=1) for pid in record.options]
    options = StrategyOptions(segment=seg, candidates=candidates, slots=2, angles=record.angles,
                              offers=record.offers, intent=Intent(terms=record.intent))
    return choice_model(options)


def test_comedy_brief_features_only_comedies(real_tools, shop):
    plan = plan_with(real_tools, answering(random_strategy_reply))
    genres = shop.products.set_index("product_id")["genres"]
    featured = {v.product_id for v in plan.active_variants()}
    assert featured and all("Comedy" in genres[p] for p in featured), [genres[p] for p in featured]
    for seg in plan.segments:
        assert seg.strategy is not None and seg.strategy.intent == ["Comedy"] and seg.strategy.intent_note is None
        assert all("Comedy" in p.genres for p in seg.products)  # the revision's reserve too


def test_rounds_feed_predictions_back_and_the_best_prediction_wins(real_tools):
    """Round 1 proposes the two products predicted worst, round 2 the two best; the better one wins."""
    prompts: list[str] = []

    def chooser(request: ChatRequest) -> ChatReply:
        prompts.append(request.messages[-1].content or "")
        options = options_of(request)
        products = options["products"]
        round_no = sum(1 for p in prompts if p.split("\n")[2] == prompts[-1].split("\n")[2])  # per segment
        chosen = products[-2:] if round_no == 1 else products[:2]
        return reply_candidates([{"angle": options["angle"][round_no - 1], "products": chosen, "offer": NO_OFFER}])

    plan = plan_with(real_tools, answering(chooser), strategy_rounds=3)
    step = next(s for s in plan.trace if s.step == "choose products")
    assert step.llm_calls == len(prompts) == sum(s.strategy.llm_calls for s in plan.segments)  # type: ignore[union-attr]
    for seg in plan.segments:
        record = seg.strategy
        assert record is not None
        llm = [p for p in record.proposals if p.source == "llm"]
        # one proposal per round (round 3: round 2's products with a third angle), then the bound stops it
        assert record.rounds <= 3 and [p.round for p in llm] == list(range(1, record.rounds + 1))
        assert all(p.predicted > 0 and len(p.product_predictions) == 2 for p in record.proposals)
        best = max(record.proposals, key=lambda p: (p.predicted, p.source == "llm"))
        assert record.winner == best.label and "the best of" in record.reason
        assert [p.product_id for p in seg.products[:2]] == best.product_ids
        assert step.outputs[seg.segment_id]["strategy"]["winner"] == record.winner
    # the second round's prompt states the first proposal and its prediction
    second = [p for p in prompts if "Earlier proposals" in p]
    assert second and all("predicted" in p and "A:" in p.replace("- A", "A") for p in second)


def test_no_valid_proposal_leaves_the_rules_choice_with_a_reason(real_tools):
    plan = plan_with(real_tools, answering(lambda request: reply_text("{not json")), strategy_rounds=3)
    for seg in plan.segments:
        record = seg.strategy
        assert record is not None and record.rounds == 1 and record.winner == "R"
        assert "no LLM proposal" in record.reason and any("stopped" in e for e in record.errors)
        rules = record.chosen()
        assert rules is not None and rules.source == "rules"
        assert [p.product_id for p in seg.products[:2]] == rules.product_ids


def test_zero_rounds_calls_no_model_for_the_strategy(real_tools):
    plan = plan_with(real_tools, answering(lambda request: pytest.fail("strategy asked")), strategy_rounds=0)
    step = next(s for s in plan.trace if s.step == "choose products")
    assert step.llm_calls == 0 and all(s.strategy and s.strategy.winner == "R" for s in plan.segments)


def test_random_reply_is_valid_for_the_schema():
    request = ChatRequest(messages=[], schema_name=SCHEMA_NAME, n=3, seed=5, response_schema={
        "properties": {"angle": {"enum": ["a", "b"]}, "products": {"items": {"enum": ["x", "y", "z"]},
                                                                      "minItems": 2}, "offer": {"enum": ["none"]}}})
    for text in random_strategy_reply(request).candidates:
        value = json.loads(text or "")
        assert value["angle"] in {"a", "b"} and len(set(value["products"])) == 2 and value["offer"] == "none"


def same_products_two_angles(request: ChatRequest, offer: str = NO_OFFER) -> ChatReply:
    """Propose the rules' products (the first offered) with the first and the second angle: an LLM proposal wins.

    The first proposal ties the rules' baseline (same products, same first angle), and a tie goes to the LLM; the
    second wins when its angle predicts better.
    """
    options = options_of(request)
    slots = request.response_schema["properties"]["products"]["minItems"]  # type: ignore[index]
    products = options["products"][:slots]
    return reply_candidates([{"angle": angle, "products": products, "offer": offer} for angle in options["angle"][:2]])


def test_the_winners_angle_reaches_every_copy_request_of_its_segment(real_tools):
    copy_prompts: list[str] = []

    def respond(request: ChatRequest) -> ChatReply:
        if request.schema_name == SCHEMA_NAME:
            return same_products_two_angles(request)
        copy_prompts.append("\n".join(m.content or "" for m in request.messages))
        return reply_text("not json")

    plan = plan_with(real_tools, FunctionModel(respond), strategy_rounds=1)
    assert len({s.description for s in plan.segments}) == len(plan.segments) >= 2
    for seg in plan.segments:
        win = seg.strategy.chosen() if seg.strategy else None
        assert win is not None and win.source == "llm" and win.angle in seg.strategy.angles
        mine = [p for p in copy_prompts if f"Audience: {seg.description}\n" in p]
        assert mine and all(f"Theme of the message: {win.angle} (write" in p for p in mine)
        assert all(p.count("Theme of the message:") == 1 for p in mine)  # one segment's angle, never another's
    assert len(copy_prompts) >= len(plan.variants)  # first drafts and the revision round's messages


def test_without_an_llm_winner_the_copy_has_no_theme(real_tools):
    copy_prompts: list[str] = []

    def respond(request: ChatRequest) -> ChatReply:
        assert request.schema_name != SCHEMA_NAME, "strategy asked"
        copy_prompts.append("\n".join(m.content or "" for m in request.messages))
        return reply_text("not json")

    plan_with(real_tools, FunctionModel(respond), strategy_rounds=0)
    assert copy_prompts and not any("Theme of the message" in p for p in copy_prompts)


@pytest.mark.parametrize("offer", [NO_OFFER, "XMAS10", None])
def test_the_winners_offer_decides_the_offer_of_its_segments_copy(retail_tools, offer):
    """Strategy "none": no code in any copy schema, prompt or message; "XMAS10": that code; no LLM winner: as before.

    The brief offers XMAS10 (10% off everything); the scripted copywriter states the first offer its prompt lists.
    """
    offered: list[list[str]] = []
    schemas: list[str] = []

    def respond(request: ChatRequest) -> ChatReply:
        if request.schema_name == SCHEMA_NAME:
            offered.append(options_of(request)["offer"])
            return same_products_two_angles(request, offer) if offer else reply_text("{not json")
        schemas.append(json.dumps(request.response_schema))
        return copywriter(request)

    tools = dataclasses.replace(retail_tools, copy=CopyTool(FunctionModel(respond), retries=0))
    brief = load_brief(EXAMPLES / "christmas_gifts.yaml").model_copy(update={
        "send_budget": 3000, "channels": ["email"], "variants_per_channel": 1, "max_revisions": 1,
        "strategy_rounds": 1})
    plan = Planner(tools, seed=7).run(brief)
    assert offered and all(o == ["XMAS10", NO_OFFER] for o in offered)
    assert schemas and plan.active_variants()
    for seg in plan.segments:
        win = seg.strategy.chosen() if seg.strategy else None
        assert win is not None and win.source == ("llm" if offer else "rules")
    stated = {v.offer_code for v in plan.variants}
    if offer == NO_OFFER:
        assert stated == {None} and not any("XMAS10" in s for s in schemas)
        assert not any("XMAS10" in f"{v.headline} {v.body} {v.cta}" for v in plan.variants)
    else:  # the strategy chose XMAS10, or no LLM proposal won and the brief's offer applies as before
        assert stated == {"XMAS10"} and all("XMAS10" in s for s in schemas)
