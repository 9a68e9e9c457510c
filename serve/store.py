"""Persistence of the campaign API with SQLAlchemy: API keys, plan jobs, their events and decisions, chats.

One :class:`Store` wraps an engine for any SQLAlchemy URL (default: a SQLite file under ``settings.home``).
Methods open a short transaction each and return plain records (:class:`KeyRecord`, :class:`JobRecord`,
:class:`EventRecord`, :class:`DecisionRecord`), so callers never hold a session and worker threads can share
the store. Plans are stored as their JSON text; step events as JSON. The tables and the engine (SQLite with
write-ahead logging) are in :mod:`serve.database`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.orm import sessionmaker

from serve.database import ApiKeyRow, Base, ChatMessageRow, DecisionRow, EventRow, JobRow, make_engine, now

Status = Literal["queued", "running", "done", "failed", "cancelled"]
TERMINAL: tuple[Status, ...] = ("done", "failed", "cancelled")
RESTART_REASON = "interrupted by a server restart"
CANCEL_REQUESTED = "cancel_requested"  # event kind: someone asked a running job to stop at its next step


def _aware(value: datetime | None) -> datetime | None:
    """SQLite drops the time zone; every stored time is UTC."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


@dataclass(frozen=True)
class KeyRecord:
    """An API key without its secret."""

    id: str
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class JobRecord:
    """A job as stored."""

    id: str
    owner: str
    status: str
    brief: dict[str, Any]
    plan: str | None
    error: str | None
    steps_expected: int
    steps_done: int
    current_step: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class EventRecord:
    """A stored job event."""

    id: int
    kind: str
    data: dict[str, Any]


@dataclass(frozen=True)
class DecisionRecord:
    """A stored human decision."""

    decision: str
    by: str
    reason: str
    api_key: str
    at: datetime


def _key(row: ApiKeyRow) -> KeyRecord:
    return KeyRecord(row.id, row.name, row.prefix, _aware(row.created_at) or now(), _aware(row.revoked_at))


def _job(row: JobRow) -> JobRecord:
    return JobRecord(
        row.id, row.owner, row.status, row.brief, row.plan, row.error, row.steps_expected, row.steps_done,
        row.current_step, _aware(row.created_at) or now(), _aware(row.started_at), _aware(row.finished_at),
    )


