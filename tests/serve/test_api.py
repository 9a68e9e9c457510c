"""The campaign-plan API over HTTP (FastAPI TestClient) on the real demo shop with a scripted LLM."""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from agent.brief import Brief
from agent.llm import ChatModel, ChatReply, ChatRequest, FunctionModel, reply_json, reply_text, reply_tool_call
from agent.loop import Planner, PlannerTools, expected_steps
from agent.plan import CampaignPlan
from agent.settings import Settings
from agent.trace import StepListener
from serve import cli
from serve.api import create_app
from serve.auth import create_key, hash_key
from serve.chat import ANSWER_NUDGE
from serve.schemas import JobOut
from serve.store import RESTART_REASON, Store
from tests.agent.test_loop import tools  # noqa: F401 (fixtures: the loop's real tools, as test_loop builds them)
from tests.agent.test_plan import OLD_WARNINGS, old_plan_json
from tools.copywriting import CopyTool

SMALL_BRIEF: dict[str, Any] = {
    "name": "Win back sci-fi fans", "goal": "Win back lapsed sci-fi fans before the holidays",
    "audience": "lapsed science fiction fans", "audience_filter": {"lifecycle": ["lapsed"], "genres": ["sci fi"]},
    "channels": ["email", "push"], "send_budget": 5000, "max_segments": 2, "variants_per_channel": 1,
    "max_revisions": 1,
}


def copywriter(request: ChatRequest) -> ChatReply:
    """Answer a copy prompt from the facts it states."""
    prompt = request.messages[-1].content or ""
    title = re.search(r"Title: (.+?)(?: \(write it.*)?$", prompt, re.MULTILINE)
    if title is None:
        return reply_text("?")
    headline = f"{title.group(1)} is back"  # a long title (Dr. Strangelove …) would break push's 45 characters
    return reply_json({"headline": headline if len(headline) <= 45 else "Back for you tonight",
                       "body": f"{title.group(1)} is waiting for you to watch it again tonight", "cta": "Watch now"})


def chat_llm(request: ChatRequest) -> ChatReply:
    """The chat model: a tool call when one is required, else an answer naming the tool result's first title."""
    if request.tool_choice == "required":
        text = request.messages[-1].content or ""
        if "plan" in text:
            return reply_tool_call("create_plan", {
                "name": "Sci-fi win-back", "goal": "Win back lapsed sci-fi fans", "audience": "lapsed sci-fi fans",
                "channels": ["email"], "send_budget": 2000, "lifecycle": ["lapsed"], "genres": ["Sci-Fi"]})
        return reply_tool_call("recommend_products", {"audience": "lapsed science fiction fans",
                                                      "lifecycle": ["lapsed"], "genres": ["Sci-Fi"], "k": 3})
    assert not request.tools, "the answering step must get no tools"
    assert request.messages[-1].content == ANSWER_NUDGE and request.messages[-2].role == "tool"
    try:
        result = json.loads(request.messages[-2].content or "{}")
    except ValueError:  # a tool error in words (e.g. arguments that fail the tool's schema)
        return reply_text(f"Sorry: {(request.messages[-2].content or '')[:60]}")
    if "products" in result:
        return reply_text(f"Top pick: {result['products'][0]['title']} for {result['audience_size']} customers.")
    if "plan_id" in result:
        return reply_text(f"Plan {result['plan_id']} is {result['status']}.")
    return reply_text(f"Sorry: {result.get('error', 'no result')}")


@pytest.fixture(scope="module")
def api_tools(tools) -> PlannerTools:  # noqa: F811 (test_loop's fixture)
    """The plan loop's real tools as tests/agent/test_loop.py builds them, with this module's scripted copywriter."""
    return dataclasses.replace(tools, copy=CopyTool(FunctionModel(copywriter), retries=0))


def make_app(settings: Settings, planner_tools: PlannerTools, db: Path, planner_factory: Any = None,
             probe: Callable[[], list[str] | None] = lambda: ["scripted"], chat: ChatModel | None = None,
             **overrides: Any) -> FastAPI:
    """The real app on a scripted LLM, with its database at ``db``."""
    local = settings.model_copy(update={"db_url": f"sqlite:///{db}", **overrides})
    return create_app(local, planner_tools, chat or FunctionModel(chat_llm, name="scripted"),
                      planner_factory=planner_factory, llm_probe=probe)


def new_key(db: Path, name: str = "tester") -> dict[str, str]:
    _, key = create_key(Store(f"sqlite:///{db}"), name)
    return {"Authorization": f"Bearer {key}"}


