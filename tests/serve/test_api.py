"""The campaign-plan API over HTTP (FastAPI TestClient) on the real demo shop with a scripted LLM."""

from __future__ import annotations

import json
import re
import sqlite3
import threading

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from agent.brief import Brief
from agent.loop import Planner, PlannerTools, expected_steps
from agent.plan import CampaignPlan
from agent.trace import StepListener
from serve import cli
from serve.auth import hash_key
from serve.schemas import JobOut
from serve.store import RESTART_REASON, Store
from tests.previous_release import OLD_WARNINGS, old_plan_json
from tests.serve.api_harness import SMALL_BRIEF, BrokenPlanner, events, make_app, new_key


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
    db = tmp_path / "api.db"
    headers = new_key(db)
    with TestClient(make_app(settings, api_tools, db, lambda on_step: BrokenPlanner())) as client:
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
    routes = [(method.upper(), re.sub(r"\{\w+\}", "x", path))
              for path, methods in app.openapi()["paths"].items() if path.startswith("/v1") for method in methods]
    assert len(routes) >= 14  # incl. POST outcomes, GET results and the three /v1/keys routes
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
        assert client.get("/openapi.json").status_code == 401  # the reference needs a key (api_public_docs: no)
        schema = client.get("/openapi.json", headers=good).json()
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


def test_an_offer_or_shop_the_server_cannot_plan_is_a_422_at_its_field(settings, api_tools, tmp_path):
    db = tmp_path / "api.db"
    headers = new_key(db, "crm-client")
    with TestClient(make_app(settings, api_tools, db)) as client:
        brief = {**SMALL_BRIEF, "offer": {"code": "XMAS10", "percent_off": 10}}
        response = client.post("/v1/plans", json=brief, headers=headers)
        assert response.status_code == 422
        detail = response.json()["detail"]
        assert detail[0]["loc"] == ["body", "offer"] and "no prices" in detail[0]["msg"]
        response = client.post("/v1/plans", json={**SMALL_BRIEF, "shop": "nosuchshop"}, headers=headers)
        assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "shop"]
        assert "unknown shop 'nosuchshop'" in response.json()["detail"][0]["msg"]
        shops = client.get("/v1/shops", headers=headers).json()["shops"]
        assert {s["name"] for s in shops} >= {"retail", "movielens"}
        own = next(s for s in shops if s["default"])
        assert own["name"] == api_tools.shop.name and own["ready"] and own["customers"] == len(api_tools.shop.customers)
