"""Data as the previous release stored it, for the tests that prove this release still reads it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from agent.brief import parse_brief
from agent.plan import AudienceSummary, CampaignPlan

OLD_WARNINGS = [
    "S1/sms: skipped: no message about Alien fits sms: reply: message is 167 characters with the disclaimer; "
    "the limit is 160",
    "A budget of 2 sends leaves 1 of 3 variants unsent (V3); raise the budget or reduce channels and variants.",
]


def old_plan_json(warnings: list[str] = OLD_WARNINGS) -> str:
    """A plan's JSON as the previous release stored it: the same fields, with warnings as plain sentences."""
    brief = parse_brief({"name": "Old plan", "goal": "Win back lapsed fans", "audience": "lapsed fans",
                         "channels": ["sms"], "send_budget": 2})
    plan = CampaignPlan(plan_id="old", created_at=datetime(2026, 1, 2, tzinfo=UTC), brief=brief, llm_model="m",
                        audience=AudienceSummary(query=brief.audience, filter_used={}, size=0))
    data: dict[str, Any] = json.loads(plan.model_dump_json())
    data["warnings"] = warnings
    return json.dumps(data, separators=(",", ":"))  # compact, as pydantic's model_dump_json writes
