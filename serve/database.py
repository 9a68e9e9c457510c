"""The API database: its SQLAlchemy tables and the engine that holds them.

Six tables: API keys (as hashes), plan jobs, their events, human decisions on plans, chat messages, and the
server lease (which ``campaign serve`` runs the jobs of this database). :func:`make_engine` opens any SQLAlchemy
URL; a SQLite file gets its folder created and write-ahead logging, so readers never wait for the writing worker.
Every time is stored in UTC. :class:`~serve.store.Store` reads and writes these tables and hands out plain records.

:func:`upgrade_schema` brings a database of an earlier release up to these tables in place: it creates missing
tables and adds missing nullable columns (this release: ``jobs.runner`` and the ``server_leases`` table). The
project has no migration tool; a change that needs more than that (a type change, a new non-null column) must
come with its own upgrade step here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


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
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


def upgrade_schema(engine: Engine) -> list[str]:
    """Create missing tables and add missing nullable columns, in place (a database of an earlier release works).

    Args:
        engine: The database.

    Returns:
        What was added, e.g. ``["jobs.runner"]`` (empty when the schema was current).

    Raises:
        RuntimeError: A missing column is not nullable (it needs an upgrade step of its own).
    """
    existing = set(inspect(engine).get_table_names())
    added = [t.name for t in Base.metadata.sorted_tables if t.name not in existing]
    Base.metadata.create_all(engine)
    with engine.begin() as connection:
        for table in Base.metadata.sorted_tables:
            if table.name not in existing:
                continue
            present = {c["name"] for c in inspect(connection).get_columns(table.name)}
            for column in table.columns:
                if column.name in present:
                    continue
                if not column.nullable:
                    raise RuntimeError(f"{table.name}.{column.name} is missing and not nullable: it needs an upgrade "
                                       "step in serve/database.py")
                kind = column.type.compile(dialect=engine.dialect)
                connection.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))
                added.append(f"{table.name}.{column.name}")
    return added
