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