def sse(lines: Iterator[str]) -> list[tuple[str, str | None, dict[str, Any]]]:
    """Parse server-sent events into (event, id, data) triples."""
    out, event, ident, data = [], "message", None, []
    for line in lines:
        if not line:
            if data:
                out.append((event, ident, json.loads("\n".join(data))))
            event, ident, data = "message", None, []
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                event = value
            elif field == "id":
                ident = value
            elif field == "data":
                data.append(value)
    return out


def events(client: TestClient, job_id: str, headers: dict[str, str], after: int | None = None
           ) -> list[tuple[str, str | None, dict[str, Any]]]:
    """All events of a job (after event id ``after``); returns when the stream ends, after the terminal status."""
    extra = {} if after is None else {"Last-Event-ID": str(after)}
    with client.stream("GET", f"/v1/plans/{job_id}/events", headers={**headers, **extra}) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        return sse(response.iter_lines())


def test_plan_lifecycle_create_follow_poll_review_and_survive_a_restart(settings, api_tools, tmp_path):
    db = tmp_path / "api.db"
    headers = new_key(db, "crm-client")
    with TestClient(make_app(settings, api_tools, db)) as client:
        created = client.post("/v1/plans", json=SMALL_BRIEF, headers=headers)
        assert created.status_code == 202, created.text
        job = created.json()
        assert job["status"] == "queued" and created.headers["location"] == f"/v1/plans/{job['id']}"
        assert job["brief"]["audience_filter"]["genres"] == ["Sci-Fi"]  # checked against the shop's spelling
        assert job["progress"]["steps_expected"] == expected_steps(Brief.model_validate(job["brief"]))

        stream = events(client, job["id"], headers)
        kinds = [e[0] for e in stream]
        assert [e[2]["status"] for e in stream if e[0] == "status"] == ["queued", "running", "done"]
        assert kinds[-1] == "status" and kinds.count("step_start") == kinds.count("step_end") >= 7
        ids = [int(e[1]) for e in stream]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)

        done = client.get(f"/v1/plans/{job['id']}", headers=headers).json()
        plan = CampaignPlan.model_validate(done["plan"])
        assert done["status"] == "done" and done["error"] is None and done["review"] == "pending"
        assert done["progress"] == {"steps_done": len(plan.trace), "steps_expected": len(plan.trace),
                                    "current_step": None}
        assert [e[2]["step"] for e in stream if e[0] == "step_end"] == [s.step for s in plan.trace]
        assert plan.segments and plan.active_variants() and plan.launch is not None
        assert {v.source for v in plan.variants} == {"llm"}  # the scripted copywriter's drafts pass validation

        assert events(client, job["id"], headers) == stream  # replayed in full after the end
        assert [int(e[1]) for e in events(client, job["id"], headers, after=ids[3])] == ids[4:]

        approved = client.post(f"/v1/plans/{job['id']}/approve", json={"by": "Ana", "reason": "Fits budget"},
                               headers=headers).json()
        assert approved["review"] == "approved"
        rejected = client.post(f"/v1/plans/{job['id']}/reject", json={"by": "Bo", "reason": "Legal objects"},
                               headers=headers).json()
        assert rejected["review"] == "rejected"
        assert [(d["decision"], d["by"], d["reason"], d["api_key"]) for d in rejected["decisions"]] == [
            ("approved", "Ana", "Fits budget", "crm-client"), ("rejected", "Bo", "Legal objects", "crm-client")]
        missing_why = client.post(f"/v1/plans/{job['id']}/approve", json={"by": "Ana"}, headers=headers)
        assert missing_why.status_code == 422

    with TestClient(make_app(settings, api_tools, db)) as client:  # a new server on the same database
        again = client.get(f"/v1/plans/{job['id']}", headers=headers).json()
        assert again["plan"] == done["plan"] and len(again["decisions"]) == 2
        assert [j["id"] for j in client.get("/v1/plans", headers=headers).json()] == [job["id"]]


def test_a_plan_stored_by_the_previous_release_is_served_with_legacy_warnings(settings, api_tools, tmp_path):
    db = tmp_path / "api.db"
    headers = new_key(db)
    store = Store(f"sqlite:///{db}")
    stored = old_plan_json()
    store.add_job("old-plan", "someone", json.loads(stored)["brief"], 8)
    store.set_status("old-plan", "running")
    store.set_status("old-plan", "done", plan=stored, steps_done=8)
    with TestClient(make_app(settings, api_tools, db)) as client:
        served = client.get("/v1/plans/old-plan", headers=headers).json()
    assert JobOut.model_validate(served).plan is not None  # the response matches its schema
    assert served["plan"]["warnings"] == [
        {"kind": "legacy", "message": m, "segment_id": None, "channel": None, "product_id": None, "variant_ids": []}
        for m in OLD_WARNINGS]
    assert {**served["plan"], "warnings": OLD_WARNINGS} == json.loads(stored)  # nothing else changed


