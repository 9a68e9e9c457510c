"""The whole plan loop on the real demo shop, with a scripted LLM."""

from __future__ import annotations

import dataclasses
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from agent.brief import parse_brief
from agent.candidates import POOL_SIZE
from agent.llm import ChatRequest, FunctionModel, ScriptedModel, reply_json, reply_text
from agent.loop import MIN_GAIN, MIN_REWRITE_GAIN, STEPS, Planner, PlannerTools, expected_steps
from agent.plan import CampaignPlan
from agent.report import render_markdown, write_plan
from agent.trace import StepEvent, TraceStep
from eval.suite import LiftThreshold
from eval.value import PopularityBaseline, score_value
from tools.copywriting import CopyTool, ProductFacts
from tools.effect.headlines import HeadlineRating
from tools.effect.variant_effect import combine

WAIT_S = 120  # upper bound for one run to reach a step the other waits for; only a broken loop hits it
BRIEF = {
    "name": "Win back sci-fi fans", "goal": "Win back lapsed sci-fi fans before the holidays",
    "audience": "lapsed science fiction fans", "audience_filter": {"lifecycle": ["lapsed"], "genres": ["Sci-Fi"]},
    "channels": ["email", "push"], "send_budget": 50000, "language": "en", "max_segments": 3,
    "variants_per_channel": 2, "max_revisions": 2, "holdout_fraction": 0.1,
}


def copywriter(request: ChatRequest) -> object:
    """Answer a copy prompt from the facts it states; every third call invents a year (must be rejected)."""
    prompt = request.messages[1].content or ""
    title = re.search(r"Title: (.+)", prompt)
    year = re.search(r"Year: (\d{4})", prompt)
    copywriter.calls += 1  # type: ignore[attr-defined]
    if title is None:
        return reply_text("?")
    stated = "1888" if copywriter.calls % 3 == 0 else (year.group(1) if year else "")  # type: ignore[attr-defined]
    body = f"See {title.group(1)} {stated}, a film picked for you tonight.".replace(" ,", ",")
    return reply_json({"headline": f"{title.group(1)} is back", "body": body, "cta": "Watch"})


@pytest.fixture(scope="module")
def tools(real_tools: PlannerTools) -> PlannerTools:
    copywriter.calls = 0  # type: ignore[attr-defined]
    return dataclasses.replace(real_tools, copy=CopyTool(FunctionModel(copywriter), retries=1))


@pytest.fixture(scope="module")
def plan(tools):
    return Planner(tools, concurrency=4, seed=7).run(parse_brief(BRIEF))


def test_plan_covers_every_segment_and_channel(plan, shop):
    assert plan.status == "ok" and 1 <= len(plan.segments) <= 3
    active = plan.active_variants()
    assert len(active) == len(plan.segments) * 2 * 2
    for segment in plan.segments:
        for channel in ("email", "push"):
            cell = [v for v in active if v.segment_id == segment.segment_id and v.channel == channel]
            assert len(cell) == 2 and len({v.product_id for v in cell}) == 2
    seen = shop.interactions.groupby("customer_id")["product_id"].agg(set)
    for v in active:
        assert "Sci-Fi" in next(p.genres for s in plan.segments for p in s.products if p.product_id == v.product_id)
        members = next(s.customer_ids for s in plan.segments if s.segment_id == v.segment_id)
        assert sum(v.product_id in seen[c] for c in members) <= len(members) / 2


def test_audience_honours_the_filter(plan, store):
    ids = [c for s in plan.segments for c in s.customer_ids]
    got = store.collection.get(ids=ids, include=["metadatas"])
    assert all(m["lifecycle"] == "lapsed" and m["g_sci_fi"] for m in got["metadatas"])
    assert plan.audience.size == len(ids)


def test_invalid_drafts_are_rejected_and_grounded_copy_kept(plan):
    for v in plan.variants:
        text = f"{v.headline} {v.body}"
        assert "1888" not in text
        if v.source == "llm" and v.llm_errors:
            assert "year 1888" in v.llm_errors[0]
    assert any(v.llm_errors for v in plan.variants if v.source == "llm")
    assert sum(v.source == "llm" for v in plan.variants) >= len(plan.variants) / 2


