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


# The API database as the previous release created it (SQLite DDL of its five tables: no ``jobs.runner``, no
# ``server_leases``), for the test that upgrades such a database in place.
PREVIOUS_SQLITE_SCHEMA = [
    """CREATE TABLE api_keys (id VARCHAR(32) NOT NULL, name VARCHAR(120) NOT NULL, key_hash VARCHAR(64) NOT NULL,
       prefix VARCHAR(16) NOT NULL, created_at DATETIME NOT NULL, revoked_at DATETIME, PRIMARY KEY (id),
       UNIQUE (key_hash))""",
    "CREATE INDEX ix_api_keys_name ON api_keys (name)",
    """CREATE TABLE chat_messages (id INTEGER NOT NULL, session_id VARCHAR(64) NOT NULL, owner VARCHAR(32) NOT NULL,
       message JSON NOT NULL, at DATETIME NOT NULL, PRIMARY KEY (id))""",
    "CREATE INDEX ix_chat_messages_session_id ON chat_messages (session_id)",
    """CREATE TABLE jobs (id VARCHAR(32) NOT NULL, owner VARCHAR(120) NOT NULL, status VARCHAR(16) NOT NULL,
       brief JSON NOT NULL, "plan" TEXT, error TEXT, steps_expected INTEGER NOT NULL, steps_done INTEGER NOT NULL,
       current_step VARCHAR(200), created_at DATETIME NOT NULL, started_at DATETIME, finished_at DATETIME,
       PRIMARY KEY (id))""",
    "CREATE INDEX ix_jobs_created_at ON jobs (created_at)",
    "CREATE INDEX ix_jobs_status ON jobs (status)",
    """CREATE TABLE decisions (id INTEGER NOT NULL, job_id VARCHAR(32) NOT NULL, decision VARCHAR(16) NOT NULL,
       "by" VARCHAR(120) NOT NULL, reason TEXT NOT NULL, api_key VARCHAR(120) NOT NULL, at DATETIME NOT NULL,
       PRIMARY KEY (id), FOREIGN KEY(job_id) REFERENCES jobs (id))""",
    "CREATE INDEX ix_decisions_job_id ON decisions (job_id)",
    """CREATE TABLE job_events (id INTEGER NOT NULL, job_id VARCHAR(32) NOT NULL, kind VARCHAR(16) NOT NULL,
       data JSON NOT NULL, at DATETIME NOT NULL, PRIMARY KEY (id), FOREIGN KEY(job_id) REFERENCES jobs (id))""",
    "CREATE INDEX ix_job_events_job_id ON job_events (job_id)",
]
