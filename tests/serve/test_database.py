"""The API database changes through alembic migrations (serve.migrations), never through ``create_all``.

A database of the previous release is upgraded in place (its jobs and plans stay, its keys become admin keys that
still work, and the new server runs it); the
baseline revision is exactly that release's schema; a database built by the migrations equals the models (a model
changed without a migration fails here); servers starting at once on a new database migrate it once. Each runs on
SQLite and on a throwaway PostgreSQL server (tests/serve/postgres_server.py; skipped without PostgreSQL or psycopg).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, Table, inspect, text

from agent.brief import Brief
from serve.auth import find_key, hash_key, role_allows
from serve.database import BASELINE, Base, _config, current_revision, head_revision, make_engine, migrate
from serve.jobs import JobManager
from serve.store import RESTART_REASON, TERMINAL, Store
from tests.previous_release import PREVIOUS_SQLITE_SCHEMA, old_plan_json
from tests.serve.api_harness import SMALL_BRIEF, WAIT_S, BrokenPlanner


def _previous_release_db(url: str) -> None:
    """Make the previous release's tables: its SQLite DDL as it was, or on Postgres the baseline revision."""
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":
        with sqlite3.connect(engine.url.database or "") as old:
            for statement in PREVIOUS_SQLITE_SCHEMA:
                old.execute(statement)
    else:  # the baseline equals that release's create_all (checked on SQLite below); no version table
        with engine.begin() as connection:
            command.upgrade(_config(connection), BASELINE)
            connection.exec_driver_sql("DROP TABLE alembic_version")
    engine.dispose()


def _model_diffs(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata)


def _schema(engine: Engine) -> dict[str, Any]:
    """Tables with their columns (name, type, nullable), primary key, unique constraints, indexes, foreign keys."""
    found = inspect(engine)
    return {table: {
        "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in found.get_columns(table)],
        "primary_key": found.get_pk_constraint(table)["constrained_columns"],
        "unique": sorted(tuple(u["column_names"]) for u in found.get_unique_constraints(table)),
        "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in found.get_indexes(table)),
        "foreign_keys": sorted((tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                               for f in found.get_foreign_keys(table)),
    } for table in found.get_table_names() if table != "alembic_version"}


def test_a_previous_release_database_is_upgraded_in_place_and_served(new_url: Callable[[], str]) -> None:
    url = new_url()
    _previous_release_db(url)
    brief = Brief.model_validate(SMALL_BRIEF).model_dump(mode="json")
    at = datetime(2026, 1, 2, tzinfo=UTC)
    engine = make_engine(url)
    jobs_table = Table("jobs", MetaData(), autoload_with=engine)  # the old table, as stored
    with engine.begin() as connection:
        connection.execute(jobs_table.insert(), [
            {"id": i, "owner": "someone", "status": status, "brief": brief, "plan": plan, "steps_expected": 8,
             "steps_done": done, "created_at": at}
            for i, status, plan, done in [("old-done", "done", old_plan_json(), 8), ("old-running", "running", None, 2),
                                          ("old-queued", "queued", None, 0)]])
        old_key = "cak_" + "k" * 43  # a key as that release stored it: its hash, no role column
        connection.execute(Table("api_keys", MetaData(), autoload_with=engine).insert(), [
            {"id": "oldkey", "name": "ops", "key_hash": hash_key(old_key), "prefix": old_key[:10], "created_at": at,
             "revoked_at": None},
            {"id": "gone", "name": "ex", "key_hash": hash_key("cak_gone"), "prefix": "cak_gone", "created_at": at,
             "revoked_at": at}])

    assert current_revision(engine) is None  # made by create_all: no version table
    assert migrate(engine) == ["0002", "0003", "0004"]  # stamped with the baseline, then upgraded in place
    assert current_revision(engine) == head_revision() == "0004"
    assert _model_diffs(engine) == []
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).all() == [("0004",)]
        assert tuple(connection.execute(text("SELECT count(*), count(runner) FROM jobs")).one()) == (3, 0)
    engine.dispose()

    store = Store(url)
    assert migrate(store.engine) == []  # upgraded once; nothing left to do
    done = store.job("old-done")
    assert done is not None and done.status == "done" and done.plan == old_plan_json()
    assert sorted((k.id, k.role, k.expires_at) for k in store.api_keys()) == [("gone", "admin", None),
                                                                               ("oldkey", "admin", None)]
    found = find_key(store, old_key)  # the old key still works, with every right
    assert found is not None and found.id == "oldkey" and role_allows(found.role, "admin")
    assert find_key(store, "cak_gone") is None  # and a revoked one stays revoked
    assert store.verify_audit().ok and store.audit_events() == []

    ended = threading.Event()
    jobs = JobManager(store, lambda on_step: BrokenPlanner(), workers=1)
    jobs.add_listener("old-queued", ended.set)
    failed, queued = jobs.start()
    try:
        assert (failed, queued) == (["old-running"], ["old-queued"])
        while (job := store.job("old-queued")) is not None and job.status not in TERMINAL:
            assert ended.wait(WAIT_S), "the resumed job never ended"
            ended.clear()
    finally:
        jobs.stop()
    assert job is not None and job.status == "failed" and job.error == "RuntimeError: the effect model file is corrupt"
    interrupted = store.job("old-running")
    assert interrupted is not None and interrupted.status == "failed" and interrupted.error == RESTART_REASON
    assert store.server_lease() is None  # released at stop
    store.engine.dispose()