def test_every_number_traces_to_a_tool_output(plan):
    predicted = next(s for s in plan.trace if s.step == "predict effect of candidates").outputs
    for v in plan.variants:
        estimates = {e["product_id"]: e for e in predicted[v.segment_id]}
        assert estimates[v.product_id]["point"] == v.effect.point
        assert estimates[v.product_id]["low"] == v.effect.low and estimates[v.product_id]["high"] == v.effect.high
    scored = next(s for s in plan.trace if s.step == "score products").outputs
    chosen = next(s for s in plan.trace if s.step == "choose products").outputs
    for segment in plan.segments:
        retrieved = {p["product_id"]: p for p in scored[segment.segment_id]}
        featured = [p["product_id"] for p in chosen[segment.segment_id]["products"]]
        assert featured == [p.product_id for p in segment.products]
        for p in segment.products:
            assert round(p.score, 4) == retrieved[p.product_id]["score"]
            assert p.reason.endswith(f"{retrieved[p.product_id]['reason']})")
            assert p.reason.startswith(f"predicted p_like {_effect(segment, p.product_id).point:.3f}")
            seen = _effect(segment, p.product_id).already_rated
            assert (f"{seen} of {segment.size} customers already rated it: counted 0" in p.reason) == (seen > 0)
    predicted = {}
    for step in plan.trace:
        predicted.update(step.outputs.get("predicted", {}))
    for v in plan.variants:
        assert predicted[v.variant_id]["point"] == v.predicted.point
        assert predicted[v.variant_id]["p_like"] == v.effect.point
        assert v.predicted.point == pytest.approx(min(1.0, v.effect.point * v.predicted.headline_index))
    for a in plan.launch.allocations:
        variant = plan.variant(a.variant_id)
        assert a.expected_positive == pytest.approx(a.sends * variant.predicted.point, abs=0.01)


def test_revision_uses_predictions_until_nothing_beats_the_variants(plan):
    assert plan.revisions and plan.revisions[0].round == 1
    rounds = max(r.round for r in plan.revisions)
    # The loop stops early only after a round with nothing to try (every decision "keep"); else it used every round.
    stopped = all(r.action == "keep" for r in plan.revisions if r.round == rounds)
    assert stopped or rounds == plan.brief.max_revisions
    if stopped:
        for segment in plan.segments:
            effect = {e.product_id: e.point for e in segment.product_effects}
            for channel in plan.brief.channels:
                cell = [v for v in plan.variants if v.segment_id == segment.segment_id and v.channel == channel]
                used = {v.product_id for v in cell}
                worst = min(v.rate()[0] for v in cell if v.active)
                assert all(p <= worst + MIN_GAIN for pid, p in effect.items() if pid not in used)
    for r in plan.revisions:
        if r.action == "replace":
            old, new = plan.variant(r.removed_variant), plan.variant(r.added_variant)
            assert not old.active and new.rate()[0] > old.rate()[0]
            # never a product another segment was sending then (a variant once replaced never comes back)
            theirs = {v.product_id for v in plan.variants
                      if v.segment_id != new.segment_id and v.active and v.round_added < r.round}
            assert new.product_id not in theirs
            # still sent, unless a later round replaced or rejected it in turn
            later = [x for x in plan.revisions if x.round > r.round and x.removed_variant == new.variant_id]
            assert new.active != bool(later)
        if r.action == "reject":
            assert not plan.variant(r.removed_variant).active


def _effect(segment, product_id):
    return next(e for e in segment.product_effects if e.product_id == product_id)


def test_first_drafts_are_the_retrieved_products_with_the_best_predicted_effect(plan):
    retrieved = next(s for s in plan.trace if s.step == "predict effect of candidates").outputs
    left = next(s for s in plan.trace if s.step == "choose products").notes
    assert next(s for s in plan.trace if s.step == "score products").inputs["k"] == POOL_SIZE
    drafts = {(v.segment_id, v.product_id) for v in plan.variants if v.round_added == 0}
    for segment in plan.segments:
        kept = [p.product_id for p in segment.products]
        assert len(retrieved[segment.segment_id]) > len(kept)  # ranked from a wider pool than it keeps
        mine = {pid for sid, pid in drafts if sid == segment.segment_id}
        assert mine == set(kept[: plan.brief.variants_per_channel])
        lowest = min(_effect(segment, pid).point for pid in kept)
        for e in retrieved[segment.segment_id]:
            if e["product_id"] in kept or e["point"] <= lowest:
                continue
            # A better retrieved product is left out only for a larger segment that sends it.
            title = next(p["title"] for p in _scored(plan, segment) if p["product_id"] == e["product_id"])
            note = next(n for n in left if n.startswith(f"{segment.segment_id}: {title} (p_like"))
            owner = note.split(" left to ")[1].split(":")[0]
            assert (owner, e["product_id"]) in drafts and int(owner[1:]) < int(segment.segment_id[1:])


