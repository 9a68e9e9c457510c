"""Value scorer: the plan's expected positives against a baseline plan's (popular products, generic copy).

A plan's expected positives are Σ sends × the per-send rate the shop's effect tool gives the segment for the
variant's product. What that rate is depends on the shop and is named in every estimate's ``metric``:

* MovieLens (:class:`tools.effect.EffectTool`): the click model's ``p_like``, the predicted chance a customer
  rates the title ≥ 4 if shown it (a derived click proxy), 0 for customers who already rated it.
* A shop of priced orders such as retail (:class:`tools.effect.PurchaseEffect`): the expected incremental
  revenue per send, organic purchase probability × (uplift prior − 1) × order line revenue. The prior is the
  Hillstrom e-mail lift in visits, assumed to carry over to purchases, so the lift compares which products the
  plans send under that assumption. (A shop of purchases with too short a history: the observed 30-day category
  purchase rate, :class:`tools.effect.CategoryPurchaseRate`, history rather than a causal prediction.)

The baseline keeps the plan's segments, cells and sends and changes what is sent: in every
segment×channel cell, slot *j* promotes the *j*-th most popular eligible product (most distinct customers
with an event in the shop: raters on MovieLens, buyers on retail; same genre filter and same "not already
rated or bought by half the segment" rule as the agent's recommender) with generic copy. Popularity is
computed here, not taken from the recommend tool, so the baseline stays fixed while the agent's recommender
changes.

:func:`predict_plan_value` is the one place the effect tools are called.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from agent.audience_file import holdout_members, segment_members
from agent.loop import SegmentEffect
from agent.plan import CampaignPlan
from eval.scoring import ScoreResult, not_applicable
from eval.suite import LiftThreshold
from tools.effect import EffectEstimate, EffectRequest

COPY_AWARE = False
"""Whether :func:`predict_plan_value`'s effect tool reads the copy (SegmentEffect.predict does not)."""
GENERIC_COPY = {"en": ("{title}", "Now in our shop: {title}.", "Take a look"),
                "zh": ("{title}", "本店现已上架：{title}。", "立即查看")}
"""The baseline's copy (headline, body, cta) per language; shop-neutral, and read by no effect tool."""


class PlanValue(BaseModel):
    """Expected positives of a plan's launch: Σ over allocations of sends × the effect tool's per-send rate."""

    expected_positives: float
    sends: int
    per_variant: dict[str, float]
    metric: str = Field("", description="What the rate is (the estimates' ``metric``); empty when nothing is sent.")


def _estimates(effect: SegmentEffect, customer_ids: list[str], product_ids: list[str]) -> dict[str, EffectEstimate]:
    result = effect.predict(EffectRequest(customer_ids=customer_ids, product_ids=list(dict.fromkeys(product_ids))))
    return {e.product_id: e for e in result.estimates}


def _treated(plan: CampaignPlan) -> dict[str, list[str]]:
    """Each segment's treated customers (all of them when none is held out), inline or from the audience file."""
    members, held = segment_members(None, plan), holdout_members(None, plan)
    out = {}
    for segment_id, ids in members.items():
        out_of = set(held.get(segment_id, []))
        out[segment_id] = [c for c in ids if c not in out_of] or ids
    return out


def predict_plan_value(plan: CampaignPlan, effect: SegmentEffect) -> PlanValue:
    """Compute the expected positives of the plan's launch with the shop's effect tool, for its treated customers.

    Switch this function to the effect module's plan-level prediction when it exists.
    """
    if plan.launch is None:
        return PlanValue(expected_positives=0.0, sends=0, per_variant={})
    variants = {v.variant_id: v for v in plan.variants}
    treated = _treated(plan)
    per_variant: dict[str, float] = {}
    metrics: list[str] = []
    for segment in plan.segments:
        allocs = [a for a in plan.launch.allocations if a.segment_id == segment.segment_id and a.sends > 0]
        if not allocs:
            continue
        rates = _estimates(effect, treated[segment.segment_id], [variants[a.variant_id].product_id for a in allocs])
        metrics += [e.metric for e in rates.values()]
        for a in allocs:
            per_variant[a.variant_id] = a.sends * rates[variants[a.variant_id].product_id].point
    return PlanValue(expected_positives=float(sum(per_variant.values())),
                     sends=sum(a.sends for a in plan.launch.allocations), per_variant=per_variant,
                     metric=metrics[0] if metrics else "")


