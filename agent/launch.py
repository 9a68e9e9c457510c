"""Launch design: a randomised holdout per segment and an even split of sends across variants."""

from __future__ import annotations

import numpy as np

from agent.brief import Brief
from agent.plan import Allocation, CampaignPlan, LaunchDesign


def _split(total: int, parts: int) -> list[int]:
    """Split ``total`` into ``parts`` integers differing by at most one."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def apportion(budget: int, weight: dict[int, float], capacity: dict[int, int]) -> dict[int, int]:
    """Split ``budget`` sends across cells in proportion to ``weight``, never above a cell's ``capacity``.

    Largest-remainder rounding: each cell gets the whole part of its share, then the sends left over go one
    at a time to the cells with the largest fractional parts (then the largest weights) that still have room,
    so the whole budget is used whenever the cells can take it (a budget of 1 over two cells sends 1, not 0).

    Args:
        budget: Sends to allocate.
        weight: Each cell's weight (size × best predicted rate).
        capacity: Each cell's most sends (its treated customers).

    Returns:
        Sends per cell, summing to ``min(budget, sum(capacity))``.
    """
    total = sum(weight.values())
    exact = {k: budget * w / total if total > 0 else budget / len(weight) for k, w in weight.items()}
    sends = {k: min(capacity[k], int(x)) for k, x in exact.items()}
    left = min(budget, sum(capacity.values())) - sum(sends.values())
    order = sorted(exact, key=lambda k: (-(exact[k] - int(exact[k])), -weight[k]))
    while left > 0:
        for k in order:
            if left > 0 and sends[k] < capacity[k]:
                sends[k] += 1
                left -= 1
    return sends


def design_launch(brief: Brief, plan: CampaignPlan, seed: int) -> LaunchDesign:
    """Design the launch test for the plan's active variants.

    Each segment keeps ``brief.holdout_fraction`` of its customers (drawn at random) untreated, so the
    campaign's uplift can be measured against them. Each treated customer gets at most one message per
    channel. When the budget is smaller than the reachable sends, sends go to segment×channel cells in
    proportion to cell size × the best predicted rate in the cell. Within a cell, sends are split evenly
    across the variants, so the launch test can tell them apart.

    Args:
        brief: The brief (budget, channels, holdout fraction).
        plan: The plan with segments and active variants.
        seed: Seed of the holdout draw.

    Returns:
        The launch design with per-variant sends and predicted positives (sends × predicted rate).
    """
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    treated: dict[str, int] = {}
    holdout: dict[str, list[str]] = {}
    for seg in plan.segments:
        held = round(seg.size * brief.holdout_fraction)
        holdout[seg.segment_id] = sorted(rng.choice(seg.customer_ids, size=held, replace=False).tolist())
        treated[seg.segment_id] = seg.size - held
    holdout_total = sum(len(ids) for ids in holdout.values())
    cells = [(seg, ch, [v for v in plan.active_variants() if v.segment_id == seg.segment_id and v.channel == ch])
             for seg in plan.segments for ch in brief.channels]
    cells = [(seg, ch, vs) for seg, ch, vs in cells if vs]
    reachable_sends = sum(treated[seg.segment_id] for seg, _, _ in cells)
    capacity = {id(vs): treated[seg.segment_id] for seg, _, vs in cells}
    if reachable_sends <= brief.send_budget:
        sends = capacity
        if reachable_sends < brief.send_budget:
            notes.append(
                f"The budget of {brief.send_budget:,} sends exceeds what this audience can receive "
                f"({reachable_sends:,}: one message per treated customer and channel); "
                f"the plan uses {reachable_sends:,}."
            )
    else:
        weight = {id(vs): capacity[id(vs)] * max(v.rate()[0] for v in vs) for _, _, vs in cells}
        sends = apportion(brief.send_budget, weight, capacity)
        notes.append("Budget below reachable sends: cells get sends in proportion to size × best predicted rate "
                     "(largest remainders get the sends left over, so the whole budget is used).")
    allocations = []
    for seg, channel, variants in cells:
        for variant, n in zip(variants, _split(sends[id(variants)], len(variants)), strict=True):
            point, low, high = variant.rate()
            allocations.append(Allocation(
                segment_id=seg.segment_id, channel=channel, variant_id=variant.variant_id, sends=n,
                expected_positive=round(n * point, 2), expected_low=round(n * low, 2), expected_high=round(n * high, 2),
            ))
    notes.append(
        f"Holdout: {brief.holdout_fraction:.0%} of each segment ({holdout_total} customers) receive nothing; "
        f"compare them with treated customers to measure uplift. Sends are split evenly across variants."
    )
    return LaunchDesign(
        send_budget=brief.send_budget, reachable_customers=sum(s.size for s in plan.segments),
        holdout_customers=holdout_total, holdout_ids=holdout, holdout_fraction=brief.holdout_fraction,
        planned_sends=sum(a.sends for a in allocations), allocations=allocations, notes=notes,
    )
