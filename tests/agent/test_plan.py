"""The campaign plan's JSON: structured warnings, and plans stored by the previous release still load."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from agent.plan import CampaignPlan, PlanWarning
from agent.report import render_markdown
from tests.previous_release import OLD_WARNINGS, old_plan_json


def test_a_plan_stored_with_plain_sentence_warnings_loads_with_legacy_warnings():
    plan = CampaignPlan.model_validate_json(old_plan_json())
    assert [(w.kind, w.message) for w in plan.warnings] == [("legacy", m) for m in OLD_WARNINGS]
    assert all(w.segment_id is None and w.channel is None and w.product_id is None and w.variant_ids == []
               for w in plan.warnings)
    again = CampaignPlan.model_validate_json(plan.model_dump_json())  # stored again, it reads the same
    assert again.warnings == plan.warnings
    assert all(f"- {m}" in render_markdown(plan) for m in OLD_WARNINGS)


def test_structured_warnings_round_trip_and_unknown_kinds_are_refused():
    warning = PlanWarning(kind="skipped_message", message="S1/sms: skipped: too long", segment_id="S1",
                          channel="sms", product_id="96")
    mixed = json.loads(old_plan_json())
    mixed["warnings"] = [warning.model_dump(mode="json"), "an old sentence"]
    plan = CampaignPlan.model_validate(mixed)
    assert plan.warnings == [warning, PlanWarning(kind="legacy", message="an old sentence")]
    assert CampaignPlan.model_validate_json(plan.model_dump_json()) == plan
    with pytest.raises(ValidationError, match="kind"):
        CampaignPlan.model_validate({**mixed, "warnings": [{"kind": "surprise", "message": "?"}]})


def test_campaign_value_sums_the_allocations_values_and_their_bounds() -> None:
    from agent.plan import CampaignValue
    from tools.effect import Amount, SendValue

    def value(customers: int, orders: float, revenue: float) -> SendValue:
        o, r = Amount(point=orders, low=orders / 2, high=orders * 2), Amount(point=revenue, low=0.0, high=revenue * 3)
        return SendValue(customers=customers, currency="GBP", line_revenue=revenue / max(orders, 1e-9),
                         organic_orders=o, with_send_orders=o, incremental_orders=o, organic_revenue=r,
                         with_send_revenue=r, incremental_revenue=r, lift=Amount(point=1.6, low=1.5, high=1.7),
                         lift_source="Hillstrom")

    total = CampaignValue.total([value(100, 2.0, 20.0), value(50, 1.0, 5.0)])
    assert total is not None and total.sends == 150 and total.currency == "GBP"
    assert total.organic_orders == Amount(point=3.0, low=1.5, high=6.0)
    assert total.incremental_revenue == Amount(point=25.0, low=0.0, high=75.0)
    assert CampaignValue.total([]) is None