def test_restart_fails_a_running_job_with_a_reason_and_resumes_queued_ones(settings, api_tools, tmp_path):
    db = tmp_path / "api.db"
    headers = new_key(db)
    store = Store(f"sqlite:///{db}")
    brief = Brief.model_validate({**SMALL_BRIEF, "audience_filter": {"lifecycle": ["lapsed"], "genres": ["Sci-Fi"]}})
    running = store.add_job("was-running", "someone", brief.model_dump(mode="json"), 8)
    store.set_status(running.id, "running")  # the process died here
    store.add_job("was-queued", "someone", brief.model_dump(mode="json"), 8)

    with TestClient(make_app(settings, api_tools, db)) as client:
        failed = client.get("/v1/plans/was-running", headers=headers).json()
        assert failed["status"] == "failed" and failed["error"] == RESTART_REASON and failed["finished_at"]
        assert events(client, "was-running", headers)[-1][2] == {"status": "failed", "error": RESTART_REASON}
        assert events(client, "was-queued", headers)[-1][2] == {"status": "done"}
        assert client.get("/v1/plans/was-queued", headers=headers).json()["plan"]["segments"]
        conflict = client.post("/v1/plans/was-running/approve", json={"by": "A", "reason": "B"}, headers=headers)
        assert conflict.status_code == 409 and "failed" in conflict.json()["detail"]


class BlockingPlanner:
    """A real planner that waits for ``release`` before it starts (to fill the queue deterministically)."""

    def __init__(self, planner_tools: PlannerTools, on_step: StepListener, started: threading.Event,
                 release: threading.Event) -> None:
        self.planner, self.started, self.release = Planner(planner_tools, on_event=on_step), started, release

    def run(self, brief: Brief) -> CampaignPlan:
        self.started.set()
        assert self.release.wait(120), "the test never released the planner"
        return self.planner.run(brief)


def test_a_full_queue_answers_429_and_accepts_again_once_drained(settings, api_tools, tmp_path):
    db = tmp_path / "api.db"
    headers = new_key(db)
    started, release = threading.Event(), threading.Event()
    app = make_app(settings, api_tools, db, lambda on_step: BlockingPlanner(api_tools, on_step, started, release),
                   api_workers=1, api_queue_size=1)
    with TestClient(app) as client:
        first = client.post("/v1/plans", json=SMALL_BRIEF, headers=headers).json()
        assert started.wait(60)  # the only worker holds the first job
        second = client.post("/v1/plans", json=SMALL_BRIEF, headers=headers)
        assert second.status_code == 202 and second.json()["status"] == "queued"
        full = client.post("/v1/plans", json=SMALL_BRIEF, headers=headers)
        assert full.status_code == 429 and full.headers["retry-after"] == "30"
        assert "waiting" in full.json()["detail"]
        health = client.get("/healthz").json()["jobs"]
        assert health == {"workers": 1, "queue_size": 1, "queued": 1, "running": 1}
        assert client.get(f"/v1/plans/{first['id']}", headers=headers).json()["status"] == "running"
        release.set()
        assert events(client, second.json()["id"], headers)[-1][2] == {"status": "done"}
        assert client.post("/v1/plans", json=SMALL_BRIEF, headers=headers).status_code == 202


def test_a_planner_error_fails_the_job_with_its_reason(settings, api_tools, tmp_path):
    class Broken:
        def run(self, brief: Brief) -> CampaignPlan:
            raise RuntimeError("the effect model file is corrupt")

    db = tmp_path / "api.db"
    headers = new_key(db)
    with TestClient(make_app(settings, api_tools, db, lambda on_step: Broken())) as client:
        job = client.post("/v1/plans", json=SMALL_BRIEF, headers=headers).json()
        assert events(client, job["id"], headers)[-1][2]["status"] == "failed"
        failed = client.get(f"/v1/plans/{job['id']}", headers=headers).json()
        assert failed["error"] == "RuntimeError: the effect model file is corrupt" and failed["plan"] is None


@pytest.mark.parametrize(("change", "where", "says"), [
    ({"send_budget": -5}, ["body", "send_budget"], "greater than 0"),
    ({"channels": ["fax"]}, ["body", "channels", 0], "'email', 'push' or 'sms'"),
    ({"name": None}, ["body", "name"], "valid string"),
    ({"surprise": 1}, ["body", "surprise"], "Extra inputs"),
    ({"audience_filter": {"genres": ["Knitting"]}}, ["body", "audience_filter"], "unknown genre 'Knitting'"),
])
def test_a_malformed_brief_gets_422_with_field_errors(settings, api_tools, tmp_path, change, where, says):
    db = tmp_path / "api.db"
    headers = new_key(db)
    with TestClient(make_app(settings, api_tools, db)) as client:
        response = client.post("/v1/plans", json={**SMALL_BRIEF, **change}, headers=headers)
        assert response.status_code == 422
        errors = response.json()["detail"]
        assert any(e["loc"] == where and says in e["msg"] for e in errors), errors
        assert client.get("/v1/plans", headers=headers).json() == []
        not_json = client.post("/v1/plans", content=b"name: x", headers={**headers, "Content-Type": "text/yaml"})
        assert not_json.status_code == 422


