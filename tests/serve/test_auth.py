"""Key roles, expiry, revocation, the per-key rate limit, the reference behind a key, and key commands (issue 18)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from agent.settings import Settings
from serve import cli
from serve.auth import ROLES, KeyUse, RateLimiter, Role, create_key, find_key, hash_key, parse_expiry, role_allows
from serve.database import now
from serve.store import Store
from tests.serve.api_harness import make_app

# The role each route needs; every /v1 route of the app must be listed (a new route must choose its role).
NEEDED: dict[tuple[str, str], Role] = {
    ("GET", "/v1/plans"): "read", ("GET", "/v1/plans/{job_id}"): "read",
    ("GET", "/v1/plans/{job_id}/events"): "read", ("GET", "/v1/plans/{job_id}/results"): "read",
    ("GET", "/v1/plans/{job_id}/results.html"): "read", ("GET", "/v1/plans/{job_id}/results/plot.png"): "read",
    ("GET", "/v1/shops"): "read",
    ("POST", "/v1/plans"): "plan", ("POST", "/v1/plans/{job_id}/cancel"): "plan", ("POST", "/v1/chat"): "plan",
    ("POST", "/v1/plans/{job_id}/approve"): "approve", ("POST", "/v1/plans/{job_id}/reject"): "approve",
    ("POST", "/v1/plans/{job_id}/outcomes"): "approve",
    ("POST", "/v1/keys"): "admin", ("GET", "/v1/keys"): "admin", ("DELETE", "/v1/keys/{key_id}"): "admin",
}
PRIVACY = re.compile(r"erase|opt.?out|privacy|customers")  # the privacy routes (serve/privacy.py): admin or approve


def _keys(db: Path) -> dict[str, dict[str, str]]:
    store = Store(f"sqlite:///{db}")
    return {role: {"Authorization": f"Bearer {create_key(store, f'{role}-key', role)[1]}"} for role in ROLES}


def test_each_route_needs_its_role_and_a_lower_role_gets_403_naming_it(settings, api_tools, tmp_path):
    db = tmp_path / "api.db"
    keys = _keys(db)
    app = make_app(settings, api_tools, db)
    routes = {(m.upper(), p) for p, ms in app.openapi()["paths"].items() if p.startswith("/v1") for m in ms}
    assert set(NEEDED) <= routes
    unlisted = {r for r in routes - set(NEEDED) if not PRIVACY.search(r[1])}
    assert unlisted == set(), "choose the role of each new route here"
    with TestClient(app) as client:
        for (method, path), needed in NEEDED.items():
            url = re.sub(r"\{\w+\}", "nope", path)
            for role in ROLES:
                response = client.request(method, url, headers=keys[role], json={})
                if role_allows(role, needed):
                    assert response.status_code not in (401, 403, 429), (method, path, role, response.text)
                else:
                    assert response.status_code == 403, (method, path, role)
                    detail = response.json()["detail"]
                    assert f"needs a key with the '{needed}' role" in detail and f"has the '{role}' role" in detail
        for (method, path) in routes - set(NEEDED):  # privacy routes: never open to a read key
            response = client.request(method, re.sub(r"\{\w+\}", "nope", path), headers=keys["read"], json={})
            assert response.status_code == 403, (method, path)


def test_roles_are_ordered():
    assert [r for r in ROLES if role_allows(r, "approve")] == ["approve", "admin"]
    assert [r for r in ROLES if role_allows(r, "read")] == list(ROLES)
    assert not role_allows("owner", "read")  # an unknown role has no rights


def test_an_expired_or_revoked_key_gets_the_same_401_as_an_unknown_one(settings, api_tools, tmp_path):
    db = tmp_path / "api.db"
    store = Store(f"sqlite:///{db}")
    _, live = create_key(store, "live", "read", now() + timedelta(days=1))
    _, expired = create_key(store, "expired", "admin", now() - timedelta(seconds=1))
    revoked_record, revoked = create_key(store, "revoked", "admin")
    store.revoke_key(revoked_record.id)
    later = now() + timedelta(days=2)
    assert find_key(store, live) is not None and find_key(store, live, at=later) is None  # expires after a day
    with TestClient(make_app(settings, api_tools, db)) as client:
        answers = [client.get("/v1/plans", headers={"Authorization": f"Bearer {k}"})
                   for k in (expired, revoked, "cak_unknown")]
        assert client.get("/v1/plans", headers={"Authorization": f"Bearer {live}"}).status_code == 200
    assert {(a.status_code, a.text, a.headers["www-authenticate"]) for a in answers} == {
        (401, '{"detail":"missing or invalid API key"}', "Bearer")}


def test_expiry_is_a_duration_or_an_iso_date_in_the_future():
    at = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    assert parse_expiry("30d", at) == datetime(2026, 12, 30, 9, 0, tzinfo=UTC)
    assert parse_expiry("12h", at) == datetime(2026, 11, 30, 21, 0, tzinfo=UTC)
    assert parse_expiry("90m", at) == at + timedelta(minutes=90)
    assert parse_expiry("2w", at) == at + timedelta(weeks=2)
    assert parse_expiry("2027-01-31", at) == datetime(2027, 1, 31, tzinfo=UTC)
    assert parse_expiry("2027-01-31T12:00:00+01:00", at) == datetime(2027, 1, 31, 11, tzinfo=UTC)
    for bad in ("0d", "soon", "30 days", "2026-11-29", "-5d"):
        with pytest.raises(ValueError):
            parse_expiry(bad, at)


class Clock:
    """A clock the test moves by hand (no timing in the assertions)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_the_token_bucket_allows_the_rate_and_says_when_to_retry():
    clock = Clock()
    limiter = RateLimiter(3, clock=clock)
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]  # a burst of the minute's requests
    assert limiter.acquire("a") == pytest.approx(20.0)  # one token every 60 / 3 s
    assert limiter.acquire("b") == 0.0  # buckets are per key
    clock.t += 20.0
    assert limiter.acquire("a") == 0.0 and limiter.acquire("a") == pytest.approx(20.0)
    clock.t += 3600.0  # an idle key refills to the burst, not beyond
    assert [limiter.acquire("a") for _ in range(4)][-1] == pytest.approx(20.0)
    assert all(RateLimiter(0, clock=clock).acquire("a") == 0.0 for _ in range(1000))  # 0: no limit


