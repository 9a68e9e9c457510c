"""Persistence of the campaign API with SQLAlchemy: API keys, plan jobs, their events and decisions, chats.

One :class:`Store` wraps an engine for any SQLAlchemy URL (default: a SQLite file under ``settings.home``).
Methods open a short transaction each and return plain records (:class:`KeyRecord`, :class:`JobRecord`,
:class:`EventRecord`, :class:`DecisionRecord`), so callers never hold a session and worker threads can share
the store. Plans are stored as their JSON text; step events as JSON. The tables and the engine (SQLite with
write-ahead logging) are in :mod:`serve.database`.

The audit trail (:mod:`serve.audit`) is append-only: decisions, outcome imports and key changes append their event
in the same transaction as the change, and the store has no method that updates or deletes an event.

One server runs the jobs of a database: it holds the server lease (:meth:`Store.acquire_server_lease`) and
renews it; a second one is refused while the lease is live (:class:`ServerBusyError`), on SQLite and on a server
database alike. Every move of a job is a conditional update: a job leaves ``queued`` only once
(:meth:`Store.claim_job`), and only the server that started a job may record its steps or end it
(``runner=``), so a worker of a server that lost its lease never overwrites a state it does not own.
"""

from __future__ import annotations

import json
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from serve.audit import GENESIS, AuditEvent, AuditVerdict, canonical_json, event_hash, verify_chain
from serve.database import (
    ApiKeyRow,
    AuditEventRow,
    ChatMessageRow,
    DecisionRow,
    EventRow,
    JobRow,
    OutcomeRow,
    ServerLeaseRow,
    make_engine,
    migrate,
    now,
)

Status = Literal["queued", "running", "done", "failed", "cancelled"]
TERMINAL: tuple[Status, ...] = ("done", "failed", "cancelled")
RESTART_REASON = "interrupted by a server restart"
CANCEL_REQUESTED = "cancel_requested"  # event kind: someone asked a running job to stop at its next step
LEASE = "jobs"  # the one server lease of a database
AUDIT_RETRIES = 20  # appends that lost the race for the chain's end to another process are retried this often
_PG_AUDIT_LOCK = 7_412_905_312  # pg_advisory_xact_lock key: one audit append at a time per Postgres database
T = TypeVar("T")


class ServerBusyError(RuntimeError):
    """Another live ``campaign serve`` holds this database's server lease."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


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
    role: str = "admin"
    expires_at: datetime | None = None
    last_used_at: datetime | None = None

    def active(self, at: datetime) -> bool:
        """Whether the key is accepted at ``at``: not revoked and not expired."""
        return self.revoked_at is None and (self.expires_at is None or at < self.expires_at)


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
    return KeyRecord(row.id, row.name, row.prefix, _aware(row.created_at) or now(), _aware(row.revoked_at),
                     row.role, _aware(row.expires_at), _aware(row.last_used_at))


def _event(row: AuditEventRow) -> AuditEvent:
    return AuditEvent(row.id, _aware(row.at) or now(), row.kind, row.actor, row.subject, json.loads(row.data),
                      row.prev_hash, row.hash)


def _job(row: JobRow) -> JobRecord:
    return JobRecord(
        row.id, row.owner, row.status, row.brief, row.plan, row.error, row.steps_expected, row.steps_done,
        row.current_step, _aware(row.created_at) or now(), _aware(row.started_at), _aware(row.finished_at),
    )


@dataclass(frozen=True)
class LeaseRecord:
    """Who holds the server lease of a database."""

    holder: str
    host: str
    pid: int
    acquired_at: datetime
    heartbeat_at: datetime

    def describe(self, at: datetime) -> str:
        """Say who holds it, e.g. ``"pid 4242 on host web-1 (last heartbeat 3 s ago)"``."""
        ago = (at - self.heartbeat_at).total_seconds()
        return f"pid {self.pid} on host {self.host} (last heartbeat {ago:.0f} s ago)"


OUTCOME_VALUES = ("sent_at", "opened", "clicked", "converted", "revenue", "wave")
"""The stored values of an outcome; a row whose values differ from the stored ones changes it."""


@dataclass(frozen=True)
class OutcomeRecord:
    """One customer's outcome in one arm of a plan (``row`` names where it came from, e.g. ``line 3``)."""

    customer_id: str
    arm: str
    sent_at: datetime
    opened: bool | None = None
    clicked: bool | None = None
    converted: bool | None = None
    revenue: float | None = None
    wave: int = 1
    row: str = ""
    imported_at: datetime | None = None

    def values(self) -> tuple[Any, ...]:
        """The stored values (:data:`OUTCOME_VALUES`), times in UTC."""
        return tuple(_aware(v) if isinstance(v, datetime) else v for v in (getattr(self, f) for f in OUTCOME_VALUES))


