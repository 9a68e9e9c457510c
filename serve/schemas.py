"""The request and response bodies of the campaign API, and the JSON of a stored job.

Pydantic models FastAPI validates requests with and documents in the OpenAPI schema. :func:`job_json` renders
a :class:`~serve.store.JobRecord` as :class:`JobOut` with the stored plan text spliced in, so a large plan is
never parsed again per request (except a plan stored by an earlier release, see :func:`plan_json`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from agent.brief import Brief
from agent.plan import CampaignPlan
from serve.store import DecisionRecord, JobRecord, Status

LEGACY_WARNINGS = '"warnings":["'
"""How a plan stored before warnings had kinds starts its warnings in compact JSON (plain sentences)."""


class Progress(BaseModel):
    """How far a plan is: steps finished of the expected steps (an upper bound until done)."""

    steps_done: int
    steps_expected: int
    current_step: str | None = None


class Decision(BaseModel):
    """A recorded human decision."""

    decision: Literal["approved", "rejected"]
    by: str
    reason: str
    api_key: str = Field(description="Name of the API key that recorded it.")
    at: datetime


class DecisionIn(BaseModel):
    """Who decides and why."""

    by: str = Field(min_length=1, max_length=120, description="The person deciding.")
    reason: str = Field(min_length=1, max_length=2000, description="Why.")


class JobOut(BaseModel):
    """A plan job: status, progress, the human review, and the plan once done."""

    id: str
    status: Status
    error: str | None = Field(None, description="Why the job failed, or who cancelled it and at which step.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: Progress
    review: Literal["pending", "approved", "rejected"] = Field(description="The latest decision, if any.")
    decisions: list[Decision] = Field(description="Audit trail of human decisions, oldest first.")
    brief: Brief
    links: dict[str, str]
    plan: CampaignPlan | None = Field(None, description="The plan, once done (never for a cancelled job).")


class JobSummary(BaseModel):
    """A plan job in a list."""

    id: str
    name: str
    status: Status
    created_at: datetime
    progress: Progress


class ChatIn(BaseModel):
    """A marketer's message."""

    message: str = Field(min_length=1, max_length=4000)
    session_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{8,64}$", description="Omit to start a session.")
    shop: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
                             description="Shop the turn is about (see GET /v1/shops); omit for the default shop.")


def _decision(d: DecisionRecord) -> Decision:
    return Decision(decision=d.decision, by=d.by, reason=d.reason, api_key=d.api_key, at=d.at)


def _progress(job: JobRecord) -> Progress:
    return Progress(steps_done=job.steps_done, steps_expected=job.steps_expected, current_step=job.current_step)


def job_summary(job: JobRecord) -> JobSummary:
    """The list entry of a job."""
    return JobSummary(id=job.id, name=str(job.brief.get("name", "")), status=job.status,
                      created_at=job.created_at, progress=_progress(job))


def plan_json(stored: str | None) -> str:
    """The JSON of a stored plan as :class:`~agent.plan.CampaignPlan` reads today (``null`` for no plan).

    Plans are stored as their compact JSON and served as stored. A plan stored by an earlier release has
    plain sentences as warnings: it is validated (its warnings become ``legacy`` ones) and dumped again, so
    every response matches the schema. A JSON string cannot hold ``"warnings":["`` unescaped, so only a
    ``warnings`` key of the JSON itself takes this slower path.
    """
    if not stored:
        return "null"
    return CampaignPlan.model_validate_json(stored).model_dump_json() if LEGACY_WARNINGS in stored else stored


def job_json(job: JobRecord, decisions: list[DecisionRecord]) -> str:
    """The JSON of :class:`JobOut`, with the stored plan text spliced in (not parsed again per request)."""
    trail = [_decision(d) for d in decisions]
    envelope = JobOut(
        id=job.id, status=job.status, error=job.error, created_at=job.created_at,
        started_at=job.started_at, finished_at=job.finished_at, progress=_progress(job),
        review=trail[-1].decision if trail else "pending", decisions=trail, brief=Brief.model_validate(job.brief),
        links={"self": f"/v1/plans/{job.id}", "events": f"/v1/plans/{job.id}/events",
               "cancel": f"/v1/plans/{job.id}/cancel"},
    ).model_dump_json(exclude={"plan"})
    return envelope[:-1] + ',"plan":' + plan_json(job.plan) + "}"