class Store:
    """The API database.

    Args:
        url: SQLAlchemy URL, e.g. ``sqlite:///var/campaign.db`` or ``postgresql+psycopg://…``.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        Base.metadata.create_all(self.engine)
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    # API keys ---------------------------------------------------------------------------------------------
    def add_key(self, name: str, key_hash: str, prefix: str) -> KeyRecord:
        """Store a new key's hash under ``name``."""
        with self._session.begin() as s:
            row = ApiKeyRow(id=uuid.uuid4().hex[:12], name=name, key_hash=key_hash, prefix=prefix, created_at=now())
            s.add(row)
        return _key(row)

    def key_by_hash(self, key_hash: str) -> KeyRecord | None:
        """Return the unrevoked key with this hash, or None."""
        with self._session() as s:
            row = s.scalar(select(ApiKeyRow).where(ApiKeyRow.key_hash == key_hash, ApiKeyRow.revoked_at.is_(None)))
            return _key(row) if row else None

    def api_keys(self) -> list[KeyRecord]:
        """All keys, oldest first."""
        with self._session() as s:
            return [_key(r) for r in s.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at))]

    def revoke_key(self, id_or_name: str) -> list[KeyRecord]:
        """Revoke the key with this id, or every active key with this name; return what was revoked."""
        with self._session.begin() as s:
            rows = list(s.scalars(select(ApiKeyRow).where(
                (ApiKeyRow.id == id_or_name) | (ApiKeyRow.name == id_or_name), ApiKeyRow.revoked_at.is_(None))))
            for row in rows:
                row.revoked_at = now()
        return [_key(r) for r in rows]

    # Jobs -------------------------------------------------------------------------------------------------
    def add_job(self, job_id: str, owner: str, brief: dict[str, Any], steps_expected: int) -> JobRecord:
        """Store a queued job and its first status event."""
        with self._session.begin() as s:
            row = JobRow(id=job_id, owner=owner, status="queued", brief=brief, steps_expected=steps_expected,
                         created_at=now())
            s.add(row)
            s.flush()
            s.add(EventRow(job_id=job_id, kind="status", data={"status": "queued"}, at=now()))
        return _job(row)

    def job(self, job_id: str) -> JobRecord | None:
        """Return the job, or None."""
        with self._session() as s:
            row = s.get(JobRow, job_id)
            return _job(row) if row else None

    def jobs(self, limit: int = 50, status: str | None = None) -> list[JobRecord]:
        """Most recent jobs first (plans left out)."""
        query = select(JobRow).order_by(JobRow.created_at.desc()).limit(limit)
        if status:
            query = query.where(JobRow.status == status)
        with self._session() as s:
            return [_job(r) for r in s.scalars(query)]

    def count_jobs(self) -> dict[str, int]:
        """Number of jobs by status."""
        with self._session() as s:
            return {k: v for k, v in s.execute(select(JobRow.status, func.count()).group_by(JobRow.status)).tuples()}

    def set_status(self, job_id: str, status: str, *, error: str | None = None, plan: str | None = None,
                   steps_done: int | None = None) -> None:
        """Move a job to ``status`` (running, done, failed or cancelled) and record the status event.

        ``error`` says why a job failed or was cancelled.
        """
        values: dict[str, Any] = {"status": status, "error": error}
        if status == "running":
            values["started_at"] = now()
        else:
            values.update(finished_at=now(), current_step=None)
        if plan is not None:
            values["plan"] = plan
        if steps_done is not None:
            values.update(steps_done=steps_done, steps_expected=steps_done)
        with self._session.begin() as s:
            s.execute(update(JobRow).where(JobRow.id == job_id).values(**values))
            data = {"status": status} | ({"error": error} if error else {})
            s.add(EventRow(job_id=job_id, kind="status", data=data, at=now()))

    def add_step_event(self, job_id: str, kind: str, step: dict[str, Any]) -> None:
        """Record a step start or end and update the job's progress."""
        with self._session.begin() as s:
            s.add(EventRow(job_id=job_id, kind=kind, data=step, at=now()))
            if kind == "step_start":
                s.execute(update(JobRow).where(JobRow.id == job_id).values(current_step=step.get("step")))
            else:
                s.execute(update(JobRow).where(JobRow.id == job_id)
                          .values(steps_done=JobRow.steps_done + 1, current_step=None))

    def request_cancel(self, job_id: str, by: str) -> None:
        """Record that ``by`` asked the running job to stop (the ``cancel_requested`` event)."""
        with self._session.begin() as s:
            s.add(EventRow(job_id=job_id, kind=CANCEL_REQUESTED, data={"by": by}, at=now()))

    def cancel_requester(self, job_id: str) -> str | None:
        """Who first asked the job to stop, or None when nobody did."""
        query = (select(EventRow.data).where(EventRow.job_id == job_id, EventRow.kind == CANCEL_REQUESTED)
                 .order_by(EventRow.id).limit(1))
        with self._session() as s:
            data = s.scalar(query)
        return None if data is None else str(data.get("by", "someone"))

    def events_after(self, job_id: str, after: int = 0) -> list[EventRecord]:
        """Events of the job with an id above ``after``, in order."""
        query = select(EventRow).where(EventRow.job_id == job_id, EventRow.id > after).order_by(EventRow.id)
        with self._session() as s:
            return [EventRecord(r.id, r.kind, r.data) for r in s.scalars(query)]

    def recover(self) -> tuple[list[str], list[str]]:
        """After a restart: end the jobs left running; return (ids of the jobs ended, queued ids to resume).

        A job left running is failed with :data:`RESTART_REASON`, or cancelled if someone had asked it to stop.
        Cancelled jobs are terminal and never resumed.
        """
        with self._session() as s:
            running = list(s.scalars(select(JobRow.id).where(JobRow.status == "running")))
            queued = list(s.scalars(select(JobRow.id).where(JobRow.status == "queued").order_by(JobRow.created_at)))
        for job_id in running:
            by = self.cancel_requester(job_id)
            if by is None:
                self.set_status(job_id, "failed", error=RESTART_REASON)
            else:
                self.set_status(job_id, "cancelled", error=f"cancelled by {by}; the server restarted before "
                                                           "the plan reached its next step")
        return running, queued

    # Decisions --------------------------------------------------------------------------------------------
    def add_decision(self, job_id: str, decision: str, by: str, reason: str, api_key: str) -> DecisionRecord:
        """Append a human decision to the job's audit trail."""
        with self._session.begin() as s:
            row = DecisionRow(job_id=job_id, decision=decision, by=by, reason=reason, api_key=api_key, at=now())
            s.add(row)
        return DecisionRecord(row.decision, row.by, row.reason, row.api_key, _aware(row.at) or now())

    def decisions(self, job_id: str) -> list[DecisionRecord]:
        """The job's audit trail, oldest first."""
        query = select(DecisionRow).where(DecisionRow.job_id == job_id).order_by(DecisionRow.id)
        with self._session() as s:
            return [DecisionRecord(r.decision, r.by, r.reason, r.api_key, _aware(r.at) or now())
                    for r in s.scalars(query)]

    # Chat -------------------------------------------------------------------------------------------------
    def session_owner(self, session_id: str) -> str | None:
        """The key id that owns a chat session, or None for a new session."""
        with self._session() as s:
            return s.scalar(select(ChatMessageRow.owner).where(ChatMessageRow.session_id == session_id).limit(1))

    def add_messages(self, session_id: str, owner: str, messages: list[dict[str, Any]]) -> None:
        """Append messages to a chat session."""
        with self._session.begin() as s:
            s.add_all(ChatMessageRow(session_id=session_id, owner=owner, message=m, at=now()) for m in messages)

    def messages(self, session_id: str, limit: int) -> list[dict[str, Any]]:
        """The last ``limit`` messages of a session, oldest first."""
        query = (select(ChatMessageRow.message).where(ChatMessageRow.session_id == session_id)
                 .order_by(ChatMessageRow.id.desc()).limit(limit))
        with self._session() as s:
            return list(reversed(list(s.scalars(query))))
