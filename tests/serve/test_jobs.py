"""Jobs under the faults of issue 18: a hanging LLM, and two servers on one database.

A hanging LLM neither holds a cancel nor runs past the plan's LLM time budget: the real plan loop runs on the
demo shop's real tools, only the copy model is faked (one that blocks on a ``threading.Event`` until the test
releases it, one that reports time on a simulated clock). A second server on the database is refused, a server
that lost its lease never overwrites the states of the one that took over, and a server killed on this host is
taken over at once. Every check reads the job's recorded states and events, never the wall clock.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, update

from agent.brief import Brief
from agent.llm import ChatReply, ChatRequest, FunctionModel
from agent.loop import Planner, PlannerTools
from agent.trace import StepListener
from serve.database import ServerLeaseRow
from serve.jobs import JobManager, QueueFullError, ServerBusyError
from serve.store import RESTART_REASON, TERMINAL, JobRecord, Store
from tests.serve.api_harness import SMALL_BRIEF, WAIT_S, HeldPlanner, copywriter
from tools.copywriting import CopyTool

FIRST_LLM_STEP = "during step 5 (choose products)"  # the strategy proposals: the first LLM calls


def _manager(tools: PlannerTools, db: Path, **options: Any) -> JobManager:
    def factory(on_step: StepListener) -> Planner:
        return Planner(tools, concurrency=1, on_event=on_step)  # one call at a time: the order is deterministic

    return JobManager(Store(f"sqlite:///{db}"), factory, workers=1, **options)


def _brief(tools: PlannerTools) -> Brief:
    """The small brief with its filter checked against the shop's vocabulary, as the API submits it."""
    brief = Brief.model_validate(SMALL_BRIEF)
    vocabulary = tools.profiles.store.vocabulary()
    return brief.model_copy(update={"shop": tools.shop.name,
                                    "audience_filter": brief.audience_filter.checked(vocabulary)})


def _plain_brief() -> Brief:
    return Brief.model_validate(SMALL_BRIEF)


def _finished(jobs: JobManager, job_id: str) -> JobRecord:
    """Wait (bounded by WAIT_S) until the job records a final status; return it."""
    done = threading.Event()

    def check() -> None:
        job = jobs.store.job(job_id)
        if job is not None and job.status in TERMINAL:
            done.set()

    jobs.add_listener(job_id, check)
    try:
        check()
        assert done.wait(WAIT_S), f"job {job_id} never ended"
    finally:
        jobs.remove_listener(job_id, check)
    record = jobs.store.job(job_id)
    assert record is not None
    return record


def _steps_started(jobs: JobManager, job_id: str) -> list[str]:
    return [e.data["step"] for e in jobs.store.events_after(job_id) if e.kind == "step_start"]


def test_a_cancel_ends_a_job_whose_llm_call_hangs_and_no_call_starts_after_it(api_tools, tmp_path) -> None:
    entered, release, returned = threading.Event(), threading.Event(), threading.Event()
    calls: list[bool] = []  # per call that reached the model: whether the cancel had been asked for already
    cancelled = threading.Event()

    def hanging(request: ChatRequest) -> ChatReply:
        calls.append(cancelled.is_set())
        entered.set()
        assert release.wait(WAIT_S), "the test never released the model"
        returned.set()
        return copywriter(request)

    tools = dataclasses.replace(api_tools, copy=CopyTool(FunctionModel(hanging, name="hanging"), retries=0))
    jobs = _manager(tools, tmp_path / "api.db")
    jobs.start()
    try:
        job = jobs.submit(_brief(tools), "tester")
        assert entered.wait(WAIT_S)  # the first LLM request (a strategy proposal) hangs in the model
        cancelled.set()
        now, at_once = jobs.cancel(job.id, "tester")
        assert now.status == "running" and not at_once
        ended = _finished(jobs, job.id)  # while the call still hangs: the model has not been released
        assert not returned.is_set()
        assert ended.status == "cancelled" and ended.plan is None
        assert ended.error == f"cancelled by tester {FIRST_LLM_STEP}; no plan was kept"
        assert _steps_started(jobs, job.id)[-1] == "choose products"
        kinds = [e.kind for e in jobs.store.events_after(job.id)]
        assert kinds.count("cancel_requested") == 1 and kinds[-2:] == ["step_end", "status"]
        release.set()
        assert returned.wait(WAIT_S)
    finally:
        release.set()
        jobs.stop()
    assert calls == [False]  # the pending copy requests were dropped: no call reached the model after the cancel


def test_a_plan_past_its_llm_time_budget_fails_with_a_reason(api_tools, tmp_path) -> None:
    clock = [0.0]  # simulated seconds: each call "takes" 40 s

    def slow(request: ChatRequest) -> ChatReply:
        clock[0] += 40.0
        return copywriter(request)

    model = FunctionModel(slow, name="slow")
    tools = dataclasses.replace(api_tools, copy=CopyTool(model, retries=0))
    jobs = _manager(tools, tmp_path / "api.db", llm_budget_s=100.0, clock=lambda: clock[0])
    jobs.start()
    try:
        job = jobs.submit(_brief(tools), "tester")
        ended = _finished(jobs, job.id)
    finally:
        jobs.stop()
    assert ended.status == "failed" and ended.plan is None
    assert ended.error == ("LLMBudgetExceededError: the plan's LLM time budget of 100 s (CAMPAIGN_LLM_PLAN_BUDGET_S) "
                           f"is spent: 120.0 s waiting on 3 LLM call(s), stopped {FIRST_LLM_STEP}")
    assert len(model.requests) == 3  # the third call spent the budget; no fourth one reached the model
    assert _steps_started(jobs, job.id)[-1] == "choose products"