def _scored(plan, segment):
    return next(s for s in plan.trace if s.step == "score products").outputs[segment.segment_id]


def test_plan_beats_the_popularity_baseline_on_the_effect_model(plan, tools, shop):
    baseline = PopularityBaseline(shop.interactions, shop.products)
    result = score_value(plan, tools.effect, baseline, LiftThreshold(min_lift=0.0))
    assert result.status == "pass" and result.score > 0, result.evidence


def test_launch_design_respects_budget_and_holdout(plan):
    launch = plan.launch
    assert launch.planned_sends <= plan.brief.send_budget
    assert launch.holdout_customers == sum(round(s.size * 0.1) for s in plan.segments)
    for segment in plan.segments:
        held = set(launch.holdout_ids[segment.segment_id])
        assert held <= set(segment.customer_ids)
        treated = segment.size - len(held)
        for channel in plan.brief.channels:
            assert sum(a.sends for a in launch.allocations
                       if a.segment_id == segment.segment_id and a.channel == channel) == treated
    assert "exceeds what this audience can receive" in " ".join(launch.notes)


def test_trace_and_markdown(plan, tmp_path):
    steps = [s.step for s in plan.trace]
    assert steps[:7] == ["retrieve audience", "form segments", "score products", "predict effect of candidates",
                         "choose products", "write copy", "predict effect of variants"]
    assert "revise round 1" in steps and steps[-1] == "design launch"
    assert [s for s in steps if not s.startswith("revise round")] == list(STEPS)
    rounds = sum(s.startswith("revise round") for s in steps)
    # The API's progress total: the loop's count for the rounds run, at most its count before the run.
    assert len(plan.trace) == expected_steps(plan.brief, rounds) <= expected_steps(plan.brief)
    # Every LLM call wrote a variant, or a rewrite that no candidate passed (the revision says how many calls), or
    # proposed a strategy (the choose step's calls).
    failed = sum(int(m.group(1)) for r in plan.revisions
                 if (m := re.search(r"quality floor in (\d+) LLM call", r.reason)))
    strategy = next(s for s in plan.trace if s.step == "choose products").llm_calls
    assert plan.totals.llm_calls == sum(v.llm_attempts for v in plan.variants) + failed + strategy > 0
    json_path, md_path = write_plan(plan, tmp_path)
    markdown = md_path.read_text()
    for segment in plan.segments:
        assert segment.name in markdown
    assert "## Trace" in markdown and json_path.stat().st_size > 1000
    english = [v for v in plan.active_variants() if v.language == "en"]
    assert english and all(v.predicted is not None and v.predicted.evidence for v in english)
    assert markdown.count("Evidence (observed in Upworthy A/B tests): closest tested headline") == len(english)
    assert render_markdown(plan) == markdown


def test_audience_that_matches_nobody_ends_with_a_clear_warning(tools):
    brief = parse_brief({**BRIEF, "audience_filter": {"lifecycle": ["new"], "genres": ["Documentary"],
                                                      "age_min": 80}})
    with ScriptedModel([]) as model:
        tools_no_llm = PlannerTools(**{**tools.__dict__, "copy": CopyTool(model)})
        plan = Planner(tools_no_llm).run(brief)
    assert plan.status == "empty" and plan.segments == [] and plan.launch is None
    assert [w.kind for w in plan.warnings] == ["empty_audience"]
    assert plan.warnings[0].message.startswith("No customer matches this audience.")
    assert f"## Warnings\n\n- {plan.warnings[0].message}\n" in render_markdown(plan)
    assert len(plan.trace) == 1 <= expected_steps(brief)  # the loop ends after retrieving nobody


# 99 characters: SMS keeps 61 for the message, too few for the fact template about a long title.
DISCLAIMER = "Members only. Offer ends 31 December. Terms apply at example.com/terms; reply STOP to opt out now!!"
NO_LLM = {"channels": ["sms", "push"], "disclaimer": DISCLAIMER}


