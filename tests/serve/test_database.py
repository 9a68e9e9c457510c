"""A database of the previous release is upgraded in place: its jobs and plans stay, and the new server runs it."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime

from sqlalchemy import inspect

from agent.brief import Brief
from serve.database import upgrade_schema
from serve.jobs import JobManager
from serve.store import RESTART_REASON, TERMINAL, Store
from tests.previous_release import PREVIOUS_SQLITE_SCHEMA, old_plan_json
from tests.serve.api_harness import SMALL_BRIEF, WAIT_S, BrokenPlanner


def test_a_previous_release_database_is_upgraded_in_place_and_served(tmp_path) -> None:
    db = tmp_path / "old.db"
    brief = json.dumps(Brief.model_validate(SMALL_BRIEF).model_dump(mode="json"))
    at = datetime(2026, 1, 2, tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(db) as old:
        for statement in PREVIOUS_SQLITE_SCHEMA:
            old.execute(statement)
        rows = [("old-done", "done", old_plan_json(), 8), ("old-running", "running", None, 2),
                ("old-queued", "queued", None, 0)]
        old.executemany("INSERT INTO jobs (id, owner, status, brief, plan, steps_expected, steps_done, created_at) "
                        "VALUES (?, 'someone', ?, ?, ?, 8, ?, ?)",
                        [(i, status, brief, plan, done, at) for i, status, plan, done in rows])

    store = Store(f"sqlite:///{db}")
    assert {c["name"] for c in inspect(store.engine).get_columns("jobs")} >= {"runner", "plan", "finished_at"}
    assert "server_leases" in inspect(store.engine).get_table_names()
    assert upgrade_schema(store.engine) == []  # upgraded once; nothing left to add
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
