"""Helpers for scorer tests: copies of real plans with one thing changed."""

from __future__ import annotations

from agent.audience_file import segment_members
from agent.loop import SegmentEffect
from agent.plan import CampaignPlan
from eval.value import PopularityBaseline
from tools.effect import EffectRequest


def edited(plan: CampaignPlan) -> CampaignPlan:
    """Return a deep copy of ``plan`` to change."""
    return plan.model_copy(deep=True)


def with_products(plan: CampaignPlan, effect: SegmentEffect, baseline: PopularityBaseline, best: bool) -> CampaignPlan:
    """Give every variant its segment's best (or worst) estimated product among 60 popular eligible products."""
    out = edited(plan)
    members = segment_members(None, out)  # inline, or the plan's audience file
    for segment in out.segments:
        customers = members[segment.segment_id]
        candidates = baseline.popular(customers, out.brief.audience_filter.genres, 60)
        estimates = effect.predict(EffectRequest(customer_ids=customers, product_ids=candidates)).estimates
        pick = (max if best else min)(estimates, key=lambda e: e.point)
        for v in out.active_variants():
            if v.segment_id == segment.segment_id:
                v.product_id, v.effect = pick.product_id, pick
    return out
