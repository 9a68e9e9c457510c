"""The plan loop: retrieve → segment → score products → predict → choose → write copy → revise → launch design.

Every number in the returned plan comes from a tool output recorded in the trace. The loop revises the
copy variants against the effect model's predictions: each round swaps the weakest variant of a segment and
channel for an unused product that beats it, and rewrites the weakest third of its variants with their predicted
effect and its factors in the prompt, keeping a rewrite only when its prediction is at least
:data:`MIN_REWRITE_GAIN` better. It stops when a round neither swaps nor improves a message, or after
``brief.max_revisions`` rounds.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from agent.audience_file import write_audience_file
from agent.brief import Brief, check_offer
from agent.candidates import POOL_SIZE, distinct_tolerance, is_rating_metric, rank_by_effect, shortlist
from agent.launch import design_launch, send_list
from agent.offers import campaign_offers
from agent.plan import (
    AudienceSummary,
    CampaignPlan,
    CopyVariant,
    PlanWarning,
    Revision,
    RunTotals,
    Segment,
)
from agent.plan_guard import PlanGuard, guarded_copy_tool, run_guarded
from agent.segments import form_segments
from agent.strategy import (
    Intent,
    StrategyRun,
    brief_intent,
    copy_request,
    featured_order,
    focus_on_intent,
    shop_vocabulary,
    strategy_options,
)
from agent.trace import StepListener, TraceRecorder, TraceStep
from tools.audience import AudienceQuery, AudienceTable, ProfilesTool
from tools.copywriting import (
    Channel,
    CopyRequest,
    CopyResult,
    CopyTool,
    CopyUnavailableError,
    RewriteError,
    RewriteFeedback,
)
from tools.effect import EffectEstimate, EffectRequest, EffectResult, PurchaseEffect, VariantEffect
from tools.recommend import RecommendRequest, RecommendTool, ScoredProduct
from tools.scoring import BatchScorer, LocalScorer, score_propensity, score_recommendations
from tools.shop import Shop, ShopDataError


class VariantScorer(Protocol):
    """:func:`tools.effect.predict_effect` with its headline model and settings bound."""

    def __call__(self, variants: Sequence[CopyVariant]) -> list[VariantEffect]:
        """Predict the effect of ``variants``."""
        ...

log = logging.getLogger(__name__)

RECOMMEND_K = 100
"""Products per customer read from the recommender when choosing each customer's variant on a shop without the
purchase model (a product outside a customer's top ones ranks after those inside)."""
EXTRA_CANDIDATES = 3
MIN_GAIN = 0.005  # a candidate must beat a variant's predicted p_like by this much to replace it
MIN_RELATIVE_GAIN = 0.05  # … or, on observed purchase rates (0.1–10%), by this share of the variant's rate
REWRITE_SHARE = 3
"""Each round rewrites the weakest third of a segment × channel's active variants (at least one), leaving out the
variant a product swap was tried on that round, so a round writes at most one message per active variant."""
MIN_REWRITE_GAIN = 0.01
"""A rewrite is kept when its predicted response per send beats the old message's by at least 1% (relative; both
share the segment × product base rate, so this is a 1% better headline index)."""
_PREDICTING = threading.Lock()  # the headline model's embedding cache is one file: one rating at a time
STEPS = ("retrieve audience", "form segments", "score products", "predict effect of candidates", "choose products",
         "write copy", "predict effect of variants", "design launch")
"""The steps of a plan besides its revision rounds (which run between the last two), in trace order."""


def expected_steps(brief: Brief, revision_rounds: int | None = None) -> int:
    """Steps :meth:`Planner.run` records in the trace for ``brief``.

    Args:
        brief: The brief.
        revision_rounds: Revision rounds run. None: ``brief.max_revisions``, the most the loop runs, which
            makes the count an upper bound before the run (revision may stop early, and an audience that
            matches nobody ends after its first step).
    """
    return len(STEPS) + (brief.max_revisions if revision_rounds is None else revision_rounds)


class SegmentEffect(Protocol):
    """An effect tool: a segment's expected response to each product (the click model, or observed purchase rates)."""

    @property
    def model_card(self) -> dict[str, Any]:
        """What the estimates are and the data behind them."""
        ...

    def predict(self, req: EffectRequest) -> EffectResult:
        """Estimate the group's response to each product."""
        ...


@dataclass
class PlannerTools:
    """The tools the loop uses for one shop, injected (real ones in the CLI, scripted LLM in tests)."""

    shop: Shop
    profiles: ProfilesTool
    recommend: RecommendTool
    effect: SegmentEffect
    copy: CopyTool
    predict_effect: VariantScorer
    scorer: BatchScorer | None = None
    """Batch scoring of every customer (local or Ray: ``tools.scoring.scorer_from_settings``); None: in this process."""
    audience_dir: Path | None = None
    """Where plans' audience files are written (``agent.audience_file.audience_dir``); None: members kept inline
    in the plan JSON, as earlier releases did."""

    def for_shop(self, name: str | None) -> PlannerTools:
        """Return these tools when ``name`` is their shop (None: whatever shop they have).

        Raises:
            ShopDataError: ``name`` is another shop (a :class:`ToolSource` can serve several).
        """
        if name is not None and name != self.shop.name:
            raise ShopDataError(f"these tools plan for shop {self.shop.name!r}, not {name!r}")
        return self

    def ready(self, name: str) -> bool:
        """Tell whether the tools of shop ``name`` are loaded (here: whether it is this shop)."""
        return name == self.shop.name


class ToolSource(Protocol):
    """Gives the tools of a shop by name (None: the default shop): one :class:`PlannerTools`, or a cache of them."""

    def for_shop(self, name: str | None) -> PlannerTools:
        """Return the tools of shop ``name``."""
        ...

    def ready(self, name: str) -> bool:
        """Tell whether the tools of shop ``name`` are loaded (a plan for it starts without loading them)."""
        ...


@dataclass
class _Run:
    """The state of one :meth:`Planner.run` call, so one planner can run several briefs at once."""

    brief: Brief
    plan: CampaignPlan
    trace: TraceRecorder
    tools: PlannerTools
    guard: PlanGuard = dataclasses.field(default_factory=PlanGuard)
    rewrites_failed: set[str] = dataclasses.field(default_factory=set)
    """Variants no rewrite of passed: the same prompt and seed would fail again, so later rounds skip them."""

    def skip(self, step: TraceStep, segment_id: str, channel: Channel, product_id: str, why: str) -> None:
        """Record that no message about ``product_id`` fits ``channel`` for the segment (a note and a warning)."""
        message = f"{segment_id}/{channel}: skipped: {why}"
        step.notes.append(message)
        self.plan.warnings.append(PlanWarning(kind="skipped_message", message=message, segment_id=segment_id,
                                              channel=channel, product_id=product_id))

    def skipped(self, segment_id: str, channel: Channel) -> set[str]:
        """Products skipped so far for the segment and channel."""
        return {w.product_id for w in self.plan.warnings if w.kind == "skipped_message" and w.product_id
                and w.segment_id == segment_id and w.channel == channel}


class Planner:
    """Runs the plan loop, one brief per :meth:`run` call.

    The planner keeps no state between or during runs (each run has its own), so one planner may run
    several briefs at once from different threads.

    Args:
        tools: The injected tools: one shop's, or a source of every shop's (each brief names its shop).
        concurrency: Parallel copy requests sent to the LLM (per run).
        seed: Seed for segmentation and the holdout draw.
        on_event: Told when each step of every run starts and ends.
    """

    def __init__(self, tools: ToolSource, concurrency: int = 8, seed: int = 42,
                 on_event: StepListener | None = None) -> None:
        self.tools = tools
        self.concurrency = concurrency
        self.seed = seed
        self.on_event = on_event

    def run(self, brief: Brief) -> CampaignPlan:
        """Produce a campaign plan for ``brief``; its trace has at most :func:`expected_steps` steps."""
        started = time.perf_counter()
        guard = PlanGuard.current() or PlanGuard()  # the API's job cancels it or sets an LLM time budget
        tools = self.tools.for_shop(brief.shop)
        tools = dataclasses.replace(tools, copy=guarded_copy_tool(tools.copy, guard))
        if brief.offer is not None:  # callers check it first; a brief queued for a shop not loaded then is checked here
            check_offer(brief.offer, tools.shop.products)
        plan = CampaignPlan(
            plan_id=uuid.uuid4().hex[:12], created_at=datetime.now(UTC), brief=brief, shop=tools.shop.name,
            currency=tools.shop.currency, llm_model=tools.copy.model.name,
            audience=AudienceSummary(query=brief.audience, filter_used={}, size=0),
            effect_model_card=tools.effect.model_card,
            assumptions=[a for a in [tools.effect.model_card.get("assumption")] if isinstance(a, str)],
        )
        run = _Run(brief, plan, TraceRecorder(self.on_event), tools, guard)
        trace = run.trace
        audience = self._retrieve(run)
        if audience.customer_ids:
            plan.segments = self._segment(run, audience)
            pools = self._score_products(run, plan.segments)
            self._choose(run, pools, self._predict(run, plan.segments, pools))
            self._first_drafts(run)
            self._revise(run)
            with trace.step("design launch", "launch design", {"send_budget": brief.send_budget}) as step:
                plan.launch = design_launch(brief, plan, self.seed)
                self._send_list(run)
                unsent = [a.variant_id for a in plan.launch.allocations if a.sends == 0]
                if unsent:
                    plan.warnings.append(PlanWarning(kind="unsent_variants", variant_ids=unsent, message=(
                        f"{'The plan sends nothing: a' if plan.launch.planned_sends == 0 else 'A'} budget of "
                        f"{brief.send_budget} sends leaves {len(unsent)} of {len(plan.launch.allocations)} variants "
                        f"unsent ({', '.join(unsent)}); raise the budget or reduce channels and variants."
                    )))
                step.outputs = {"planned_sends": plan.launch.planned_sends,
                                "holdout_customers": plan.launch.holdout_customers, "notes": plan.launch.notes}
        for seg in plan.segments:  # the sample served the estimates; a plan keeps counts, as its JSON does
            seg.sample_ids = []
        plan.trace = trace.steps
        plan.totals = self._totals(plan, trace, time.perf_counter() - started)
        return plan

    def _retrieve(self, run: _Run) -> AudienceTable:
        brief, plan = run.brief, run.plan
        query = AudienceQuery(text=brief.audience, filter=brief.audience_filter)
        inputs = {**query.model_dump(exclude={"limit"}), "all_matches": True}
        with run.trace.step("retrieve audience", "profiles.retrieve_all", inputs) as step:
            result = run.tools.profiles.retrieve_all(query)  # every matching customer: the budget limits sends
            step.outputs = {"matched": len(result.customer_ids), "where": result.where, "message": result.message,
                            "top": result.top(5)}
        plan.audience = AudienceSummary(
            query=result.query_text, filter_used=result.filter_used.model_dump(), where=result.where,
            size=len(result.customer_ids), message=result.message,
        )
        if not result.customer_ids:
            plan.status = "empty"
            plan.warnings.append(PlanWarning(
                kind="empty_audience", message=f"No customer matches this audience. {result.message}".strip()))
        return result

    def _segment(self, run: _Run, audience: AudienceTable) -> list[Segment]:
        brief, ids = run.brief, audience.customer_ids
        with run.trace.step("form segments", "k-means on portrait features",
                            {"customers": len(ids), "max_segments": brief.max_segments}) as step:
            segments = form_segments(ids, audience.metadata, run.tools.shop, brief.max_segments, self.seed)
            step.outputs = {"segments": [{"id": s.segment_id, "name": s.name, "size": s.size} for s in segments]}
        return segments

    def _send_list(self, run: _Run) -> None:
        """Choose each treated customer's variant by batch scoring; write the audience file and drop inline ids.

        Runs inside the launch step. Without an audience folder the plan keeps its members inline and no
        per-customer choice is recorded (earlier releases' plans).
        """
        plan, directory = run.plan, run.tools.audience_dir
        if directory is None or plan.launch is None:
            return
        held = {c for ids in plan.launch.holdout_ids.values() for c in ids}
        treated = [c for s in plan.segments for c in s.customer_ids if c not in held]
        products = sorted({v.product_id for v in plan.active_variants()})
        scores, chosen_by = self._customer_scores(run, treated, products)
        members = {s.segment_id: s.customer_ids for s in plan.segments}
        table = send_list(run.brief, plan, members, plan.launch.holdout_ids, scores, self.seed)
        plan.audience_file = write_audience_file(directory, plan, table, chosen_by)
        for seg in plan.segments:
            seg.customer_ids = []
        plan.launch.holdout_ids = {}

    @staticmethod
    def _customer_scores(run: _Run, customers: list[str], products: list[str]) -> tuple[pd.DataFrame, str]:
        """Every customer's score of each product (index customer_id, a column per product), and what it is."""
        scorer = run.tools.scorer or LocalScorer()
        effect = run.tools.effect
        if not customers or not products:
            return pd.DataFrame(columns=products), "no customer or product to score"
        if isinstance(effect, PurchaseEffect):
            known = [c for c, r in zip(customers, effect.customer_ids.get_indexer(customers), strict=True) if r >= 0]
            return (score_propensity(scorer, effect, products, known),
                    f"propensity ({scorer.name}): P(buys the variant's product in 30 days), purchase ranker")
        tool = run.tools.recommend
        known = [c for c, r in zip(customers, tool.matrix.rows(customers), strict=True) if r >= 0]
        recs = score_recommendations(scorer, tool, RECOMMEND_K, known) if known else pd.DataFrame(
            columns=["customer_id", "product_id", "score"])
        recs = recs[recs["product_id"].isin(products)]
        table = recs.pivot_table(index="customer_id", columns="product_id", values="score", aggfunc="max")
        return (table.reindex(columns=products),
                f"recommendation score ({scorer.name}, {tool.method}) among each customer's top {RECOMMEND_K}")

    @staticmethod
    def _score_products(run: _Run, segments: list[Segment]) -> dict[str, list[ScoredProduct]]:
        brief = run.brief
        # A film rated is seen; a product bought is often bought again (many retail customers are wholesalers
        # restocking the same lines), so a shop of purchases keeps what the segment already buys.
        exclude_seen = run.tools.shop.has_ratings
        with run.trace.step("score products", f"recommend ({run.tools.recommend.method})",
                            {"k": POOL_SIZE, "genres": brief.audience_filter.genres,
                             "exclude_seen": exclude_seen}) as step:
            pools = {s.segment_id: run.tools.recommend.score(RecommendRequest(
                customer_ids=s.planning_ids(), k=POOL_SIZE, genres=brief.audience_filter.genres,
                exclude_seen=exclude_seen)).products
                for s in segments}
            step.outputs = {sid: [{"product_id": p.product_id, "title": p.title, "score": round(p.score, 4),
                                   "reason": p.reason} for p in pool] for sid, pool in pools.items()}
        return pools

    @staticmethod
    def _predict(run: _Run, segments: list[Segment], pools: dict[str, list[ScoredProduct]]
                 ) -> dict[str, list[EffectEstimate]]:
        with run.trace.step("predict effect of candidates", "effect.predict",
                            {"pairs": sum(len(p) for p in pools.values())}) as step:
            effects = {s.segment_id: run.tools.effect.predict(EffectRequest(
                customer_ids=s.planning_ids(), product_ids=[p.product_id for p in pools[s.segment_id]],
                sample_of=s.sampled_from())).estimates
                if pools[s.segment_id] else [] for s in segments}
            step.outputs = {sid: [e.model_dump(include={"product_id", "point", "low", "high"}) for e in estimates]
                            for sid, estimates in effects.items()}
        return effects

    def _choose(self, run: _Run, pools: dict[str, list[ScoredProduct]],
                effects: dict[str, list[EffectEstimate]]) -> None:
        """Choose each segment's strategy: its featured products (the intent's when the brief names one), angle, offer.

        The candidates are the pool ranked by predicted effect, restricted to the brief's named genre, category or
        theme (a segment whose pool has too few of them gets a pool searched within it); the LLM proposes among
        them for ``brief.strategy_rounds`` rounds with the predictions of its earlier proposals as feedback
        (:mod:`agent.strategy`), and the winner's products come first in the segment's products; an LLM winner's
        angle and offer are also those of the segment's copy (:meth:`_write`).
        """
        brief, segments, tools = run.brief, run.plan.segments, run.tools
        k = brief.variants_per_channel + EXTRA_CANDIDATES
        intent = brief_intent(brief, shop_vocabulary(tools.shop))
        tool = "LLM strategy proposals scored by the effect models" if brief.strategy_rounds else \
            "rank candidates by predicted effect"
        with run.trace.step("choose products", tool, {"k": k, "intent": intent.words,
                                                      "strategy_rounds": brief.strategy_rounds}) as step:
            searched = self._intent_pools(run, intent, pools, effects, k)
            ranked = {s.segment_id: rank_by_effect(pools[s.segment_id], effects[s.segment_id]) for s in segments}
            ranked, intent_notes = focus_on_intent(ranked, intent, brief.variants_per_channel)
            tolerance = distinct_tolerance(ranked)
            kept, step.notes = shortlist(ranked, brief.variants_per_channel, k, tolerance)
            options = [strategy_options(seg, kept[seg.segment_id], brief, tools.shop, intent,
                                        intent_notes.get(seg.segment_id)) for seg in segments]
            strategy = StrategyRun(brief, tools.shop, tools.copy.model, tools.predict_effect, run.guard,
                                   self.concurrency, tools.copy.seed, tools.copy.temperature)
            records = strategy.propose(options)
            step.llm_calls, step.prompt_tokens = strategy.llm_calls, strategy.usage.prompt_tokens
            step.completion_tokens = strategy.usage.completion_tokens
            for seg, opts in zip(segments, options, strict=True):
                chosen = featured_order(opts, records[seg.segment_id])
                seg.products = [c.explained(len(pools[seg.segment_id])) for c in chosen]
                seg.product_effects = [c.effect for c in chosen]
                seg.strategy = records[seg.segment_id]
                if seg.strategy.intent_note:
                    step.notes.append(f"{seg.segment_id}: {seg.strategy.intent_note}")
            step.outputs = {s.segment_id: {
                "products": [{"product_id": p.product_id, "title": p.title, "reason": p.reason} for p in s.products],
                "strategy": s.strategy.model_dump(include={"winner", "reason", "rounds", "intent", "proposals"})
                if s.strategy else None} for s in segments}
            if searched:
                step.outputs["intent_search"] = searched

    @staticmethod
    def _intent_pools(run: _Run, intent: Intent, pools: dict[str, list[ScoredProduct]],
                      effects: dict[str, list[EffectEstimate]], k: int) -> dict[str, int]:
        """Add products of the intent to pools holding fewer than ``k`` of them: a search within it, predicted.

        Returns the products added per segment (recorded in the trace).
        """
        added: dict[str, int] = {}
        if not intent:
            return added
        for seg in run.plan.segments:
            pool = pools[seg.segment_id]
            if sum(intent.matches(p.genres) for p in pool) >= k:
                continue
            have = {p.product_id for p in pool}
            try:
                found = run.tools.recommend.score(RecommendRequest(
                    customer_ids=seg.planning_ids(), k=POOL_SIZE, genres=intent.terms,
                    exclude_seen=run.tools.shop.has_ratings)).products
            except ValueError as exc:  # the recommender's catalog has no such category (e.g. an imported shop)
                log.info("no search within the intent for %s: %s", seg.segment_id, exc)
                found = []
            extra = [p for p in found if p.product_id not in have]
            if extra:
                pools[seg.segment_id] = [*pool, *extra]
                effects[seg.segment_id] = [*effects[seg.segment_id], *run.tools.effect.predict(EffectRequest(
                    customer_ids=seg.planning_ids(), product_ids=[p.product_id for p in extra],
                    sample_of=seg.sampled_from())).estimates]
            added[seg.segment_id] = len(extra)
        return added

    def _write(self, run: _Run, jobs: list[tuple[Segment, Channel, ScoredProduct]], step: TraceStep,
               round_no: int, start_index: int, rewrite_of: Sequence[CopyVariant] | None = None,
               failed: dict[str, RewriteError] | None = None) -> list[CopyVariant]:
        """Write a message per job; with ``rewrite_of`` (one old variant per job) rewrite those with feedback.

        A rewrite that no candidate passed gives no variant; its error goes to ``failed`` by the old variant's id.
        A segment whose strategy an LLM proposal won writes on its angle and states only its offer (none: no offer);
        see :func:`agent.strategy.copy_request`.
        """
        offers = campaign_offers(run.tools.shop, run.brief)
        requests = [copy_request(run.brief, run.tools.shop, seg, p, channel, offers) for seg, channel, p in jobs]
        # Returns as soon as the run is cancelled or out of LLM budget: calls in flight are not waited for.
        olds: Sequence[CopyVariant | None] = [None] * len(jobs) if rewrite_of is None else rewrite_of
        results: Sequence[CopyResult | CopyUnavailableError | RewriteError] = (
            run_guarded(functools.partial(self._write_one, run.tools.copy), requests, self.concurrency, run.guard)
            if rewrite_of is None else
            run_guarded(functools.partial(self._rewrite_one, run.tools.copy, run.tools.predict_effect),
                        list(zip(requests, rewrite_of, strict=True)), self.concurrency, run.guard))
        variants: list[CopyVariant] = []
        for (seg, channel, product), request, result, old in zip(jobs, requests, results, olds, strict=True):
            if isinstance(result, RewriteError):
                step.llm_calls += result.attempts
                step.prompt_tokens += result.prompt_tokens
                step.completion_tokens += result.completion_tokens
                step.notes.append(f"{seg.segment_id}/{channel}: no rewrite of {old.variant_id if old else '?'} "
                                  f"passed: {result}")
                if failed is not None and old is not None:
                    failed[old.variant_id] = result
                continue
            if isinstance(result, CopyUnavailableError):
                run.skip(step, seg.segment_id, channel, product.product_id, str(result))
                continue
            step.llm_calls += result.attempts
            step.prompt_tokens += result.prompt_tokens
            step.completion_tokens += result.completion_tokens
            fact = request.product
            stated = next((o for o in fact.offers if o.code.casefold() in result.text.casefold()), None)
            variants.append(CopyVariant(
                variant_id=f"V{start_index + len(variants) + 1}", segment_id=seg.segment_id, channel=channel,
                language=run.brief.language, product_id=product.product_id, product_title=product.title,
                product_price=fact.price, offer_code=stated.code if stated else None,
                price_after_offer=stated.price_after(fact.price) if stated and fact.price is not None else None,
                headline=result.headline, body=result.body, cta=result.cta, disclaimer=result.disclaimer,
                source=result.source, llm_attempts=result.attempts, llm_errors=result.errors,
                effect=_effect_of(seg, product.product_id), round_added=round_no,
                rewrite_of=old.variant_id if old is not None else None,
            ))
        step.outputs.update({v.variant_id: {"segment": v.segment_id, "channel": v.channel, "product": v.product_title,
                                            "source": v.source, "headline": v.headline, "base_rate": v.effect.point}
                             for v in variants})
        return variants

    @staticmethod
    def _write_one(copy: CopyTool, request: CopyRequest) -> CopyResult | CopyUnavailableError:
        try:
            return copy.write(request)
        except CopyUnavailableError as exc:
            return exc

    @staticmethod
    def _rewrite_one(copy: CopyTool, predict: VariantScorer, item: tuple[CopyRequest, CopyVariant]
                     ) -> CopyResult | RewriteError:
        """Rewrite one variant with its prediction as feedback, choosing among the candidates by their prediction."""
        request, old = item
        assert old.predicted is not None  # targets are predicted variants
        feedback = RewriteFeedback(headline=old.headline, body=old.body, cta=old.cta,
                                   **old.predicted.model_dump(include=set(RewriteFeedback.model_fields)
                                                              - {"headline", "body", "cta"}))

        def predicted(draft: Any) -> float:
            with _PREDICTING:
                return predict([old.model_copy(update={"headline": draft.headline})])[0].point

        try:
            return copy.rewrite(request, feedback, rank=predicted)
        except RewriteError as exc:
            return exc

    def _first_drafts(self, run: _Run) -> None:
        brief, plan = run.brief, run.plan
        jobs = [(seg, channel, product) for seg in plan.segments for channel in brief.channels
                for product in seg.products[: brief.variants_per_channel]]
        with run.trace.step("write copy", f"copy ({plan.llm_model})", {"messages": len(jobs)}) as step:
            plan.variants = self._write(run, jobs, step, 0, 0)
        with run.trace.step("predict effect of variants", "predict_effect",
                            {"variants": len(plan.variants)}) as step:
            self._predict_variants(run, plan.variants, step)

    @staticmethod
    def _predict_variants(run: _Run, variants: list[CopyVariant], step: TraceStep) -> None:
        for variant, effect in zip(variants, run.tools.predict_effect(variants), strict=True):
            variant.predicted = effect
        step.outputs.setdefault("predicted", {}).update({
            v.variant_id: v.predicted.model_dump(include={"point", "low", "high", "p_like", "headline_index"})
            for v in variants if v.predicted is not None
        })

    def _revise(self, run: _Run) -> None:
        plan = run.plan
        for round_no in range(1, run.brief.max_revisions + 1):
            with run.trace.step(f"revise round {round_no}", "revise against predicted effect",
                                {"active_variants": len(plan.active_variants())}) as step:
                jobs, decisions = self._revision_jobs(run, round_no)
                new = self._write(run, [(s, c, p) for s, c, p, _ in jobs], step, round_no, len(plan.variants))
                self._predict_variants(run, new, step)
                replaced = {(s.segment_id, c, p.product_id): old for s, c, p, old in jobs}
                for variant in new:
                    old = replaced[(variant.segment_id, variant.channel, variant.product_id)]
                    new_rate, old_rate = variant.rate(), old.rate()
                    better = new_rate[0] > old_rate[0]
                    (old if better else variant).active = False
                    decisions.append(Revision(
                        round=round_no, segment_id=variant.segment_id, channel=variant.channel,
                        action="replace" if better else "reject",
                        removed_variant=old.variant_id if better else variant.variant_id,
                        added_variant=variant.variant_id if better else None,
                        reason=f"new message for {variant.product_title} predicted at {new_rate[0]:.3f} "
                               f"[{new_rate[1]:.3f}, {new_rate[2]:.3f}] against {old_rate[0]:.3f} for "
                               f"{old.variant_id} ({old.product_title}): "
                               + ("replaced" if better else "kept the old message"),
                    ))
                plan.variants.extend(new)
                decisions += self._rewrite(run, round_no, step, {old.variant_id for *_, old in jobs})
                plan.revisions.extend(decisions)
                step.outputs["decisions"] = [d.model_dump(exclude={"round"}) for d in decisions]
            if not jobs and not any(d.action == "rewrite" for d in decisions):
                step.notes.append("stopped: no unused candidate beats an active variant and no rewrite improved")
                break

    def _rewrite(self, run: _Run, round_no: int, step: TraceStep, swapped: set[str]) -> list[Revision]:
        """Rewrite the round's weakest variants with their prediction as feedback; keep a rewrite that predicts better.

        A rewrite is kept when its predicted response per send beats the old message's by :data:`MIN_REWRITE_GAIN`
        (relative); the old message is then inactive, else the rewrite is. Each rewrite's old and new headline and
        predicted change are in the step's ``rewrites`` output.
        """
        plan = run.plan
        targets = self._rewrite_targets(run, round_no, step, swapped)
        if not targets:
            return []
        jobs = [(seg, old.channel, next(p for p in seg.products if p.product_id == old.product_id))
                for seg, old in targets]
        failed: dict[str, RewriteError] = {}
        new = self._write(run, jobs, step, round_no, len(plan.variants), [old for _, old in targets], failed)
        run.rewrites_failed |= failed.keys()
        self._predict_variants(run, new, step)
        by_old = {v.rewrite_of: v for v in new}
        decisions, shown = [], []
        for seg, old in targets:
            variant = by_old.get(old.variant_id)
            if variant is None:
                decisions.append(Revision(
                    round=round_no, segment_id=seg.segment_id, channel=old.channel, action="reject-rewrite",
                    reason=f"no rewrite of {old.variant_id} passed the schema, grounding and quality floor in "
                           f"{failed[old.variant_id].attempts if old.variant_id in failed else 0} LLM call(s): kept "
                           "the old message"))
                continue
            new_rate, old_rate = variant.rate()[0], old.rate()[0]
            better = new_rate > old_rate * (1 + MIN_REWRITE_GAIN)
            (old if better else variant).active = False
            change = new_rate / old_rate - 1 if old_rate > 0 else 0.0
            new_index = variant.predicted.headline_index if variant.predicted else 1.0
            old_index = old.predicted.headline_index if old.predicted else 1.0
            decisions.append(Revision(
                round=round_no, segment_id=seg.segment_id, channel=old.channel,
                action="rewrite" if better else "reject-rewrite",
                removed_variant=old.variant_id if better else variant.variant_id,
                added_variant=variant.variant_id if better else None,
                reason=f"rewrite of {old.variant_id} ({old.product_title}) with its prediction as feedback: headline "
                       f"{old.headline!r} -> {variant.headline!r}, predicted {old_rate:.4f} -> {new_rate:.4f} "
                       f"({change:+.1%}; headline index {old_index:.2f} -> {new_index:.2f}): "
                       + ("kept the rewrite" if better else
                          f"kept the old message (a rewrite must predict at least {MIN_REWRITE_GAIN:.0%} better)"),
            ))
            shown.append({"old_variant": old.variant_id, "new_variant": variant.variant_id,
                          "old_headline": old.headline, "new_headline": variant.headline,
                          "old_point": old_rate, "new_point": new_rate, "change": round(change, 4), "kept": better})
        plan.variants.extend(new)
        step.outputs["rewrites"] = shown
        return decisions

    @staticmethod
    def _rewrite_targets(run: _Run, round_no: int, step: TraceStep, swapped: set[str]
                         ) -> list[tuple[Segment, CopyVariant]]:
        """Choose the round's rewrites: the weakest third of each segment × channel's active variants (at least one).

        Left out: a variant written this round, one rewritten before (kept or not, or failed: the same prompt and
        seed would give the same drafts), and one a product swap was tried on this round (``swapped``: the cell
        then rewrites at most its other variants).
        """
        tried = {v.rewrite_of for v in run.plan.variants if v.rewrite_of} | run.rewrites_failed
        targets: list[tuple[Segment, CopyVariant]] = []
        unrated = 0
        for seg in run.plan.segments:
            products = {p.product_id for p in seg.products}
            for channel in run.brief.channels:
                active = [v for v in run.plan.active_variants() if v.segment_id == seg.segment_id
                          and v.channel == channel]
                count = max(1, len(active) // REWRITE_SHARE)
                eligible = []
                for v in sorted(active, key=lambda v: v.rate()[0]):
                    if v.round_added == round_no or v.variant_id in tried | swapped or v.predicted is None \
                            or v.product_id not in products:
                        continue
                    if v.predicted.headline_index_low == v.predicted.headline_index_high:
                        unrated += 1  # a headline without a rating (no model for its language) cannot improve
                        continue
                    eligible.append(v)
                targets += [(seg, v) for v in eligible[:count]]
        if unrated:
            step.notes.append(f"{unrated} variant(s) not rewritten: their headline has no copy-effect rating (its "
                              "language has no headline model), so no prediction can tell a better one")
        return targets

    @staticmethod
    def _revision_jobs(run: _Run, round_no: int
                       ) -> tuple[list[tuple[Segment, Channel, ScoredProduct, CopyVariant]], list[Revision]]:
        brief, plan = run.brief, run.plan
        jobs: list[tuple[Segment, Channel, ScoredProduct, CopyVariant]] = []
        decisions: list[Revision] = []
        for seg in plan.segments:
            for channel in brief.channels:
                active = [v for v in plan.active_variants() if v.segment_id == seg.segment_id and v.channel == channel]
                used = {v.product_id for v in plan.variants if v.segment_id == seg.segment_id and v.channel == channel}
                used |= run.skipped(seg.segment_id, channel)
                # Another segment's active product stays theirs: revision keeps segments on different products.
                used |= {v.product_id for v in plan.active_variants() if v.segment_id != seg.segment_id}
                unused = sorted((p for p in seg.products if p.product_id not in used),
                                key=lambda p: -_effect_of(seg, p.product_id).point)
                # An unwritten message is assumed average (headline index 1.0): its rate is the product's base rate.
                worst = min(active, key=lambda v: v.rate()[0], default=None)
                gain = MIN_GAIN if worst is None or is_rating_metric(worst.effect.metric) else (
                    MIN_RELATIVE_GAIN * worst.rate()[0])
                if worst and unused and _effect_of(seg, unused[0].product_id).point > worst.rate()[0] + gain:
                    jobs.append((seg, channel, unused[0], worst))
                elif worst:
                    best = f"{_effect_of(seg, unused[0].product_id).point:.4f}" if unused else "none left"
                    decisions.append(Revision(
                        round=round_no, segment_id=seg.segment_id, channel=channel, action="keep",
                        reason=f"weakest variant {worst.variant_id} predicted at {worst.rate()[0]:.4f}; "
                               f"best unused candidate (base rate, average headline): {best} (needs +{gain:.4f})",
                    ))
        return jobs, decisions

    @staticmethod
    def _totals(plan: CampaignPlan, trace: TraceRecorder, wall: float) -> RunTotals:
        return RunTotals(
            wall_time_s=round(wall, 3), llm_time_s=trace.time_where(llm=True), other_time_s=trace.time_where(llm=False),
            llm_calls=trace.llm_calls, prompt_tokens=sum(s.prompt_tokens for s in trace.steps),
            completion_tokens=sum(s.completion_tokens for s in trace.steps),
            copy_from_llm=sum(v.source == "llm" for v in plan.variants),
            copy_from_template=sum(v.source == "template" for v in plan.variants),
        )


def _effect_of(segment: Segment, product_id: str) -> EffectEstimate:
    for estimate in segment.product_effects:
        if estimate.product_id == product_id:
            return estimate
    raise KeyError(f"no effect estimate for product {product_id} in segment {segment.segment_id}")
