"""The API database changes through alembic migrations (serve.migrations), never through ``create_all``.

A database of the previous release is upgraded in place (its jobs and plans stay, and the new server runs it); the
baseline revision is exactly that release's schema; a database built by the migrations equals the models (a model
changed without a migration fails here); servers starting at once on a new database migrate it once.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from agent.brief import Brief
from serve.database import BASELINE, Base, _config, current_revision, head_revision, make_engine, migrate
from serve.jobs import JobManager
from serve.store import RESTART_REASON, TERMINAL, Store
from tests.previous_release import PREVIOUS_SQLITE_SCHEMA, old_plan_json
from tests.serve.api_harness import SMALL_BRIEF, WAIT_S, BrokenPlanner


def _previous_release_db(path: Path) -> None:
    with sqlite3.connect(path) as old:
        for statement in PREVIOUS_SQLITE_SCHEMA:
            old.execute(statement)


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


def test_a_previous_release_database_is_upgraded_in_place_and_served(tmp_path) -> None:
    db = tmp_path / "old.db"
    _previous_release_db(db)
    brief = json.dumps(Brief.model_validate(SMALL_BRIEF).model_dump(mode="json"))
    at = datetime(2026, 1, 2, tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(db) as old:
        rows = [("old-done", "done", old_plan_json(), 8), ("old-running", "running", None, 2),
                ("old-queued", "queued", None, 0)]
        old.executemany("INSERT INTO jobs (id, owner, status, brief, plan, steps_expected, steps_done, created_at) "
                        "VALUES (?, 'someone', ?, ?, ?, 8, ?, ?)",
                        [(i, status, brief, plan, done, at) for i, status, plan, done in rows])

    engine = make_engine(f"sqlite:///{db}")
    assert current_revision(engine) is None  # made by create_all: no version table
    assert migrate(engine) == ["0002"]  # stamped with the baseline, then upgraded in place
    assert current_revision(engine) == head_revision() == "0002"
    assert _model_diffs(engine) == []
    engine.dispose()

    store = Store(f"sqlite:///{db}")
    assert migrate(store.engine) == []  # upgraded once; nothing left to do
    with sqlite3.connect(db) as upgraded:
        assert upgraded.execute("SELECT version_num FROM alembic_version").fetchall() == [("0002",)]
        assert upgraded.execute("SELECT count(*), count(runner) FROM jobs").fetchone() == (3, 0)
    done = store.job("old-done")
    assert done is not None and done.status == "done" and done.plan == old_plan_json()

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


def test_the_baseline_revision_is_the_previous_release_schema(tmp_path) -> None:
    old, baseline = tmp_path / "old.db", tmp_path / "baseline.db"
    _previous_release_db(old)
    engine = make_engine(f"sqlite:///{baseline}")
    with engine.begin() as connection:
        command.upgrade(_config(connection), BASELINE)
    assert current_revision(engine) == BASELINE
    expected = _schema(make_engine(f"sqlite:///{old}"))
    assert set(expected) == {"api_keys", "chat_messages", "jobs", "decisions", "job_events"}
    assert _schema(engine) == expected


def test_a_new_database_built_by_the_migrations_equals_the_models(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    assert migrate(engine) == ["0001", "0002"]
    assert current_revision(engine) == head_revision()
    assert _model_diffs(engine) == []  # a model changed without a migration shows up here
    scratch = make_engine(f"sqlite:///{tmp_path / 'create_all.db'}")
    Base.metadata.create_all(scratch)
    assert _schema(engine) == _schema(scratch)


def test_a_database_of_the_hand_upgraded_development_build_is_stamped_at_its_revision(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'dev.db'}")
    Base.metadata.create_all(engine)  # what that build made: this schema, no version table
    assert migrate(engine) == []
    assert current_revision(engine) == "0002"


def test_servers_starting_at_once_migrate_a_new_database_once(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
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
    assert sorted(applied) == [[], [], [], ["0001", "0002"]]
    assert current_revision(make_engine(url)) == head_revision()