@dataclass(frozen=True)
class OutcomeWrite:
    """What one import did: rows added, rows already stored as given, stored rows replaced."""

    inserted: int
    unchanged: int
    replaced: int


class OutcomeConflictError(ValueError):
    """Rows that would change stored outcomes, without ``replace``: ``conflicts`` is (row, message) per row."""

    def __init__(self, conflicts: list[tuple[str, str]]) -> None:
        self.conflicts = conflicts
        super().__init__(f"{len(conflicts)} rows would change stored outcomes (replace them explicitly)")


def _lease(row: ServerLeaseRow) -> LeaseRecord:
    return LeaseRecord(row.holder, row.host, row.pid, _aware(row.acquired_at) or now(),
                       _aware(row.heartbeat_at) or now())


class Store:
    """The API database.

    Args:
        url: SQLAlchemy URL, e.g. ``sqlite:///var/campaign.db`` or ``postgresql+psycopg://…``.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        migrate(self.engine)  # alembic: a new database is built, one of an earlier release upgraded in place
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self._audit_lock = threading.Lock()  # this process appends one event at a time (the chain has one end)

    # Server lease -----------------------------------------------------------------------------------------
    def server_lease(self) -> LeaseRecord | None:
        """Return the server lease as stored (live or not), or None."""
        with self._session() as s:
            row = s.get(ServerLeaseRow, LEASE)
            return _lease(row) if row else None

    def blocking_lease(self, holder: str, ttl_s: float) -> LeaseRecord | None:
        """Return the lease of another live server, or None when ``holder`` may take the lease.

        A lease is free when nobody holds it, ``holder`` holds it, its heartbeat is older than ``ttl_s``, or its
        holder was a process of this host that no longer exists (a server killed with ``kill -9``).
        """
        lease = self.server_lease()
        if lease is None or lease.holder == holder:
            return None
        if now() - lease.heartbeat_at > timedelta(seconds=ttl_s):
            return None
        if lease.host == socket.gethostname() and lease.pid != os.getpid() and not _pid_alive(lease.pid):
            return None
        return lease

    def acquire_server_lease(self, holder: str, ttl_s: float) -> LeaseRecord | None:
        """Take this database's server lease for ``holder`` (this process).

        Args:
            holder: The server's id.
            ttl_s: How long a lease stays live without a heartbeat.

        Returns:
            The lease taken over from a dead or silent server, or None when it was free.

        Raises:
            ServerBusyError: Another live server holds it (the message says which and what to do).
        """
        for _ in range(3):  # lost races with another starting server are retried
            previous = self.server_lease()
            blocking = self.blocking_lease(holder, ttl_s)
            if blocking is not None:
                raise ServerBusyError(
                    f"another `campaign serve` runs the jobs of this database ({self.engine.url!r}): "
                    f"{blocking.describe(now())}; stop it first, or give this server its own CAMPAIGN_DB_URL "
                    f"(its lease expires {ttl_s:g} s after its last heartbeat)")
            values = {"holder": holder, "host": socket.gethostname(), "pid": os.getpid(), "heartbeat_at": now()}
            try:
                with self._session.begin() as s:
                    if previous is None:
                        s.add(ServerLeaseRow(name=LEASE, acquired_at=now(), **values))
                        return None
                    taken = s.execute(update(ServerLeaseRow).where(
                        ServerLeaseRow.name == LEASE, ServerLeaseRow.holder == previous.holder,
                        ServerLeaseRow.heartbeat_at == previous.heartbeat_at).values(acquired_at=now(), **values))
                    if taken.rowcount == 1:  # type: ignore[attr-defined]
                        return None if previous.holder == holder else previous
            except IntegrityError:
                continue
        raise ServerBusyError("another `campaign serve` is starting on this database at the same time; retry")

    def renew_server_lease(self, holder: str) -> bool:
        """Record a heartbeat of ``holder``; False when it no longer holds the lease."""
        with self._session.begin() as s:
            renewed = s.execute(update(ServerLeaseRow).where(ServerLeaseRow.name == LEASE,
                                                             ServerLeaseRow.holder == holder)
                                .values(heartbeat_at=now()))
            return bool(renewed.rowcount == 1)  # type: ignore[attr-defined]

    def release_server_lease(self, holder: str) -> None:
        """Give the lease up (a server that stops), if ``holder`` still holds it."""
        with self._session.begin() as s:
            s.execute(delete(ServerLeaseRow).where(ServerLeaseRow.name == LEASE, ServerLeaseRow.holder == holder))

    # Audit trail ----------------------------------------------------------------------------------------
    def _audited(self, change: Callable[[Session], T],
                 event: Callable[[T], tuple[str, str, str, dict[str, Any]] | None]) -> T:
        """Run ``change`` and append its audit event in one transaction; return what ``change`` returned.

        ``event`` turns the result into ``(kind, actor, subject, data)``, or None when nothing happened. Appends of
        this process are serialized by a lock, and on Postgres those of every process by a transaction-scoped
        advisory lock; elsewhere one that loses the chain's end to another process (the unique ``prev_hash``, or
        SQLite's write lock) is rolled back whole and retried, so a change is never stored without its event.
        """
        with self._audit_lock:
            for attempt in range(AUDIT_RETRIES):
                try:
                    with self._session.begin() as s:
                        if self.engine.dialect.name == "postgresql":
                            s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_AUDIT_LOCK})
                        result = change(s)
                        s.flush()  # the change's writes first: on SQLite they take the write lock before the read
                        described = event(result)
                        if described is None:
                            return result
                        kind, actor, subject, data = described
                        last = s.scalar(select(AuditEventRow.hash).order_by(AuditEventRow.id.desc()).limit(1))
                        prev, at, body = last or GENESIS, now(), canonical_json(data)
                        s.add(AuditEventRow(at=at, kind=kind, actor=actor[:120], subject=subject[:120], data=body,
                                            prev_hash=prev, hash=event_hash(prev, at, kind, actor[:120],
                                                                            subject[:120], body)))
                    return result
                except (IntegrityError, OperationalError):
                    if attempt == AUDIT_RETRIES - 1:
                        raise
                    time.sleep(random.uniform(0.0, 0.01 * (attempt + 1)))  # writers of other processes spread out
        raise AssertionError("unreachable")

    def audit(self, kind: str, actor: str, subject: str, data: dict[str, Any] | None = None) -> None:
        """Append an event to the audit trail (e.g. ``plan.queued`` by ``key:ana`` on a plan id)."""
        self._audited(lambda s: None, lambda _: (kind, actor, subject, data or {}))

    def audit_events(self, limit: int | None = None) -> list[AuditEvent]:
        """The newest ``limit`` events of the audit trail (all with None), oldest first."""
        query = select(AuditEventRow).order_by(AuditEventRow.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self._session() as s:
            return [_event(r) for r in reversed(list(s.scalars(query)))]

    def verify_audit(self) -> AuditVerdict:
        """Walk the whole audit trail, oldest first, and report OK or the first event that breaks the chain."""
        columns = (AuditEventRow.id, AuditEventRow.at, AuditEventRow.kind, AuditEventRow.actor, AuditEventRow.subject,
                   AuditEventRow.data, AuditEventRow.prev_hash, AuditEventRow.hash)
        with self._session() as s:
            rows = s.execute(select(*columns).order_by(AuditEventRow.id).execution_options(yield_per=1000))
            return verify_chain(tuple(r) for r in rows)  # type: ignore[misc]

    # API keys ---------------------------------------------------------------------------------------------
    def add_key(self, name: str, key_hash: str, prefix: str, role: str = "admin", expires_at: datetime | None = None,
                actor: str = "cli") -> KeyRecord:
        """Store a new key's hash under ``name`` with ``role`` (and an expiry), and audit it (``key.created``)."""
        def change(s: Session) -> ApiKeyRow:
            row = ApiKeyRow(id=uuid.uuid4().hex[:12], name=name, key_hash=key_hash, prefix=prefix, created_at=now(),
                            role=role, expires_at=expires_at)
            s.add(row)
            return row

        row = self._audited(change, lambda r: ("key.created", actor, r.id, {
            "name": name, "role": role, "expires_at": expires_at.isoformat() if expires_at else None}))
        return _key(row)

    def key_by_hash(self, key_hash: str, at: datetime | None = None) -> KeyRecord | None:
        """Return the key with this hash if it is active at ``at`` (default now): not revoked nor expired."""
        with self._session() as s:
            row = s.scalar(select(ApiKeyRow).where(ApiKeyRow.key_hash == key_hash, ApiKeyRow.revoked_at.is_(None)))
            record = _key(row) if row else None
        return record if record is not None and record.active(at or now()) else None

    def api_keys(self) -> list[KeyRecord]:
        """All keys, oldest first."""
        with self._session() as s:
            return [_key(r) for r in s.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at))]

    def revoke_key(self, id_or_name: str, actor: str = "cli", by_name: bool = True) -> list[KeyRecord]:
        """Revoke the key with this id, or every active key with this name; return what was revoked (audited).

        With ``by_name`` False only the id is matched.
        """
        def change(s: Session) -> list[ApiKeyRow]:
            match = (ApiKeyRow.id == id_or_name) | (ApiKeyRow.name == id_or_name) if by_name else (
                ApiKeyRow.id == id_or_name)
            rows = list(s.scalars(select(ApiKeyRow).where(match, ApiKeyRow.revoked_at.is_(None))))
            for row in rows:
                row.revoked_at = now()
            return rows

        rows = self._audited(change, lambda rs: ("key.revoked", actor, ",".join(r.id for r in rs)[:120], {
            "asked": id_or_name, "keys": [{"id": r.id, "name": r.name} for r in rs]}) if rs else None)
        return [_key(r) for r in rows]

    def record_key_use(self, key_id: str, key_name: str, route: str) -> None:
        """Record that a key was used: its ``last_used_at`` and a ``key.used`` audit event naming the route.

        The caller bounds how often (the API: the first request of each key in each minute).
        """
        def change(s: Session) -> None:
            s.execute(update(ApiKeyRow).where(ApiKeyRow.id == key_id).values(last_used_at=now()))

        self._audited(change, lambda _: ("key.used", f"key:{key_name}", key_id, {"route": route}))

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
                   steps_done: int | None = None, expected: str | tuple[str, ...] | None = None,
                   runner: str | None = None) -> bool:
        """Move a job to ``status`` (running, done, failed or cancelled) and record the status event.

        The update is conditional, so no caller overwrites a state it does not own: with ``expected`` the job
        moves only from that status (or one of them), with ``runner`` only while that server runs it.

        Args:
            job_id: The job.
            status: The new status.
            error: Why a job failed or was cancelled.
            plan: The plan's JSON (done).
            steps_done: Steps in the plan's trace (done).
            expected: Status(es) the job must have now; None: any.
            runner: The server that must be running the job (its status ``running`` and its runner this one).

        Returns:
            Whether the job moved (False: its status or runner is not what the caller expected).
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
        query = update(JobRow).where(JobRow.id == job_id)
        if expected is not None:
            query = query.where(JobRow.status.in_([expected] if isinstance(expected, str) else expected))
        if runner is not None:
            query = query.where(JobRow.status == "running", JobRow.runner == runner)
        with self._session.begin() as s:
            if s.execute(query.values(**values)).rowcount != 1:  # type: ignore[attr-defined]
                return False
            data = {"status": status} | ({"error": error} if error else {})
            s.add(EventRow(job_id=job_id, kind="status", data=data, at=now()))
        return True

    def claim_job(self, job_id: str, runner: str) -> bool:
        """Start a queued job for server ``runner``; False when it is no longer queued (cancelled, or taken)."""
        with self._session.begin() as s:
            claimed = s.execute(update(JobRow).where(JobRow.id == job_id, JobRow.status == "queued")
                                .values(status="running", runner=runner, started_at=now(), error=None))
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return False
            s.add(EventRow(job_id=job_id, kind="status", data={"status": "running"}, at=now()))
        return True

    def add_step_event(self, job_id: str, kind: str, step: dict[str, Any], runner: str | None = None) -> bool:
        """Record a step start or end and update the job's progress.

        With ``runner``, only while that server runs the job; returns whether the event was recorded.
        """
        query = update(JobRow).where(JobRow.id == job_id)
        if runner is not None:
            query = query.where(JobRow.status == "running", JobRow.runner == runner)
        if kind == "step_start":
            query = query.values(current_step=step.get("step"))
        else:
            query = query.values(steps_done=JobRow.steps_done + 1, current_step=None)
        with self._session.begin() as s:
            if s.execute(query).rowcount != 1:  # type: ignore[attr-defined]
                return False
            s.add(EventRow(job_id=job_id, kind=kind, data=step, at=now()))
        return True

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

        Call it holding the server lease (no other live server runs jobs then). A job left running is failed with
        :data:`RESTART_REASON`, or cancelled if someone had asked it to stop. Cancelled jobs are terminal and
        never resumed.
        """
        with self._session() as s:
            running = list(s.scalars(select(JobRow.id).where(JobRow.status == "running")))
            queued = list(s.scalars(select(JobRow.id).where(JobRow.status == "queued").order_by(JobRow.created_at)))
        ended = []
        for job_id in running:
            by = self.cancel_requester(job_id)
            if by is None:
                moved = self.set_status(job_id, "failed", error=RESTART_REASON, expected="running")
            else:
                moved = self.set_status(job_id, "cancelled", expected="running",
                                        error=f"cancelled by {by}; the server restarted before the plan reached "
                                              "its next step")
            if moved:
                ended.append(job_id)
        return ended, queued

    # Decisions --------------------------------------------------------------------------------------------
    def add_decision(self, job_id: str, decision: str, by: str, reason: str, api_key: str) -> DecisionRecord:
        """Append a human decision to the job's decisions and to the audit trail (``plan.approved``/``rejected``)."""
        def change(s: Session) -> DecisionRow:
            row = DecisionRow(job_id=job_id, decision=decision, by=by, reason=reason, api_key=api_key, at=now())
            s.add(row)
            return row

        row = self._audited(change, lambda r: (f"plan.{decision}", f"key:{api_key}", job_id,
                                               {"by": by, "reason": reason}))
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

    # Outcomes ---------------------------------------------------------------------------------------------
    def outcomes(self, plan_id: str) -> list[OutcomeRecord]:
        """Return a plan's stored outcomes, by customer and arm."""
        columns = [getattr(OutcomeRow, f) for f in ("customer_id", "arm", *OUTCOME_VALUES, "imported_at")]
        with self._session() as s:
            rows = s.execute(select(*columns).where(OutcomeRow.plan_id == plan_id)
                             .order_by(OutcomeRow.customer_id, OutcomeRow.arm))
            return [OutcomeRecord(c, a, _aware(sent) or now(), opened, clicked, converted, revenue, wave,
                                  imported_at=_aware(at))
                    for c, a, sent, opened, clicked, converted, revenue, wave, at in rows]

    def write_outcomes(self, plan_id: str, records: list[OutcomeRecord], *, replace: bool = False,
                       actor: str = "cli", source: str = "") -> OutcomeWrite:
        """Store a plan's outcomes in one transaction: new rows are added, rows stored as given change nothing.

        The import is audited (``outcomes.imported``, with its counts) in the same transaction.

        Args:
            plan_id: The plan (a job id).
            records: One per (customer, arm), already validated (no duplicates).
            replace: Let rows change stored outcomes; otherwise any such row rejects the whole import.
            actor: Who imports them (``key:NAME`` or ``cli``), for the audit trail.
            source: The file's name, for the audit trail.

        Returns:
            How many rows were added, already stored, and replaced.

        Raises:
            OutcomeConflictError: Without ``replace``, rows whose values differ from the stored ones (nothing is
                written).
        """
        at = now()

        def change(s: Session) -> OutcomeWrite:
            columns = [OutcomeRow.id, OutcomeRow.customer_id, OutcomeRow.arm,
                       *(getattr(OutcomeRow, f) for f in OUTCOME_VALUES)]
            stored = {(row[1], row[2]): (row[0], tuple(_aware(v) if isinstance(v, datetime) else v for v in row[3:]))
                      for row in s.execute(select(*columns).where(OutcomeRow.plan_id == plan_id))}
            new: list[OutcomeRecord] = []
            changed: list[tuple[int, OutcomeRecord]] = []
            conflicts: list[tuple[str, str]] = []
            for record in records:
                found = stored.get((record.customer_id, record.arm))
                if found is None:
                    new.append(record)
                    continue
                row_id, before = found
                after = record.values()
                if before == after:
                    continue
                changed.append((row_id, record))
                differs = [f"{f} {b} -> {a}" for f, b, a in zip(OUTCOME_VALUES, before, after, strict=True) if b != a]
                conflicts.append((record.row, f"changes the stored outcome of customer {record.customer_id!r} arm "
                                              f"{record.arm!r} ({', '.join(differs)})"))
            if conflicts and not replace:
                raise OutcomeConflictError(conflicts)
            if changed:  # ORM bulk update by primary key
                s.execute(update(OutcomeRow), [{"id": row_id, "imported_at": at,
                                                **{f: getattr(r, f) for f in OUTCOME_VALUES}} for row_id, r in changed])
            if new:  # one executemany
                s.execute(insert(OutcomeRow), [{"plan_id": plan_id, "customer_id": r.customer_id, "arm": r.arm,
                                                "imported_at": at, **{f: getattr(r, f) for f in OUTCOME_VALUES}}
                                               for r in new])
            return OutcomeWrite(inserted=len(new), unchanged=len(records) - len(new) - len(changed),
                                replaced=len(changed))

        return self._audited(change, lambda w: ("outcomes.imported", actor, plan_id, {
            "source": source, "rows": len(records), "inserted": w.inserted, "unchanged": w.unchanged,
            "replaced": w.replaced, "replace": replace}))
