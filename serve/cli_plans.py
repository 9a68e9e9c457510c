"""Plans made with the command line, recorded in the API database (issue 17 item 1).

``campaign plan`` records its plan as a job of owner ``cli`` with status ``done``, its plan JSON (which holds the
reference to the send list: :class:`agent.plan.AudienceFileRef`, the Parquet file with its SHA-256) and its brief,
in the same database as the API's (``CAMPAIGN_DB_URL``). The job's id is the plan's id. So ``campaign outcomes
import PLAN_ID FILE`` and ``POST /v1/plans/{id}/outcomes`` take outcomes for it, and ``GET /v1/plans`` lists it.
"""

from __future__ import annotations

from agent.plan import CampaignPlan
from agent.settings import Settings
from serve.store import Store

CLI_OWNER = "cli"
"""The owner of a job recorded by the command line (API jobs are owned by an API key's id)."""


def record_plan(store: Store, plan: CampaignPlan, owner: str = CLI_OWNER) -> bool:
    """Store a finished plan as a done job whose id is the plan's id.

    Args:
        store: The API database.
        plan: The plan.
        owner: Who made it.

    Returns:
        True when recorded; False when a job with that id is already stored (nothing is changed).
    """
    if store.job(plan.plan_id) is not None:
        return False
    steps = len(plan.trace)
    store.add_job(plan.plan_id, owner, plan.brief.model_dump(mode="json"), steps)
    store.set_status(plan.plan_id, "running", expected="queued")
    return store.set_status(plan.plan_id, "done", plan=plan.model_dump_json(), steps_done=steps, expected="running")


def record_cli_plan(settings: Settings, plan: CampaignPlan) -> str:
    """Record a plan made by ``campaign plan`` in the configured database; return where, in one line."""
    store = Store(settings.database_url)
    try:
        record_plan(store, plan)
    finally:
        store.engine.dispose()
    return f"recorded plan {plan.plan_id} in the API database (outcomes: campaign outcomes import {plan.plan_id} FILE)"
