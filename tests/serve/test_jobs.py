"""A hanging LLM neither holds a cancel nor runs past the plan's LLM time budget (issue 18).

The real plan loop runs on the demo shop's real tools; only the copy model is faked: one that blocks on a
``threading.Event`` until the test releases it, and one that reports time on a simulated clock. Every check reads
the job's recorded events and reason, never the wall clock.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

from agent.brief import Brief
from agent.llm import ChatReply, ChatRequest, FunctionModel
from agent.loop import Planner, PlannerTools
from agent.trace import StepListener
from serve.jobs import JobManager
from serve.store import TERMINAL, JobRecord, Store
from tests.serve.api_harness import SMALL_BRIEF, WAIT_S, copywriter
from tools.copywriting import CopyTool

WRITE_COPY = "during step 6 (write copy)"


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
        assert entered.wait(WAIT_S)  # the first copy request hangs in the model
        cancelled.set()
        now, at_once = jobs.cancel(job.id, "tester")
        assert now.status == "running" and not at_once
        ended = _finished(jobs, job.id)  # while the call still hangs: the model has not been released
        assert not returned.is_set()
        assert ended.status == "cancelled" and ended.plan is None
        assert ended.error == f"cancelled by tester {WRITE_COPY}; no plan was kept"
        assert _steps_started(jobs, job.id)[-1] == "write copy"
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
                           f"is spent: 120.0 s waiting on 3 LLM call(s), stopped {WRITE_COPY}")
    assert len(model.requests) == 3  # the third call spent the budget; no fourth one reached the model
    assert _steps_started(jobs, job.id)[-1] == "write copy"


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