def test_skipped_messages_and_unsent_variants_are_warnings_with_their_data(tools):
    no_llm = dataclasses.replace(tools, copy=CopyTool(FunctionModel(lambda req: reply_text("not json")), retries=0))
    plan = Planner(no_llm, seed=7).run(parse_brief({**BRIEF, **NO_LLM, "send_budget": 2}))
    skipped = [w for w in plan.warnings if w.kind == "skipped_message"]
    assert skipped and plan.warnings[: len(skipped)] == skipped  # as the loop met them, before the launch's warning
    # The sentences are the trace's notes, and each names its segment, channel and product.
    assert [w.message for w in skipped] == [n for s in plan.trace for n in s.notes if ": skipped: " in n]
    written = {(v.segment_id, v.channel, v.product_id) for v in plan.variants}
    titles = {s.segment_id: {p.product_id: ProductFacts(product_id=p.product_id, title=p.title).display_title
                             for p in s.products} for s in plan.segments}
    cells = [(w.segment_id, w.channel, w.product_id) for w in skipped]
    assert len(set(cells)) == len(cells) and not written & set(cells)  # never tried again, never written
    for w in skipped:
        # The whole audience is planned (the budget limits sends, not retrieval): some titles fit neither channel.
        assert w.channel in ("sms", "push") and w.segment_id is not None and w.product_id is not None
        assert w.message.startswith(f"{w.segment_id}/{w.channel}: skipped: no message about "
                                    f"{titles[w.segment_id][w.product_id]} fits {w.channel}: ")
    assert any(w.channel == "sms" for w in skipped)
    unsent = [a.variant_id for a in plan.launch.allocations if a.sends == 0]
    assert unsent and plan.warnings[len(skipped):] == [w for w in plan.warnings if w.kind == "unsent_variants"]
    (budget,) = plan.warnings[len(skipped):]
    assert budget.variant_ids == unsent and f"unsent ({', '.join(unsent)})" in budget.message
    assert budget.message.startswith("A budget of 2 sends leaves ")
    markdown = render_markdown(plan)
    assert all(f"- {w.message}\n" in markdown for w in plan.warnings)


def test_one_planner_runs_two_briefs_at_once_as_it_runs_them_one_by_one(tools):
    writer = dataclasses.replace(tools, copy=CopyTool(FunctionModel(grounded_copywriter), retries=0))
    briefs = {"scifi": parse_brief({**BRIEF, **NO_LLM, "max_revisions": 1}),
              "drama": parse_brief({**BRIEF, **NO_LLM, "max_revisions": 1, "audience": "lapsed drama fans",
                                    "audience_filter": {"lifecycle": ["lapsed"], "genres": ["Drama"]}})}
    alone = {name: Planner(writer, concurrency=4, seed=7).run(b) for name, b in briefs.items()}

    # Interleaved for certain: the drama run starts once the sci-fi run has written (and skipped) its first
    # drafts, and the sci-fi run revises only once the drama run has written its own.
    run_of, wrote = threading.local(), {name: threading.Event() for name in briefs}

    def listener(event: StepEvent, step: TraceStep) -> None:
        if event == "end" and step.step == "write copy":
            wrote[run_of.name].set()
            if run_of.name == "scifi":
                assert wrote["drama"].wait(WAIT_S), "the drama run never wrote its copy"

    planner = Planner(writer, concurrency=4, seed=7, on_event=listener)

    def run(name: str) -> CampaignPlan:
        run_of.name = name
        if name == "drama":
            assert wrote["scifi"].wait(WAIT_S), "the sci-fi run never wrote its copy"
        return planner.run(briefs[name])

    with ThreadPoolExecutor(max_workers=2) as pool:
        together = dict(zip(briefs, pool.map(run, briefs), strict=True))
    assert len({p.plan_id for p in [*alone.values(), *together.values()]}) == 4
    for name, both in together.items():
        one, brief = alone[name], briefs[name]
        assert both.brief == brief and both.status == "ok" and both.launch is not None
        assert both.trace[-1].step == "design launch" and len(both.trace) <= expected_steps(brief)
        own = {(s.segment_id, p.product_id) for s in both.segments for p in s.products}
        assert all((w.segment_id, w.product_id) in own for w in both.warnings if w.kind == "skipped_message")
        variable = {"plan_id", "created_at", "totals", "trace"}  # ids, clocks and timings
        assert both.model_dump(exclude=variable) == one.model_dump(exclude=variable)
        assert [_replayable(s) for s in both.trace] == [_replayable(s) for s in one.trace]
    scifi, drama = ({w.product_id for w in p.warnings if w.kind == "skipped_message"} for p in together.values())
    assert scifi and scifi != drama  # long sci-fi titles miss SMS; the sci-fi run must not retry them