def test_a_key_over_its_rate_gets_429_with_retry_after(settings, api_tools, tmp_path):
    db = tmp_path / "api.db"
    keys = _keys(db)
    app = make_app(settings, api_tools, db, api_rate_limit_per_minute=2)
    clock = Clock()
    app.state.rate_limiter = RateLimiter(2, clock=clock)
    with TestClient(app) as client:
        assert [client.get("/v1/plans", headers=keys["read"]).status_code for _ in range(2)] == [200, 200]
        refused = client.get("/v1/plans", headers=keys["read"])
        assert refused.status_code == 429 and refused.headers["retry-after"] == "30"
        assert "more than 2 requests in a minute" in refused.json()["detail"]
        assert client.get("/v1/plans", headers=keys["plan"]).status_code == 200  # another key is not limited
        assert client.get("/v1/plans", headers={"Authorization": "Bearer cak_unknown"}).status_code == 401
        clock.t += 30.0
        assert client.get("/v1/plans", headers=keys["read"]).status_code == 200
        assert client.get("/healthz").status_code == 200  # no key, no limit
    assert make_app(settings, api_tools, db).state.rate_limiter.per_minute == settings.api_rate_limit_per_minute


def test_the_reference_needs_a_key_unless_made_public(settings, api_tools, tmp_path):
    db = tmp_path / "api.db"
    keys = _keys(db)
    closed = make_app(settings, api_tools, db)
    assert "/v1/plans" in closed.openapi()["paths"]  # the schema is still built from the app object
    with TestClient(closed) as client:
        for path in ("/openapi.json", "/docs", "/redoc"):
            assert client.get(path).status_code == 401, path
            assert client.get(path, headers=keys["read"]).status_code == 200, path
        assert "/v1/keys" in client.get("/openapi.json", headers=keys["read"]).json()["paths"]
    with TestClient(make_app(settings, api_tools, db, api_public_docs=True)) as client:
        assert all(client.get(path).status_code == 200 for path in ("/openapi.json", "/docs", "/redoc"))


