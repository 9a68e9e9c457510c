"""Error answers: JSON-safe 422s, bounded numbers, resumed event streams that end, storage failures as 503."""

from __future__ import annotations

import errno
import sqlite3
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from agent.loop import PlannerTools
from agent.settings import Settings
from serve.errors import json_safe, storage_failure
from tests.serve.api_harness import SMALL_BRIEF, WAIT_S, events, make_app, new_key


@pytest.mark.parametrize("body", ['{"name": NaN}', '[NaN, Infinity]', '{"send_budget": 1e400}',
                                  '{"goal": -Infinity, "channels": [NaN]}'])
@pytest.mark.parametrize("route", ["/v1/plans", "/v1/chat", "/v1/plans/x/approve"])
def test_json_the_api_cannot_echo_gets_a_422_it_can(settings: Settings, api_tools: PlannerTools, tmp_path: Path,
                                                   body: str, route: str) -> None:
    db = tmp_path / "api.db"
    with TestClient(make_app(settings, api_tools, db), raise_server_exceptions=False) as client:
        answer = client.post(route, content=body, headers={**new_key(db), "content-type": "application/json"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"]  # valid JSON: non-finite numbers are echoed as strings


def test_json_safe_replaces_what_json_cannot_carry() -> None:
    value = {"a": [float("nan"), float("inf"), -float("inf"), 1.5], "b": b"\xff", 3: ("x",)}
    assert json_safe(value) == {"a": ["nan", "inf", "-inf", 1.5], "b": "\ufffd", "3": ["x"]}


def test_a_last_event_id_too_large_to_store_is_a_422(settings: Settings, api_tools: PlannerTools,
                                                     tmp_path: Path) -> None:
    db = tmp_path / "api.db"
    with TestClient(make_app(settings, api_tools, db), raise_server_exceptions=False) as client:
        answer = client.get("/v1/plans/abc/events", headers={**new_key(db), "Last-Event-ID": str(2**64)})
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["header", "last-event-id"]


def test_an_event_stream_resumed_after_the_final_status_ends(settings: Settings, api_tools: PlannerTools,
                                                            tmp_path: Path) -> None:
    db = tmp_path / "api.db"
    headers = new_key(db)
    with TestClient(make_app(settings, api_tools, db)) as client:
        job_id = client.post("/v1/plans", json=SMALL_BRIEF, headers=headers).json()["id"]
        first = events(client, job_id, headers)
        assert first[-1][2]["status"] == "done"
        resumed: list[object] = []
        reader = threading.Thread(target=lambda: resumed.append(events(client, job_id, headers, int(first[-1][1]))),
                                  daemon=True)
        reader.start()
        reader.join(WAIT_S)
        assert not reader.is_alive(), "the resumed stream never ended"
        assert resumed == [[]]
        assert events(client, job_id, headers, int(first[-3][1])) == first[-2:]  # resumed mid-way: the rest


@pytest.mark.parametrize(("error", "says"), [
    (OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked")), "locked"),
    (OperationalError("INSERT", {}, sqlite3.OperationalError("attempt to write a readonly database")), "read-only"),
    (OSError(errno.ENOSPC, "No space left on device"), "disk is full"),
    (RuntimeError("wrapped", ), None),
])
def test_storage_failures_are_named(error: Exception, says: str | None) -> None:
    reason = storage_failure(error)
    assert (reason is None) if says is None else (says in str(reason))


def test_a_read_only_database_answers_503_with_a_reason(settings: Settings, api_tools: PlannerTools, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "api.db"
    headers = new_key(db)
    with TestClient(make_app(settings, api_tools, db), raise_server_exceptions=False) as client:
        import serve.store

        def read_only(*args: object, **kwargs: object) -> None:
            raise OperationalError("INSERT", {}, sqlite3.OperationalError("attempt to write a readonly database"))

        monkeypatch.setattr(serve.store.Store, "add_job", read_only)
        answer = client.post("/v1/plans", json=SMALL_BRIEF, headers=headers)
    assert answer.status_code == 503 and answer.headers["retry-after"]
    assert "read-only" in answer.json()["detail"]
