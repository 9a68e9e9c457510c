"""Launch design: a randomised holdout per segment, an even split of sends across variants, what it can measure.

What it can measure: the minimum detectable lift of each variant against its holdout, and the sizing of the
holdout and the number of variants for a target lift.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from agent.brief import Brief
from agent.plan import Allocation, CampaignPlan, CampaignValue, CopyVariant, LaunchDesign
from tools.outcomes import ArmPower, CellSizing, LaunchPower, minimum_detectable_lift, size_test


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


def _rates(variant: CopyVariant) -> tuple[float, float | None] | None:
    """The predicted rate of the variant's segment without a send, and the predicted lift of the send.

    On a shop of orders the effect carries its send value (organic buyers and the buyers a send adds, from the
    shop's purchase model and the uplift prior): the baseline is organic buyers per customer and the lift is the
    added buyers per customer. Otherwise the effect model predicts only the response per send: that rate is the
    baseline of the variance and no lift is predicted. None when neither is a rate (money per send, no value).
    """
    value = getattr(variant.effect, "value", None)
    if value is not None and value.customers > 0:
        return value.organic_orders.point / value.customers, value.incremental_orders.point / value.customers
    if getattr(variant.effect, "unit", "probability") != "probability":
        return None
    return variant.rate()[0], None


def _cells(brief: Brief, plan: CampaignPlan) -> list[tuple[str, int, str, list[CopyVariant]]]:
    """(segment id, segment size, channel, active variants) of every cell with variants."""
    active = plan.active_variants()
    cells = [(seg.segment_id, seg.size, ch, [v for v in active if v.segment_id == seg.segment_id and v.channel == ch])
             for seg in plan.segments for ch in brief.channels]
    return [c for c in cells if c[3]]


def size_cells(brief: Brief, plan: CampaignPlan, target_lift: float | None = None) -> list[CellSizing]:
    """Size the holdout and the number of variants of every segment × channel to detect a lift.

    Args:
        brief: The brief (channels).
        plan: The plan with segments and active variants.
        target_lift: Absolute lift to detect; None: each cell's predicted lift (the mean over its variants),
            and cells without a predicted lift are skipped. The baseline of a cell is that of its variant whose
            baseline rate has the largest variance, so every variant's own MDE is at most the sizing's.

    Returns:
        One sizing per cell (see :func:`tools.outcomes.size_test`: every treated customer sent, equal arms).
    """
    out = []
    for segment_id, size, channel, variants in _cells(brief, plan):
        rates = [r for r in map(_rates, variants) if r is not None]
        lifts = [lift for _, lift in rates if lift is not None]
        target = target_lift if target_lift is not None else (float(np.mean(lifts)) if lifts else None)
        if not rates or target is None or size < 2:
            continue
        base = max((b for b, _ in rates), key=lambda b: b * (1 - b))  # the largest variance: conservative
        out.append(CellSizing(segment_id=segment_id, channel=channel, variants=len(variants),
                              sizing=size_test(size, base, target, len(variants))))
    return out


def _power(brief: Brief, plan: CampaignPlan, allocations: list[Allocation], held: dict[str, int],
           sizing: list[CellSizing], target_lift: float | None) -> LaunchPower:
    """The minimum detectable lift of each sent variant against its segment's holdout, with the sizing notes."""
    by_id = {v.variant_id: v for v in plan.active_variants()}
    arms = []
    for a in allocations:
        rates = _rates(by_id[a.variant_id]) if a.variant_id in by_id else None
        if a.sends == 0 or rates is None:
            continue
        base, lift = rates
        detectable_lift = minimum_detectable_lift(a.sends, held[a.segment_id], base)
        mde = float(detectable_lift) if np.isfinite(detectable_lift) else None  # JSON has no infinity: None
        arms.append(ArmPower(segment_id=a.segment_id, channel=a.channel, variant_id=a.variant_id, sends=a.sends,
                             holdout=held[a.segment_id], base_rate=base, mde=mde, predicted_lift=lift,
                             detectable=None if lift is None or mde is None else lift >= mde))
    notes = []
    finite = [x.mde for x in arms if x.mde is not None]
    if finite:
        notes.append(f"Measurable lift: against its segment's holdout, a variant's lift is detected with 80% power "
                     f"(two-sided, alpha 0.05) from {min(finite):.4f} to {max(finite):.4f} (absolute, at the "
                     f"predicted baseline rates)"
                     + (f"; the predicted lift of {sum(x.detectable is False for x in arms)} of {len(arms)} "
                        f"variants is below it." if any(x.predicted_lift is not None for x in arms) else "."))
    if any(x.mde is None for x in arms):
        notes.append("A segment without holdout customers cannot measure the lift of its variants.")
    notes += [c.sentence() for c in sizing]
    return LaunchPower(target_lift=target_lift, applied=any(c.sizing.feasible for c in sizing), arms=arms,
                       sizing=sizing, notes=notes)


def _arm_sends(variants: list[CopyVariant], sends: int, arms: int) -> list[int]:
    """Split ``sends`` evenly over the ``arms`` variants with the highest predicted rate; the others get none."""
    chosen = sorted(range(len(variants)), key=lambda i: -variants[i].rate()[0])[:arms]
    shares = iter(_split(sends, len(chosen)))
    return [next(shares) if i in chosen else 0 for i in range(len(variants))]


def design_launch(brief: Brief, plan: CampaignPlan, seed: int, target_lift: float | None = None) -> LaunchDesign:
    """Design the launch test for the plan's active variants.

    Each segment keeps ``brief.holdout_fraction`` of its customers (drawn at random) untreated, so the
    campaign's uplift can be measured against them. Each treated customer gets at most one message per
    channel. When the budget is smaller than the reachable sends, sends go to segment×channel cells in
    proportion to cell size × the best predicted rate in the cell. Within a cell, sends are split evenly
    across the variants, so the launch test can tell them apart.

    The design states what it can measure (``power``): each sent variant's minimum detectable lift against its
    segment's holdout at the predicted baseline rate, and per segment × channel the holdout and number of variants
    that would detect the target lift (``target_lift``, else the brief's ``target_lift``, else the cell's predicted
    lift), or that none can, with a suggestion (fewer variants, or a longer campaign). The sizing of every cell that
    can reach its target is applied: its segment's holdout grows to the largest the cells that can reach the target
    need (never below ``brief.holdout_fraction``), and the cell sends only its best variants, as many as the sizing
    allows. A cell that cannot reach it, or has no target (no predicted lift: a response model), keeps the brief's
    holdout and all its variants.

    Args:
        brief: The brief (budget, channels, holdout fraction).
        plan: The plan with segments and active variants.
        seed: Seed of the holdout draw.
        target_lift: Absolute lift (in the response rate) the test should detect; None: ``brief.target_lift``,
            and when that is None too, each cell's predicted lift.

    Returns:
        The launch design with per-variant sends and predicted positives (sends × predicted rate).
    """
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    treated: dict[str, int] = {}
    holdout: dict[str, list[str]] = {}
    target_lift = target_lift if target_lift is not None else brief.target_lift
    sizing = size_cells(brief, plan, target_lift)
    apply = {(c.segment_id, c.channel): c.sizing for c in sizing if c.sizing.feasible}
    for seg in plan.segments:
        held = max([round(seg.size * brief.holdout_fraction)]
                   + [s.holdout for (sid, _), s in apply.items() if sid == seg.segment_id])
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
        arms = apply[(seg.segment_id, channel)].arms if (seg.segment_id, channel) in apply else len(variants)
        for variant, n in zip(variants, _arm_sends(variants, sends[id(variants)], arms), strict=True):
            point, low, high = variant.rate()
            value = variant.value()
            value = value.scaled(n) if value is not None else None
            allocations.append(Allocation(
                segment_id=seg.segment_id, channel=channel, variant_id=variant.variant_id, sends=n,
                expected_positive=round(n * point, 2), expected_low=round(n * low, 2), expected_high=round(n * high, 2),
                value=value,
            ))
    if apply:
        target = f"{target_lift:.4f}" if target_lift is not None else "each cell's predicted lift"
        notes.append(f"Holdout: sized to detect a lift of {target} ({holdout_total} customers, at least "
                     f"{brief.holdout_fraction:.0%} of each segment) receive nothing; compare them with treated "
                     "customers to measure uplift. Sends are split evenly across the variants each cell can test.")
    else:
        notes.append(
            f"Holdout: {brief.holdout_fraction:.0%} of each segment ({holdout_total} customers) receive nothing; "
            f"compare them with treated customers to measure uplift. Sends are split evenly across variants."
        )
    held_count = {sid: len(ids) for sid, ids in holdout.items()}
    power = _power(brief, plan, allocations, held_count, sizing, target_lift)
    notes += power.notes
    reachable = sum(s.size for s in plan.segments)
    fraction = round(holdout_total / reachable, 4) if apply and reachable else brief.holdout_fraction
    return LaunchDesign(
        send_budget=brief.send_budget, reachable_customers=sum(s.size for s in plan.segments),
        holdout_customers=holdout_total, holdout_ids=holdout, holdout_fraction=fraction,
        planned_sends=sum(a.sends for a in allocations), allocations=allocations, notes=notes, power=power,
        value=CampaignValue.total([a.value for a in allocations if a.value is not None and a.sends]),
    )


SEND_LIST_COLUMNS = ("customer_id", "segment_id", "channel", "variant_id")
HOLDOUT = "holdout"
"""The send list's ``variant_id`` of a holdout customer."""


def _assign_cell(customers: np.ndarray, variants: list[CopyVariant], sends: list[int], scores: pd.DataFrame,
                 rng: np.random.Generator) -> np.ndarray:
    """Give each of a cell's treated customers at most one of its variants, within each variant's sends.

    Greedy on the customers' scores of the variants' products: (customer, variant) pairs are taken best score
    first, each customer once and each variant up to its sends. Customers the scores do not know (NaN) come last;
    ties fall in a seeded random order, so equal scores make a random split.

    Returns:
        The variant index of each customer, -1 when unsent.
    """
    columns = [v.product_id for v in variants]
    matrix = scores.reindex(index=customers, columns=columns).to_numpy(dtype=np.float64)
    matrix = np.where(np.isnan(matrix), -np.inf, matrix)
    shuffled = rng.permutation(len(customers))
    flat = matrix[shuffled].reshape(-1)
    order = np.argsort(-flat, kind="stable")
    who, which = shuffled[order // len(variants)], order % len(variants)
    left = np.asarray(sends, dtype=np.int64).copy()
    chosen = np.full(len(customers), -1, dtype=np.int64)
    remaining = int(left.sum())
    for c, v in zip(who.tolist(), which.tolist(), strict=True):
        if remaining == 0:
            break
        if chosen[c] < 0 and left[v] > 0:
            chosen[c] = v
            left[v] -= 1
            remaining -= 1
    return chosen


def send_list(brief: Brief, plan: CampaignPlan, members: dict[str, list[str]], holdout: dict[str, list[str]],
              scores: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Decide which variant each treated customer gets on each channel: the launch's send list.

    Within each segment × channel, the launch design fixed each variant's sends; here the customers who get them
    are chosen by their own scores of the variants' products (``scores``: the propensity or recommendation score of
    every customer for every product of the cell's variants, computed by batch scoring), best first, each customer
    once per channel (see :func:`_assign_cell`). When the budget is below the treated customers, the customers with
    the best scores are sent. Copy stays per segment × channel × product; only who gets which variant is per customer.

    Args:
        brief: The brief (channels).
        plan: The plan with its launch design (``plan.launch``).
        members: Every segment's customers.
        holdout: Every segment's holdout customers.
        scores: Index customer_id, one column per product id (higher: more likely to respond).
        seed: Seed of the tie-breaking order.

    Returns:
        Columns ``customer_id``, ``segment_id``, ``channel``, ``variant_id``: one row per treated customer × channel
        (``variant_id`` null when unsent) and one per holdout customer (``channel`` null, ``variant_id``
        :data:`HOLDOUT`). A variant's rows equal its allocation's sends.
    """
    if plan.launch is None:
        raise ValueError("the plan has no launch design")
    rng = np.random.default_rng(seed)
    sends = {a.variant_id: a.sends for a in plan.launch.allocations}
    active = plan.active_variants()
    parts = []
    for seg in plan.segments:
        held = set(holdout.get(seg.segment_id, []))
        treated = np.asarray([c for c in members[seg.segment_id] if c not in held], dtype=object)
        for channel in brief.channels:
            variants = [v for v in active if v.segment_id == seg.segment_id and v.channel == channel]
            chosen = (_assign_cell(treated, variants, [sends.get(v.variant_id, 0) for v in variants], scores, rng)
                      if variants and len(treated) else np.full(len(treated), -1, dtype=np.int64))
            names = np.asarray([v.variant_id for v in variants] + [None], dtype=object)
            parts.append(pd.DataFrame({"customer_id": treated, "segment_id": seg.segment_id, "channel": channel,
                                       "variant_id": names[chosen]}))
        ids = sorted(held)
        parts.append(pd.DataFrame({"customer_id": np.asarray(ids, dtype=object), "segment_id": seg.segment_id,
                                   "channel": None, "variant_id": HOLDOUT}))
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(SEND_LIST_COLUMNS))
    return table.astype({c: "string" for c in SEND_LIST_COLUMNS})