def test_every_v1_route_needs_a_valid_key_and_says_nothing_more(settings, api_tools, tmp_path):
    db = tmp_path / "api.db"
    good = new_key(db, "alice")
    store = Store(f"sqlite:///{db}")
    revoked_key = new_key(db, "bob")
    assert [k.name for k in store.revoke_key("bob")] == ["bob"]
    secret = good["Authorization"].split()[1]
    with sqlite3.connect(db) as raw:  # only the hash is at rest
        rows = [str(r) for r in raw.execute("select * from api_keys")]
    assert not any(secret in r for r in rows) and any(hash_key(secret) in r for r in rows)
    app = make_app(settings, api_tools, db)
    routes = [(method.upper(), path.replace("{job_id}", "x"))
              for path, methods in app.openapi()["paths"].items() if path.startswith("/v1") for method in methods]
    assert len(routes) == 8
    with TestClient(app) as client:
        for headers in ({}, {"Authorization": "Bearer cak_wrong"}, {"Authorization": "Basic YTpi"}, revoked_key):
            for method, path in routes:
                response = client.request(method, path, headers=headers, json={})
                assert response.status_code == 401, (method, path, headers)
                assert response.json() == {"detail": "missing or invalid API key"}
                assert response.headers["www-authenticate"] == "Bearer"
        assert client.get("/v1/plans", headers=good).status_code == 200
        assert client.get("/v1/plans/nope", headers=good).status_code == 404
        assert client.get("/healthz").status_code == 200
        page = client.get("/")
        assert page.status_code == 200 and 'id="key-input"' in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'self'")
        assert client.get("/web/app.js").status_code == 200
        schema = client.get("/openapi.json").json()
        assert {"/v1/plans", "/v1/plans/{job_id}", "/v1/plans/{job_id}/events", "/v1/plans/{job_id}/cancel",
                "/v1/chat", "/healthz"} <= set(schema["paths"])
        assert set(schema["paths"]["/v1/plans/{job_id}/cancel"]["post"]["responses"]) >= {"200", "202", "404", "409"}
        assert "cancelled" in schema["components"]["schemas"]["JobSummary"]["properties"]["status"]["enum"]
        assert "HTTPBearer" in schema["components"]["securitySchemes"]


def test_healthz_reports_llm_store_and_models_and_degrades_when_the_llm_is_down(settings, api_tools, tmp_path):
    with TestClient(make_app(settings, api_tools, tmp_path / "a.db")) as client:
        ok = client.get("/healthz")
    body = ok.json()
    assert ok.status_code == 200 and body["status"] == "ok"
    assert body["llm"]["ok"] and body["llm"]["model"] == "scripted"
    assert body["vector_store"] == {"ok": True, "portraits": api_tools.profiles.store.count()}
    assert body["models"]["recommender"] == api_tools.recommend.method
    assert "p_like" in body["models"]["effect"]["metric"]
    with TestClient(make_app(settings, api_tools, tmp_path / "b.db", probe=lambda: None)) as client:
        down = client.get("/healthz")
    assert down.status_code == 503 and down.json()["status"] == "degraded" and not down.json()["llm"]["ok"]


def test_keys_commands_create_list_and_revoke(settings, tmp_path, monkeypatch):
    local = settings.model_copy(update={"db_url": f"sqlite:///{tmp_path / 'keys.db'}"})
    monkeypatch.setattr(cli, "get_settings", lambda: local)
    runner = CliRunner()
    created = runner.invoke(cli.keys_app, ["create", "--name", "web shop"])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    assert re.fullmatch(r"cak_[A-Za-z0-9_-]{43}", key)
    store = Store(local.database_url)
    assert store.key_by_hash(hash_key(key)).name == "web shop"
    listed = runner.invoke(cli.keys_app, ["list"])
    assert "web shop" in listed.stdout and key not in listed.stdout and key[:10] in listed.stdout
    assert runner.invoke(cli.keys_app, ["revoke", "web shop"]).exit_code == 0
    assert store.key_by_hash(hash_key(key)) is None
    unknown = runner.invoke(cli.keys_app, ["revoke", "nobody"])
    assert unknown.exit_code == 1 and "no active key" in unknown.output
    empty = runner.invoke(cli.keys_app, ["create", "--name", "  "])
    assert empty.exit_code == 2 and "1 to 120 characters" in empty.output
