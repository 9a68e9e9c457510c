"""Launch design: splitting a send budget that is smaller than what the audience can receive, and what the launch
can measure (minimum detectable lift, sizing for a target lift)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from agent.brief import Brief, BriefError, parse_brief
from agent.launch import apportion, design_launch
from agent.plan import AudienceSummary, CampaignPlan, CopyVariant, Segment
from tools.effect import Amount, EffectEstimate, SendValue

Z = 1.959963984540054 + 0.8416212335729143  # z[0.975] + z[0.8]


def test_a_budget_of_one_over_two_cells_sends_one_to_the_heavier_cell() -> None:
    assert apportion(1, {1: 0.3, 2: 0.6}, {1: 50, 2: 50}) == {1: 0, 2: 1}


def test_shares_follow_the_weights_and_leftovers_go_to_the_largest_remainders() -> None:
    # exact shares 7.5 and 2.5: whole parts 7 and 2, the one left over breaks the tie by weight
    assert apportion(10, {1: 3.0, 2: 1.0}, {1: 100, 2: 100}) == {1: 8, 2: 2}
    # exact shares 3.33, 3.33, 3.33 with 10 sends: every send is used
    assert sum(apportion(10, {1: 1.0, 2: 1.0, 3: 1.0}, {1: 9, 2: 9, 3: 9}).values()) == 10


def test_capacity_caps_a_cell_and_its_share_goes_elsewhere() -> None:
    sends = apportion(10, {1: 9.0, 2: 1.0}, {1: 4, 2: 20})
    assert sends == {1: 4, 2: 6}


def test_zero_weights_split_evenly() -> None:
    assert apportion(3, {1: 0.0, 2: 0.0}, {1: 5, 2: 5}) in ({1: 2, 2: 1}, {1: 1, 2: 2})


# What the launch can measure: a plan of one segment, one channel and hand-set predicted rates per send.

def _plan(size: int, rates: list[float], holdout_fraction: float = 0.1, budget: int = 1_000_000) -> CampaignPlan:
    brief = Brief(name="power", goal="measure a lift", audience="everyone", channels=["email"], send_budget=budget,
                  variants_per_channel=len(rates), holdout_fraction=holdout_fraction)
    segment = Segment(segment_id="s1", name="all", description="all", size=size,
                      customer_ids=[f"c{i}" for i in range(size)], top_genres=[], lifecycle_mix={})
    variants = [
        CopyVariant(variant_id=f"v{i}", segment_id="s1", channel="email", language="en", product_id="p",
                    product_title="P", headline="h", body="b", cta="c", source="template",
                    effect=EffectEstimate(product_id="p", metric="p_like", point=r, low=r * 0.8, high=r * 1.2,
                                          n_customers=size, factors=[]))
        for i, r in enumerate(rates)
    ]
    return CampaignPlan(plan_id="p", created_at=datetime(2026, 1, 1, tzinfo=UTC), brief=brief, llm_model="m",
                        audience=AudienceSummary(query="q", filter_used={}, size=size), segments=[segment],
                        variants=variants)


def test_the_design_states_each_variants_minimum_detectable_lift_and_keeps_the_briefs_holdout() -> None:
    plan = _plan(1000, [0.10, 0.12])
    launch = design_launch(plan.brief, plan, seed=0)
    assert launch.holdout_customers == 100 and launch.holdout_fraction == 0.1
    assert launch.power is not None and not launch.power.applied
    arms = {a.variant_id: a for a in launch.power.arms}
    assert arms["v0"].sends == 450 and arms["v0"].holdout == 100
    # the variance at the predicted rate: (1.96 + 0.84) × sqrt(0.1 × 0.9 × (1/450 + 1/100))
    assert arms["v0"].mde == pytest.approx(Z * math.sqrt(0.09 * (1 / 450 + 1 / 100)))
    assert arms["v0"].predicted_lift is None and arms["v0"].detectable is None
    assert any(n.startswith("Measurable lift:") for n in launch.notes)


def test_a_target_lift_sizes_the_holdout_and_keeps_the_variants_that_can_reach_it() -> None:
    plan = _plan(3000, [0.10, 0.11, 0.12])
    launch = design_launch(plan.brief, plan, seed=0, target_lift=0.035)
    assert launch.power is not None and launch.power.applied
    (cell,) = launch.power.sizing
    assert cell.sizing.feasible and cell.sizing.arms == 1  # three or two arms cannot detect 0.035 in 3,000
    assert launch.holdout_customers == cell.sizing.holdout > 300
    sends = {a.variant_id: a.sends for a in launch.allocations}
    assert sends == {"v0": 0, "v1": 0, "v2": 3000 - launch.holdout_customers}  # the best predicted variant
    (arm,) = launch.power.arms
    assert arm.mde <= 0.035
    assert launch.holdout_fraction == round(launch.holdout_customers / 3000, 4)


def test_a_target_the_audience_cannot_reach_is_said_with_a_suggestion() -> None:
    plan = _plan(200, [0.10, 0.12])
    launch = design_launch(plan.brief, plan, seed=0, target_lift=0.02)
    assert launch.power is not None
    (cell,) = launch.power.sizing
    assert not cell.sizing.feasible
    assert launch.holdout_customers == 20  # nothing is applied: the brief's holdout and both variants
    assert [a.sends for a in launch.allocations] == [90, 90]
    note = next(n for n in launch.notes if "cannot detect a lift of 0.0200" in n)
    assert "Test fewer variants, or run the campaign longer" in note


def test_the_briefs_target_lift_sizes_the_launch_like_the_argument() -> None:
    plan = _plan(3000, [0.10, 0.11, 0.12])
    brief = plan.brief.model_copy(update={"target_lift": 0.035})
    from_brief = design_launch(brief, plan.model_copy(update={"brief": brief}), seed=0)
    from_argument = design_launch(plan.brief, plan, seed=0, target_lift=0.035)
    assert from_brief.power is not None and from_brief.power.applied and from_brief.power.target_lift == 0.035
    assert from_brief.model_dump() == from_argument.model_dump()


@pytest.mark.parametrize("value", [0, -0.01, 1.0, "big"])
def test_a_target_lift_outside_0_to_1_is_refused_naming_the_field(value: object) -> None:
    with pytest.raises(BriefError, match="field 'target_lift'"):
        parse_brief({"name": "n", "goal": "goal", "audience": "everyone", "channels": ["email"], "send_budget": 10,
                     "target_lift": value})


def _valued(plan: CampaignPlan, base: float, lift: float) -> CampaignPlan:
    """Give every variant a send value: ``base`` organic buyers and ``lift`` added buyers per customer."""
    size = plan.segments[0].size

    def amount(x: float) -> Amount:
        return Amount(point=x * size, low=x * size * 0.8, high=x * size * 1.2)

    value = SendValue(customers=size, currency="GBP", line_revenue=10.0, organic_orders=amount(base),
                      with_send_orders=amount(base + lift), incremental_orders=amount(lift),
                      organic_revenue=amount(base * 10), with_send_revenue=amount((base + lift) * 10),
                      incremental_revenue=amount(lift * 10), lift=Amount(point=1 + lift / base, low=1.0, high=2.0),
                      lift_source="set in this test")
    variants = [v.model_copy(update={"effect": v.effect.model_copy(update={"unit": "currency", "value": value})})
                for v in plan.variants]
    return plan.model_copy(update={"variants": variants})


def test_without_a_target_the_predicted_lift_sizes_the_launch_when_the_audience_allows() -> None:
    plan = _valued(_plan(3000, [0.10, 0.11]), base=0.10, lift=0.05)
    launch = design_launch(plan.brief, plan, seed=0)
    assert launch.power is not None and launch.power.applied and launch.power.target_lift is None
    (cell,) = launch.power.sizing
    assert cell.sizing.target_lift == pytest.approx(0.05) and cell.sizing.feasible
    assert launch.holdout_customers == cell.sizing.holdout
    assert any("sized to detect a lift of each cell's predicted lift" in n for n in launch.notes)
    assert all(a.detectable for a in launch.power.arms if a.sends)


def test_a_predicted_lift_too_small_to_detect_keeps_the_briefs_holdout_and_says_so() -> None:
    plan = _valued(_plan(1000, [0.10, 0.11]), base=0.10, lift=0.005)
    launch = design_launch(plan.brief, plan, seed=0)
    assert launch.power is not None and not launch.power.applied
    assert launch.holdout_customers == 100 and [a.sends for a in launch.allocations] == [450, 450]
    note = next(n for n in launch.notes if "cannot detect a lift of 0.0050" in n)
    assert "Test fewer variants, or run the campaign longer" in note


def test_a_segment_without_holdout_has_no_mde_and_its_plan_survives_json() -> None:
    plan = _plan(1, [0.37], holdout_fraction=0.0)  # one customer: the full eval's "tiny budget" briefs
    launch = design_launch(plan.brief, plan, seed=0)
    assert launch.power is not None
    (arm,) = launch.power.arms
    assert arm.holdout == 0 and arm.mde is None and arm.detectable is None
    assert "A segment without holdout customers cannot measure the lift of its variants." in launch.power.notes
    done = plan.model_copy(update={"launch": launch})
    again = CampaignPlan.model_validate_json(done.model_dump_json())  # infinity had been written as null
    assert again.launch is not None and again.launch.power is not None and again.launch.power.arms[0].mde is None