def test_admin_keys_manage_keys_over_the_api(settings, api_tools, tmp_path):
    db = tmp_path / "api.db"
    keys = _keys(db)
    with TestClient(make_app(settings, api_tools, db)) as client:
        made = client.post("/v1/keys", json={"name": "crm", "role": "plan", "expires_in": "30d"}, headers=keys["admin"])
        assert made.status_code == 201, made.text
        body = made.json()
        assert body["role"] == "plan" and body["key"].startswith("cak_") and body["revoked_at"] is None
        expires = datetime.fromisoformat(body["expires_at"])
        assert timedelta(days=29, hours=23) < expires - now() <= timedelta(days=30)
        crm = {"Authorization": f"Bearer {body['key']}"}
        assert client.get("/v1/plans", headers=crm).status_code == 200
        assert client.post("/v1/plans/nope/approve", json={"by": "x", "reason": "y"}, headers=crm).status_code == 403
        listed = client.get("/v1/keys", headers=keys["admin"]).json()
        assert body["key"] not in str(listed) and {k["name"]: k["role"] for k in listed}["crm"] == "plan"
        bad = client.post("/v1/keys", json={"name": "x", "expires_in": "yesterday"}, headers=keys["admin"])
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "expires_in"]
        assert client.post("/v1/keys", json={"name": "x", "role": "owner"}, headers=keys["admin"]).status_code == 422
        assert client.delete(f"/v1/keys/{body['id']}", headers=keys["approve"]).status_code == 403
        assert client.delete(f"/v1/keys/{body['id']}", headers=keys["admin"]).status_code == 204
        assert client.get("/v1/plans", headers=crm).status_code == 401
        assert client.delete(f"/v1/keys/{body['id']}", headers=keys["admin"]).status_code == 404  # already revoked
    events = [(e.kind, e.actor) for e in Store(f"sqlite:///{db}").audit_events() if e.kind != "key.used"]
    assert events[-2:] == [("key.created", "key:admin-key"), ("key.revoked", "key:admin-key")]


def test_a_keys_use_is_recorded_once_a_minute(settings, api_tools, tmp_path):
    db = tmp_path / "api.db"
    store = Store(f"sqlite:///{db}")
    record, key = create_key(store, "ana", "read")
    app = make_app(settings, api_tools, db)
    clock = Clock()
    app.state.key_use = KeyUse(app.state.store, clock=clock)
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(app) as client:
        for _ in range(5):
            assert client.get("/v1/plans", headers=headers).status_code == 200
        clock.t += 60.0
        assert client.get("/v1/plans/nope", headers=headers).status_code == 404
    used = [e for e in store.audit_events() if e.kind == "key.used"]
    assert [(e.actor, e.subject, e.data) for e in used] == [("key:ana", record.id, {"route": "GET /v1/plans"}),
                                                            ("key:ana", record.id, {"route": "GET /v1/plans/nope"})]
    last = next(k for k in store.api_keys() if k.id == record.id).last_used_at
    assert last is not None and last >= used[-1].at - timedelta(seconds=1)


def test_keys_commands_take_a_role_and_an_expiry(settings: Settings, tmp_path, monkeypatch):
    local = settings.model_copy(update={"db_url": f"sqlite:///{tmp_path / 'keys.db'}"})
    monkeypatch.setattr(cli, "get_settings", lambda: local)
    runner = CliRunner()
    created = runner.invoke(cli.keys_app, ["create", "crm-sync", "--role", "plan", "--expires-in", "30d"])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    assert "role plan" in created.stderr and "expires" in created.stderr
    store = Store(local.database_url)
    record = store.key_by_hash(hash_key(key))
    assert record is not None and record.role == "plan" and record.expires_at is not None
    assert runner.invoke(cli.keys_app, ["create", "--name", "ops"]).exit_code == 0  # default: admin
    listed = runner.invoke(cli.keys_app, ["list"]).stdout
    assert re.search(r"crm-sync .* plan .* " + f"{record.expires_at:%Y-%m-%d}", listed)
    assert re.search(r"ops .* admin ", listed) and "last used" in listed and "revoked" in listed
    for args, message in ((["create", "x", "--role", "owner"], "the role is one of read, plan, approve, admin"),
                          (["create", "x", "--expires-in", "soon"], "an expiry is a duration"),
                          (["create"], "name the key")):
        refused = runner.invoke(cli.keys_app, args)
        assert refused.exit_code == 2 and message in " ".join(refused.output.split()), refused.output
    assert runner.invoke(cli.keys_app, ["revoke", record.id]).exit_code == 0
    assert store.key_by_hash(hash_key(key)) is None
    kinds = [e.kind for e in store.audit_events()]
    assert kinds == ["key.created", "key.created", "key.revoked"]
