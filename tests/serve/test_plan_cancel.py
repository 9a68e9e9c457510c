"""Cancelling plan jobs over HTTP: queued ones at once, running ones at their next step, and across restarts.

The planner is faked where only the ordering matters (:class:`HeldPlanner` stays in its first step until the
test releases it) and real where the plan loop itself must stop (the loop's own steps report to the job).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from agent.brief import Brief
from agent.loop import Planner
from agent.plan import AudienceSummary, CampaignPlan
from agent.trace import StepEvent, StepListener, TraceStep
from serve.store import Store
from tests.serve.api_harness import SMALL_BRIEF, WAIT_S, BrokenPlanner, HeldPlanner, events, make_app, new_key


def brief(name: str) -> dict[str, Any]:
    return {**SMALL_BRIEF, "name": name}


def statuses(stream: list[tuple[str, str | None, dict[str, Any]]]) -> list[str]:
    return [data["status"] for kind, _, data in stream if kind == "status"]


def test_a_queued_plan_is_cancelled_at_once_and_never_runs_and_a_running_one_stops(settings, api_tools, tmp_path):
    db = tmp_path / "api.db"
    headers = new_key(db, "tester")
    started, release, ran = threading.Event(), threading.Event(), []
    app = make_app(settings, api_tools, db, lambda on_step: HeldPlanner(on_step, started, release, ran),
                   api_workers=1, api_queue_size=4)
    with TestClient(app) as client:
        first = client.post("/v1/plans", json=brief("first"), headers=headers).json()
        assert started.wait(WAIT_S)  # the only worker is inside the first job's first step
        second = client.post("/v1/plans", json=brief("second"), headers=headers).json()
        assert second["status"] == "queued"

        cancelled = client.post(f"/v1/plans/{second['id']}/cancel", headers=headers)
        assert cancelled.status_code == 200, cancelled.text
        body = cancelled.json()
        assert body["status"] == "cancelled" and body["error"] == "cancelled by tester before it started"
        assert body["started_at"] is None and body["finished_at"] and body["plan"] is None
        assert client.get("/healthz").json()["jobs"]["queued"] == 0
        assert statuses(events(client, second["id"], headers)) == ["queued", "cancelled"]  # the stream ends
        again = client.post(f"/v1/plans/{second['id']}/cancel", headers=headers)
        assert again.status_code == 409 and "already cancelled" in again.json()["detail"]

        stopping = client.post(f"/v1/plans/{first['id']}/cancel", headers=headers)
        assert stopping.status_code == 202 and stopping.json()["status"] == "running"
        assert client.post(f"/v1/plans/{first['id']}/cancel", headers=headers).status_code == 202  # harmless
        release.set()
        stream = events(client, first["id"], headers)
        assert statuses(stream) == ["queued", "running", "cancelled"]
        assert [data for kind, _, data in stream if kind == "cancel_requested"] == [{"by": "tester"}]
        assert [data["step"] for kind, _, data in stream if kind == "step_start"] == ["retrieve audience"]
        reason = "cancelled by tester after step 1 (retrieve audience); no plan was kept"
        assert stream[-1][2] == {"status": "cancelled", "error": reason}
        stopped = client.get(f"/v1/plans/{first['id']}", headers=headers).json()
        assert stopped["status"] == "cancelled" and stopped["error"] == reason and stopped["plan"] is None
        assert stopped["progress"]["steps_done"] == 1 and stopped["progress"]["current_step"] is None

        third = client.post("/v1/plans", json=brief("third"), headers=headers).json()
        assert statuses(events(client, third["id"], headers))[-1] == "failed"  # the fake makes no plan
        assert ran == ["first", "third"]  # the worker took the third job, never the cancelled second one

        listed = client.get("/v1/plans", params={"status": "cancelled"}, headers=headers).json()
        assert [(j["name"], j["status"]) for j in listed] == [("second", "cancelled"), ("first", "cancelled")]
        assert [j["name"] for j in client.get("/v1/plans", params={"status": "failed"}, headers=headers).json()
                ] == ["third"]
        assert client.get("/v1/plans", params={"status": "stopped"}, headers=headers).status_code == 422


def test_a_running_plan_loop_stops_before_its_next_step(settings, api_tools, tmp_path):
    db = tmp_path / "api.db"
    headers = new_key(db, "tester")
    segmented, release = threading.Event(), threading.Event()

    def planner(on_step: StepListener) -> Planner:
        def held(event: StepEvent, step: TraceStep) -> None:
            on_step(event, step)
            if event == "end" and step.index == 2:  # the real loop has formed the segments
                segmented.set()
                assert release.wait(WAIT_S), "the test never released the planner"

        return Planner(api_tools, on_event=held)

    with TestClient(make_app(settings, api_tools, db, planner)) as client:
        job = client.post("/v1/plans", json=SMALL_BRIEF, headers=headers).json()
        assert segmented.wait(WAIT_S)
        assert client.post(f"/v1/plans/{job['id']}/cancel", headers=headers).status_code == 202
        release.set()
        stream = events(client, job["id"], headers)
        assert statuses(stream) == ["queued", "running", "cancelled"]
        assert [kind for kind, _, _ in stream].count("step_start") == 2  # the third step never started
        error = stream[-1][2]["error"]
        assert error.startswith("cancelled by tester before step 3 (") and error.endswith("; no plan was kept")
        stopped = client.get(f"/v1/plans/{job['id']}", headers=headers).json()
        assert stopped["status"] == "cancelled" and stopped["plan"] is None
        assert stopped["progress"]["steps_done"] == 2
        review = client.post(f"/v1/plans/{job['id']}/approve", json={"by": "A", "reason": "B"}, headers=headers)
        assert review.status_code == 409 and "cancelled" in review.json()["detail"]


def test_a_cancel_that_arrives_after_the_last_step_still_discards_the_plan(settings, api_tools, tmp_path):
    finished, release = threading.Event(), threading.Event()

    class Finishing:  # every step is done; the plan is about to be returned
        def run(self, brief: Brief) -> CampaignPlan:
            plan = CampaignPlan(plan_id="p", created_at=datetime.now(UTC), brief=brief, llm_model="fake",
                                audience=AudienceSummary(query=brief.audience, filter_used={}, size=0))
            finished.set()
            assert release.wait(WAIT_S), "the test never released the planner"
            return plan

    db = tmp_path / "api.db"
    headers = new_key(db, "tester")
    with TestClient(make_app(settings, api_tools, db, lambda on_step: Finishing())) as client:
        job = client.post("/v1/plans", json=SMALL_BRIEF, headers=headers).json()
        assert finished.wait(WAIT_S)
        assert client.post(f"/v1/plans/{job['id']}/cancel", headers=headers).status_code == 202
        release.set()
        assert events(client, job["id"], headers)[-1][2] == {
            "status": "cancelled", "error": "cancelled by tester after the last step; no plan was kept"}
        assert client.get(f"/v1/plans/{job['id']}", headers=headers).json()["plan"] is None


def test_cancelling_a_plan_that_ended_answers_409_and_an_unknown_one_404(settings, api_tools, tmp_path):
    db = tmp_path / "api.db"
    headers = new_key(db)
    store = Store(f"sqlite:///{db}")
    store.add_job("was-done", "someone", Brief.model_validate(SMALL_BRIEF).model_dump(mode="json"), 8)
    store.set_status("was-done", "running")
    store.set_status("was-done", "done")
    with TestClient(make_app(settings, api_tools, db, lambda on_step: BrokenPlanner())) as client:
        done = client.post("/v1/plans/was-done/cancel", headers=headers)
        assert done.status_code == 409
        assert done.json()["detail"] == ("plan was-done is already done; only a queued or running plan can be "
                                         "cancelled")
        assert client.get("/v1/plans/was-done", headers=headers).json()["status"] == "done"

        failed = client.post("/v1/plans", json=SMALL_BRIEF, headers=headers).json()
        assert statuses(events(client, failed["id"], headers))[-1] == "failed"
        refused = client.post(f"/v1/plans/{failed['id']}/cancel", headers=headers)
        assert refused.status_code == 409 and "already failed" in refused.json()["detail"]

        unknown = client.post("/v1/plans/nope/cancel", headers=headers)
        assert unknown.status_code == 404 and unknown.json()["detail"] == "no plan nope"


def test_a_restart_leaves_cancelled_plans_cancelled_and_honours_a_pending_cancel(settings, api_tools, tmp_path):
    db = tmp_path / "api.db"
    headers = new_key(db, "tester")
    started, release, ran = threading.Event(), threading.Event(), []

    def factory(on_step: StepListener) -> HeldPlanner:
        return HeldPlanner(on_step, started, release, ran)

    with TestClient(make_app(settings, api_tools, db, factory, api_workers=1)) as client:
        first = client.post("/v1/plans", json=brief("first"), headers=headers).json()
        assert started.wait(WAIT_S)
        second = client.post("/v1/plans", json=brief("second"), headers=headers).json()
        assert client.post(f"/v1/plans/{second['id']}/cancel", headers=headers).status_code == 200
        release.set()
        assert statuses(events(client, first["id"], headers))[-1] == "failed"

    store = Store(f"sqlite:///{db}")
    brief_json = Brief.model_validate(SMALL_BRIEF).model_dump(mode="json")
    store.add_job("stopping", "someone", brief_json, 8)
    store.set_status("stopping", "running")
    store.request_cancel("stopping", "ana")  # the process died before the plan reached its next step
    store.add_job("waiting", "someone", brief_json | {"name": "waiting"}, 8)

    with TestClient(make_app(settings, api_tools, db, factory, api_workers=1)) as client:
        assert statuses(events(client, "waiting", headers))[-1] == "failed"  # resumed and run by the fake
        kept = client.get(f"/v1/plans/{second['id']}", headers=headers).json()
        assert kept["status"] == "cancelled" and kept["error"] == "cancelled by tester before it started"
        stopped = client.get("/v1/plans/stopping", headers=headers).json()
        assert stopped["status"] == "cancelled" and stopped["finished_at"]
        assert stopped["error"].startswith("cancelled by ana; the server restarted")
        assert events(client, "stopping", headers)[-1][2]["status"] == "cancelled"
        assert ran == ["first", "waiting"]  # neither cancelled plan ever ran