def test_a_plan_within_its_llm_time_budget_is_done(api_tools, tmp_path) -> None:
    clock = [0.0]

    def quick(request: ChatRequest) -> ChatReply:
        clock[0] += 1.0
        return copywriter(request)

    tools = dataclasses.replace(api_tools, copy=CopyTool(FunctionModel(quick, name="quick"), retries=0))
    jobs = _manager(tools, tmp_path / "api.db", llm_budget_s=100.0, clock=lambda: clock[0])
    jobs.start()
    try:
        ended = _finished(jobs, jobs.submit(_brief(tools), "tester").id)
    finally:
        jobs.stop()
    assert ended.status == "done" and ended.error is None and ended.plan is not None


def _held(started: threading.Event, release: threading.Event) -> Any:
    return lambda on_step: HeldPlanner(on_step, started, release, [])


def test_a_second_server_on_the_same_database_is_refused_and_changes_nothing(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'api.db'}"
    started, release = threading.Event(), threading.Event()
    first = JobManager(Store(url), _held(started, release), workers=1, queue_size=4)
    first.start()
    try:
        running = first.submit(_plain_brief(), "tester")
        assert started.wait(WAIT_S)
        queued = first.submit(_plain_brief(), "tester")
        second = JobManager(Store(url), _held(threading.Event(), release), workers=1)
        with pytest.raises(ServerBusyError) as refused:
            second.start()
        assert f"pid {os.getpid()} on host {socket.gethostname()}" in str(refused.value)
        assert "stop it first" in str(refused.value)
        store = Store(url)
        assert [(j.id, j.status) for j in sorted(store.jobs(), key=lambda j: j.created_at)] == [
            (running.id, "running"), (queued.id, "queued")]  # the refused server failed and ran nothing
    finally:
        release.set()
        first.stop(WAIT_S)
    assert Store(url).server_lease() is None
    second.start()  # once the first server stopped, the next one starts
    second.stop(WAIT_S)


def test_a_server_that_lost_its_lease_never_overwrites_the_new_servers_states(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'api.db'}"
    started, release = threading.Event(), threading.Event()
    stalled = JobManager(Store(url), _held(started, release), workers=1, lease_s=3600)
    stalled.start()
    try:
        job = stalled.submit(_plain_brief(), "tester")
        assert started.wait(WAIT_S)
        store = Store(url)
        with store.engine.begin() as connection:  # the first server stalled: its heartbeat stopped long ago
            connection.execute(update(ServerLeaseRow).values(heartbeat_at=datetime(2020, 1, 1, tzinfo=UTC)))
        successor = JobManager(Store(url), _held(threading.Event(), threading.Event()), workers=1, lease_s=3600)
        failed, _ = successor.start()
        assert failed == [job.id]
        release.set()  # the stalled server's plan goes on: its next step and its failure must not be recorded
        stalled.stop(WAIT_S)
        successor.stop(WAIT_S)
    finally:
        release.set()
    ended = store.job(job.id)
    assert ended is not None and ended.status == "failed" and ended.error == RESTART_REASON
    kinds = [(e.kind, e.data.get("status") or e.data.get("step")) for e in store.events_after(job.id)]
    assert kinds == [("status", "queued"), ("status", "running"), ("step_start", "retrieve audience"),
                     ("status", "failed")]  # the stalled server's step end and its own ending were refused


def test_a_server_killed_on_this_host_is_taken_over_at_once(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'api.db'}"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    store = Store(url)
    with store.engine.begin() as connection:  # a live heartbeat, but its process (kill -9) is gone
        connection.execute(insert(ServerLeaseRow).values(name="jobs", holder="killed", host=socket.gethostname(),
                                                         pid=int(dead.stdout), acquired_at=datetime.now(UTC),
                                                         heartbeat_at=datetime.now(UTC)))
    restarted = JobManager(Store(url), _held(threading.Event(), threading.Event()), workers=1)
    restarted.start()
    try:
        lease = store.server_lease()
        assert lease is not None and lease.holder == restarted.server_id and lease.pid == os.getpid()
    finally:
        restarted.stop(WAIT_S)


def test_a_server_whose_lease_was_taken_over_stops_taking_plans(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'api.db'}"
    jobs = JobManager(Store(url), _held(threading.Event(), threading.Event()), workers=1, lease_s=0.3)
    jobs.start()
    try:
        with Store(url).engine.begin() as connection:  # another server took the lease over
            connection.execute(update(ServerLeaseRow).values(holder="another-server"))
        assert jobs._heartbeat is not None
        jobs._heartbeat.join(WAIT_S)  # the heartbeat ends once it finds the lease gone
        assert not jobs._heartbeat.is_alive()
        with pytest.raises(QueueFullError, match="another server took its database over"):
            jobs.submit(_plain_brief(), "tester")
    finally:
        jobs.stop(WAIT_S)
    lease = Store(url).server_lease()
    assert lease is not None and lease.holder == "another-server"  # stopping did not release the other's lease