def test_the_baseline_revision_is_the_previous_release_schema(tmp_path: Path) -> None:
    old, baseline = f"sqlite:///{tmp_path / 'old.db'}", make_engine(f"sqlite:///{tmp_path / 'baseline.db'}")
    _previous_release_db(old)
    with baseline.begin() as connection:
        command.upgrade(_config(connection), BASELINE)
    assert current_revision(baseline) == BASELINE
    expected = _schema(make_engine(old))
    assert set(expected) == {"api_keys", "chat_messages", "jobs", "decisions", "job_events"}
    assert _schema(baseline) == expected


def test_a_new_database_built_by_the_migrations_equals_the_models(new_url: Callable[[], str]) -> None:
    engine = make_engine(new_url())
    assert migrate(engine) == ["0001", "0002", "0003", "0004"]
    assert current_revision(engine) == head_revision()
    assert _model_diffs(engine) == []  # a model changed without a migration shows up here
    scratch = make_engine(new_url())
    Base.metadata.create_all(scratch)
    assert _schema(engine) == _schema(scratch)
    engine.dispose()
    scratch.dispose()


def test_a_database_of_the_hand_upgraded_development_build_is_stamped_at_its_revision(
        new_url: Callable[[], str]) -> None:
    engine = make_engine(new_url())
    with engine.begin() as connection:  # what that build's create_all made: revision 0002's tables, no version table
        command.upgrade(_config(connection), "0002")
        connection.exec_driver_sql("DROP TABLE alembic_version")
    assert migrate(engine) == ["0003", "0004"]
    assert current_revision(engine) == head_revision()
    assert _model_diffs(engine) == []
    engine.dispose()


def test_servers_starting_at_once_migrate_a_new_database_once(new_url: Callable[[], str]) -> None:
    url = new_url()
    start = threading.Barrier(4)
    applied: list[list[str]] = []
    errors: list[BaseException] = []

    def run() -> None:
        engine = make_engine(url)
        start.wait()
        try:
            applied.append(migrate(engine))
        except BaseException as error:  # collected for the assertion below
            errors.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(applied) == [[], [], [], ["0001", "0002", "0003", "0004"]]
    engine = make_engine(url)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_a_release_3_database_with_keys_upgrades_to_roles_and_they_are_admin(new_url: Callable[[], str]) -> None:
    engine = make_engine(new_url())
    with engine.begin() as connection:  # the release before roles: revision 0003
        command.upgrade(_config(connection), "0003")
    key = "cak_" + "r" * 43
    with engine.begin() as connection:
        connection.execute(Table("api_keys", MetaData(), autoload_with=engine).insert(), [
            {"id": "k3", "name": "crm", "key_hash": hash_key(key), "prefix": key[:10],
             "created_at": datetime(2026, 11, 1, tzinfo=UTC)}])
    assert migrate(engine) == ["0004"]
    assert _model_diffs(engine) == []
    with engine.connect() as connection:
        assert connection.execute(text("SELECT id, role, expires_at, last_used_at FROM api_keys")).all() == [
            ("k3", "admin", None, None)]
    engine.dispose()