def grounded_copywriter(request: ChatRequest) -> object:
    """Answer a copy prompt from the facts it states, the same way every time (no state shared between calls)."""
    title = re.search(r"Title: (.+?)(?: \(write it.*)?$", request.messages[-1].content or "", re.MULTILINE)
    if title is None:
        return reply_text("?")
    return reply_json({"headline": "Back for you tonight", "cta": "Watch now",
                       "body": f"{title.group(1)} is waiting for you tonight"})


def _replayable(step):
    return step.model_dump(exclude={"started_at", "duration_s"})


def test_chinese_brief_gets_chinese_copy(tools):
    brief = parse_brief({**BRIEF, "language": "zh", "channels": ["sms"], "max_segments": 1,
                         "variants_per_channel": 1, "max_revisions": 1})
    model = FunctionModel(lambda req: reply_text("not json"))
    plan = Planner(PlannerTools(**{**tools.__dict__, "copy": CopyTool(model, retries=0)})).run(brief)
    assert plan.variants and all(v.source == "template" for v in plan.variants)
    # A title too long for the SMS headline leaves the fact template's body with the title alone; the rest is Chinese.
    assert all(re.search(r"[\u4e00-\u9fff]", f"{v.headline} {v.body} {v.cta}") for v in plan.variants)
    assert all(len(v.headline) + len(v.body) + len(v.cta) <= 160 for v in plan.variants)
    # Chinese headlines have no copy-effect rating: no prediction could tell a better rewrite, so none is tried.
    assert not any(v.rewrite_of for v in plan.variants)
    assert any("no copy-effect rating" in n for s in plan.trace if s.step.startswith("revise") for n in s.notes)


REWRITE_BRIEF = {**BRIEF, "channels": ["email"], "max_segments": 2, "variants_per_channel": 3, "max_revisions": 3}
INDEX = {"tonight": 1.3, "again": 1.005}  # a headline with the word gets this index (test rule), else 1.0


def rule_scorer(variants):
    """Predict as predict_effect does (base rate × headline index), the index by the test's rule on the headline."""
    out = []
    for v in variants:
        index = next((i for word, i in INDEX.items() if word in v.headline), 1.0)
        rating = HeadlineRating(headline=v.headline, index=index, low=0.9 * index, high=1.1 * index,
                                factors=[f"headline: the test rule's index {index}"])
        out.append(combine(v.variant_id, v.segment_id, v.effect, rating))
    return out


def rewriting_copywriter(rewrites):
    """First drafts '<title> is back'; a rewrite request gets '<title> <word>' for the next word of ``rewrites``."""
    calls = {"rewrites": 0}
    lock = threading.Lock()

    def respond(request: ChatRequest) -> object:
        title = re.search(r"Title: (.+)", request.messages[1].content or "")
        if title is None:
            return reply_text("?")
        headline = f"{title.group(1)} is back"
        if _is_rewrite(request):
            with lock:
                headline = f"{title.group(1)} {rewrites[calls['rewrites'] % len(rewrites)]}"
                calls["rewrites"] += 1
        return reply_json({"headline": headline, "body": f"{title.group(1)} is a film picked for you.",
                           "cta": "Watch now"})

    return FunctionModel(respond)


def _is_rewrite(request: ChatRequest) -> bool:
    """Tell a rewrite request: the first draft's prompt, the old message, then the copy-effect feedback."""
    return len(request.messages) == 4 and "The copy-effect model predicts" in (request.messages[3].content or "")


def _rewrite_plan(tools, rewrites):
    model = rewriting_copywriter(rewrites)
    writer = dataclasses.replace(tools, copy=CopyTool(model, retries=0, rewrite_retries=0),
                                 predict_effect=rule_scorer)
    requests = []
    model.chat = lambda request, chat=model.chat: requests.append(request) or chat(request)  # type: ignore[method-assign]
    return Planner(writer, concurrency=1, seed=7).run(parse_brief(REWRITE_BRIEF)), requests


