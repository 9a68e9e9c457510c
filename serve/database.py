"""The API database: its SQLAlchemy tables and the engine that holds them.

Eight tables: API keys (as hashes, with a role and an expiry), plan jobs, their events, human decisions on plans,
chat messages, the outcomes of launched plans, the server lease (which ``campaign serve`` runs the jobs of this
database) and the hash-chained audit trail (:mod:`serve.audit`).
:func:`make_engine` opens any SQLAlchemy URL; a SQLite file gets its folder created and write-ahead logging, so
readers never wait for the writing worker.
Every time is stored in UTC. :class:`~serve.store.Store` reads and writes these tables and hands out plain records.

:func:`migrate` brings any database to these tables with the alembic revisions of :mod:`serve.migrations`
(``create_all`` never alters an existing table, so it is not used): a new database is built by them, one of the
previous release (made by ``create_all``, no version table) is stamped with the baseline revision and upgraded in
place. A change of the models comes with a new revision (README, "Database migrations").
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import NullPool


def now() -> datetime:
    """Current time in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of the API tables."""


class ApiKeyRow(Base):
    """An API key, stored as the SHA-256 of the key (the key itself is shown once and never stored)."""

    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    role: Mapped[str] = mapped_column(String(16), default="admin", server_default="admin")
    """``read``, ``plan``, ``approve`` or ``admin`` (:data:`serve.auth.ROLES`); keys made before roles are admin."""
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    """Recorded at most once a minute per key (with the ``key.used`` audit event)."""


class JobRow(Base):
    """One plan request and, once computed, its plan."""

    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(16), index=True)
    brief: Mapped[dict[str, Any]] = mapped_column(JSON)
    plan: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    steps_expected: Mapped[int] = mapped_column(Integer, default=0)
    steps_done: Mapped[int] = mapped_column(Integer, default=0)
    current_step: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    runner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """The server (its lease holder id) that started the job; only it may move the job on from ``running``."""


class ServerLeaseRow(Base):
    """Which ``campaign serve`` runs this database's jobs: one row, renewed by the holder's heartbeat."""

    __tablename__ = "server_leases"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    acquired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class EventRow(Base):
    """A job event: a step started or ended, a cancel was asked for, or the job changed status (ordered by id)."""

    __tablename__ = "job_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class DecisionRow(Base):
    """A human decision on a plan (the audit trail)."""

    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    decision: Mapped[str] = mapped_column(String(16))
    by: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(Text)
    api_key: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class ChatMessageRow(Base):
    """One message of a chat session (LangChain's message dict)."""

    __tablename__ = "chat_messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(String(64), index=True)
    owner: Mapped[str] = mapped_column(String(32))
    message: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class OutcomeRow(Base):
    """What happened to one customer of a launched plan in one arm (a variant id, or ``holdout``): issue 17.

    One row per (plan, customer, arm); ``opened``/``clicked``/``converted``/``revenue`` are null when the shop did
    not report them. ``imported_at`` is when the import that wrote the row ran; ``wave`` is the send wave.
    """

    __tablename__ = "outcomes"
    __table_args__ = (UniqueConstraint("plan_id", "customer_id", "arm", name="uq_outcomes_plan_customer_arm"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    arm: Mapped[str] = mapped_column(String(64))
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    opened: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    clicked: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    converted: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    revenue: Mapped[float | None] = mapped_column(Float, nullable=True)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    wave: Mapped[int] = mapped_column(Integer, default=1)


class AuditEventRow(Base):
    """One event of the append-only audit trail, chained to the one before by ``prev_hash`` (:mod:`serve.audit`).

    ``data`` is the event's canonical JSON text (stored as text so that no database reorders it); ``hash`` is
    sha256(``prev_hash`` + canonical JSON of the row). ``prev_hash`` is unique: two writers that read the same last
    event cannot both append after it (the second one retries), so the trail stays one chain.
    """

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    actor: Mapped[str] = mapped_column(String(120))
    subject: Mapped[str] = mapped_column(String(120))
    data: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64))


def make_engine(url: str) -> Engine:
    """Open an engine for ``url``; for a SQLite file, create its folder and turn on write-ahead logging.

    Args:
        url: SQLAlchemy URL.

    Returns:
        The engine (a pre-pinging pool for a server database).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:  # readers never wait for the writing worker
        _write_ahead_log(connection)
        cursor = connection.cursor()
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


WAL_SWITCH_WAIT_S = 30.0
"""Longest wait for another connection's lock while switching a SQLite database to WAL (its busy timeout's)."""


def _write_ahead_log(connection: Any) -> None:
    """Put a SQLite database in WAL mode, unless it is already (reading the mode takes no lock).

    Switching takes an exclusive lock, and servers connecting to a new database at once had failed with "database
    is locked": a switch that meets another connection's lock is retried for up to :data:`WAL_SWITCH_WAIT_S`. The
    migrator switches before it locks (:func:`_locked`), so servers connecting during a migration find WAL.
    """
    deadline = time.monotonic() + WAL_SWITCH_WAIT_S
    cursor = connection.cursor()
    try:
        while str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
            try:
                cursor.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError as exc:
                # SQLite answers a switch that meets another connection's lock at once, without its busy
                # timeout: wait for it here (measured: 1 of ~10 runs of 4 servers starting on a new database).
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    finally:
        cursor.close()


BASELINE = "0001"
"""The alembic revision of the previous release's schema (what its ``create_all`` made, without version table)."""
MIGRATIONS = Path(__file__).with_name("migrations")
_PG_LOCK = 7_412_905_311  # pg_advisory_xact_lock key: one migrator at a time per Postgres database


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@cache
def head_revision() -> str:
    """Return the newest alembic revision (the schema of these models)."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no alembic revision in {MIGRATIONS / 'versions'}")
    return head


def current_revision(engine: Engine) -> str | None:
    """Return the database's alembic revision, or None (a new database, or one made before migrations)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _unversioned_revision(connection: Connection) -> str | None:
    """The revision an unversioned database already has: None when empty, else what ``create_all`` made.

    The previous release made :data:`BASELINE`; a development build between it and migrations (hand-written
    upgrade) also made ``server_leases`` and ``jobs.runner``, which is revision ``0002``.
    """
    found = inspect(connection)
    if not found.has_table("jobs"):
        return None
    if found.has_table("server_leases") and "runner" in {c["name"] for c in found.get_columns("jobs")}:
        return "0002"
    return BASELINE


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that holds the migration lock (one migrator at a time), committed at exit.

    SQLite: a dedicated engine whose transactions start with ``BEGIN IMMEDIATE`` (the database's write lock; the
    DDL runs inside it). Postgres: a transaction-scoped advisory lock. Other databases: a plain transaction.
    """
    dialect = engine.dialect.name
    database = engine.url.database
    if dialect == "sqlite" and database and database != ":memory:":
        own = create_engine(engine.url, poolclass=NullPool, connect_args={"timeout": 60})

        @event.listens_for(own, "connect")
        def _manual(connection: Any, _record: Any) -> None:  # pysqlite would not wrap DDL in a transaction
            connection.isolation_level = None
            _write_ahead_log(connection)  # before the lock: servers connecting meanwhile need not switch it

        @event.listens_for(own, "begin")
        def _immediate(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        try:
            with own.begin() as connection:
                yield connection
        finally:
            own.dispose()
        return
    with engine.begin() as connection:
        if dialect == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
        yield connection


def migrate(engine: Engine) -> list[str]:
    """Bring the database to the models' schema with the alembic migrations in :mod:`serve.migrations`.

    A new database is upgraded from nothing to the head revision; one made by an earlier release with
    ``create_all`` (tables, no ``alembic_version``) is stamped with the revision it has (:data:`BASELINE` for the
    previous release), then upgraded in place; an up-to-date one is left alone. The check and the upgrade run in
    one transaction under a lock, so servers starting at once migrate once and the others find it done.

    Args:
        engine: The database.

    Returns:
        The revisions applied, oldest first (empty when the database was current).
    """
    head = head_revision()
    if current_revision(engine) == head:
        return []
    script = ScriptDirectory.from_config(_config())
    with _locked(engine) as connection:
        config = _config(connection)
        current = MigrationContext.configure(connection).get_current_revision()
        if current is None and (existing := _unversioned_revision(connection)) is not None:
            command.stamp(config, existing)
            current = existing
        applied = [s.revision for s in script.iterate_revisions(head, current)]
        command.upgrade(config, "head")
    return applied[::-1]