class PopularityBaseline:
    """Builds the baseline plan of any plan from the shop's counts of distinct customers per product.

    Args:
        interactions: The shop's events (customer_id, product_id): ratings on MovieLens, purchases on retail.
        products: The shop's products (product_id, title, genres; on retail the genres hold categories and themes).
    """

    def __init__(self, interactions: pd.DataFrame, products: pd.DataFrame) -> None:
        self.raters = interactions.groupby("product_id")["customer_id"].nunique()
        self.products = products.set_index("product_id")
        self.order = self.raters.sort_values(ascending=False, kind="stable").index.tolist()
        self.interactions = interactions[["customer_id", "product_id"]]

    def popular(self, customer_ids: list[str], genres: list[str], k: int) -> list[str]:
        """Return the ``k`` products with the most distinct customers having one of ``genres`` (any when empty).

        Products rated (or bought) by more than half of ``customer_ids`` are skipped, as the agent's recommender
        does.
        """
        seen = self.interactions[self.interactions["customer_id"].isin(customer_ids)]
        seen_by = seen.groupby("product_id")["customer_id"].nunique()
        wanted = {g.casefold() for g in genres}
        out = []
        for pid in self.order:
            if seen_by.get(pid, 0) > len(customer_ids) / 2 or pid not in self.products.index:
                continue
            if wanted and not wanted & {g.casefold() for g in self.products.at[pid, "genres"]}:
                continue
            out.append(pid)
            if len(out) == k:
                break
        return out

    def plan(self, plan: CampaignPlan, effect: SegmentEffect) -> CampaignPlan:
        """Return ``plan`` with every active variant replaced by a popular product with generic copy."""
        base = plan.model_copy(deep=True)
        genres = plan.brief.audience_filter.genres
        headline, body, cta = GENERIC_COPY[plan.brief.language]
        members, treated = segment_members(None, plan), _treated(plan)
        for segment in base.segments:
            mine = [v for v in base.active_variants() if v.segment_id == segment.segment_id]
            slots = max((sum(v.channel == c for v in mine) for c in plan.brief.channels), default=0)
            picks = self.popular(members[segment.segment_id], genres, slots)
            if not picks:
                continue
            rates = _estimates(effect, treated[segment.segment_id], picks)
            for channel in plan.brief.channels:
                for slot, v in enumerate(x for x in mine if x.channel == channel):
                    pid = picks[min(slot, len(picks) - 1)]
                    title = str(self.products.at[pid, "title"])
                    v.product_id, v.product_title, v.effect, v.source = pid, title, rates[pid], "template"
                    v.headline, v.body, v.cta = (t.format(title=title) for t in (headline, body, cta))
        return base


def score_value(plan: CampaignPlan, effect: SegmentEffect, baseline: PopularityBaseline,
                threshold: LiftThreshold) -> ScoreResult:
    """Score the relative lift of the plan's expected positives over the baseline plan's.

    Args:
        plan: The plan.
        effect: The effect tool of the plan's shop (the click model, expected incremental revenue, or observed
            category purchase rates).
        baseline: The popularity baseline of the plan's shop.
        threshold: Least relative lift.
    """
    unit = "relative lift of expected positives (sends × the effect tool's rate) over the popularity baseline"
    if plan.launch is None or plan.launch.planned_sends == 0:
        return not_applicable("value", unit, "the plan sends nothing")
    agent = predict_plan_value(plan, effect)
    base_plan = baseline.plan(plan, effect)
    base = predict_plan_value(base_plan, effect)
    if base.expected_positives <= 0:
        return not_applicable("value", unit, "the baseline plan expects no positives")
    lift = agent.expected_positives / base.expected_positives - 1.0
    stated = sum(a.expected_positive for a in plan.launch.allocations)
    rate = agent.expected_positives / max(agent.sends, 1)
    card = effect.model_card
    evidence = [
        f"agent plan: {agent.expected_positives:,.1f} expected positives from {agent.sends:,} sends "
        f"(mean rate {rate:.3f}); the plan itself states {stated:,.1f}",
        f"baseline (popular products, generic copy): {base.expected_positives:,.1f} "
        f"(mean rate {base.expected_positives / max(base.sends, 1):.3f}); lift {lift:+.1%}",
        f"rate: {agent.metric}",
    ]
    if card.get("caveat"):
        evidence.append(f"caveat of {card.get('name', 'the effect tool')}: {card['caveat']}")
    if not np.isclose(stated, agent.expected_positives, rtol=0.02, atol=1.0):
        evidence.append("note: the plan's stated positives differ from the recomputed ones by more than 2%")
    if not COPY_AWARE:
        evidence.append("the effect tool scores products for customers; copy does not change its estimate")
    products = sorted({v.product_title for v in base_plan.active_variants()})
    return ScoreResult(
        scorer="value", status="pass" if lift >= threshold.min_lift else "fail", score=round(lift, 4), unit=unit,
        threshold=f"≥ {threshold.min_lift:+.1%}", evidence=evidence,
        details={"agent": round(agent.expected_positives, 2), "baseline": round(base.expected_positives, 2),
                 "stated": round(stated, 2), "sends": agent.sends, "baseline_products": products,
                 "effect_tool": card.get("name") or card.get("model", ""), "metric": agent.metric},
    )