def test_rewrite_keeps_only_improvements(tools):
    plan, _ = _rewrite_plan(tools, ["tonight", "again"])
    kept = [r for r in plan.revisions if r.action == "rewrite"]
    rejected = [r for r in plan.revisions if r.action == "reject-rewrite"]
    assert kept and rejected
    for r in kept:
        old, new = plan.variant(r.removed_variant), plan.variant(r.added_variant)
        assert new.rewrite_of == old.variant_id and not old.active and "tonight" in new.headline
        assert new.rate()[0] > old.rate()[0] * (1 + MIN_REWRITE_GAIN)
        assert (new.segment_id, new.channel, new.product_id, new.offer_code) == (
            old.segment_id, old.channel, old.product_id, old.offer_code)
    for r in rejected:
        if r.removed_variant is None:  # no candidate passed (here: a rewrite repeating the old headline)
            continue
        new = plan.variant(r.removed_variant)
        old = plan.variant(new.rewrite_of)
        assert not new.active and new.rate()[0] <= old.rate()[0] * (1 + MIN_REWRITE_GAIN)
    # 'again' predicts 0.5% better than 'is back': strictly better, but under the margin, so it is rejected.
    assert any("again" in plan.variant(r.removed_variant).headline for r in rejected if r.removed_variant)
    shown = [w for s in plan.trace for w in s.outputs.get("rewrites", [])]
    assert len(shown) == sum(1 for r in kept + rejected if r.added_variant or r.removed_variant)
    for w in shown:
        assert plan.variant(w["old_variant"]).headline == w["old_headline"]
        assert plan.variant(w["new_variant"]).headline == w["new_headline"]
        assert w["change"] == pytest.approx(w["new_point"] / w["old_point"] - 1, abs=1e-4)
        assert w["kept"] == any(r.added_variant == w["new_variant"] for r in kept)


def test_rewrite_prompt_holds_the_prediction_and_its_factors(tools):
    plan, requests = _rewrite_plan(tools, ["tonight"])
    rewrites = [r for r in requests if _is_rewrite(r)]
    assert rewrites
    for request in rewrites:
        old, feedback = request.messages[2].content, request.messages[3].content
        # the variant rewritten: its headline is the old message's, its prediction and factors are in the feedback
        assert any(f'"headline":"{v.headline}"' in old and f"{v.predicted.point:.4f}" in feedback
                   and all(f in feedback for f in v.predicted.factors)
                   and f"{v.predicted.headline_index:.2f}" in feedback for v in plan.variants)


def test_rewrite_rounds_stop_when_nothing_improves_and_calls_stay_bounded(tools):
    plan, requests = _rewrite_plan(tools, ["again"])
    rounds = max(r.round for r in plan.revisions)
    improved = {r.round for r in plan.revisions if r.action in ("replace", "rewrite")}
    assert not any(r.action == "rewrite" for r in plan.revisions)
    assert set(range(1, rounds)) <= improved  # every round but the last changed something …
    assert rounds == plan.brief.max_revisions or rounds not in improved  # … and the loop stopped after one that did not
    steps = [s for s in plan.trace if s.step.startswith("revise round")]
    assert len(steps) == rounds
    brief = plan.brief
    assert len(requests) <= len(plan.segments) * len(brief.channels) * brief.variants_per_channel * (1 + rounds)
    for round_no in range(1, rounds + 1):  # a cell writes at most one message per active variant each round
        for seg in plan.segments:
            tried = [v for v in plan.variants if v.round_added == round_no and v.segment_id == seg.segment_id]
            assert len(tried) <= brief.variants_per_channel * len(brief.channels)


def test_a_failed_rewrite_is_not_asked_again_in_a_later_round(tools):
    model = rewriting_copywriter(["is back", "tonight"])  # every other rewrite repeats the old headline: it fails
    writer = dataclasses.replace(tools, copy=CopyTool(model, retries=0, rewrite_retries=0), predict_effect=rule_scorer)
    asked: list[tuple[str, str]] = []

    def chat(request, chat=model.chat):
        if _is_rewrite(request):
            asked.append((request.messages[1].content or "", request.messages[2].content or ""))
        return chat(request)

    model.chat = chat  # type: ignore[method-assign]
    plan = Planner(writer, concurrency=1, seed=7).run(parse_brief(REWRITE_BRIEF))
    failed = [r for r in plan.revisions if r.action == "reject-rewrite" and r.removed_variant is None]
    assert failed and max(r.round for r in plan.revisions) > 1
    # the same prompt and seed would fail again: each old message is sent for rewriting once, in one call
    assert len(asked) == len(set(asked))
