"""The stored outcomes of every launched campaign, joined with its send list: what ``campaign train`` learns from.

:func:`stored_campaigns` reads the API database (finished plans with imported outcomes), and gives each campaign as
a :class:`tools.effect.CampaignOutcomes`: one row per customer and arm with the send list's segment, the variant's
channel and product, and the 0/1 outcome. The learning itself (:func:`agent.training.learn_from_outcomes`) takes
these as data and never reads the database.
"""

from __future__ import annotations

from dataclasses import asdict

import pandas as pd

from agent.audience_file import read_send_list
from agent.settings import Settings, get_settings
from serve.outcomes import assignments, load_plan
from serve.store import Store
from tools.effect import CampaignOutcomes

MAX_PLANS = 100_000


def campaign_outcomes(store: Store, settings: Settings | None, plan_id: str) -> CampaignOutcomes | None:
    """Return one finished plan's stored outcomes joined with its send list, or None when it has none.

    The outcome is the first of ``converted``, ``clicked``, ``opened`` that any stored row reports.

    Raises:
        UnknownPlanError: No such plan.
        PlanNotReadyError: It has not finished or has no launch design.
        AudienceFileError: Its audience file is missing or changed.
    """
    stored = pd.DataFrame([asdict(r) for r in store.outcomes(plan_id)])
    if stored.empty:
        return None
    metric = next((m for m in ("converted", "clicked", "opened") if stored[m].notna().any()), None)
    if metric is None:
        return None
    plan = load_plan(store, plan_id)
    assigned = assignments(plan, read_send_list(settings, plan))[["customer_id", "arm", "segment_id"]]
    variants = pd.DataFrame([{"arm": v.variant_id, "channel": v.channel, "product_id": v.product_id}
                             for v in plan.variants], columns=["arm", "channel", "product_id"])
    rows = stored.dropna(subset=[metric])[["customer_id", "arm", metric]].astype({"customer_id": str, "arm": str})
    table = (rows.merge(assigned.astype(str), on=["customer_id", "arm"], how="left")
             .merge(variants, on="arm", how="left").rename(columns={metric: "outcome"}))
    table["outcome"] = table["outcome"].astype(int)
    return CampaignOutcomes(plan_id=plan_id, shop=plan.shop, created_at=plan.created_at, metric=metric,
                            table=table[["customer_id", "arm", "segment_id", "channel", "product_id", "outcome"]])


def stored_campaigns(store: Store, settings: Settings | None) -> list[CampaignOutcomes]:
    """Return every finished plan with stored outcomes, oldest first."""
    jobs = sorted(store.jobs(limit=MAX_PLANS, status="done"), key=lambda j: j.created_at)
    found = [campaign_outcomes(store, settings, job.id) for job in jobs if store.outcomes(job.id)]
    return [c for c in found if c is not None]


def configured_campaigns() -> list[CampaignOutcomes]:
    """Return the campaigns with outcomes in the configured database (``campaign train``)."""
    settings = get_settings()
    store = Store(settings.database_url)
    try:
        return stored_campaigns(store, settings)
    finally:
        store.engine.dispose()
