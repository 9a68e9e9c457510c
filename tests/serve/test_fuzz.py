"""Schema-driven fuzzing of the real app (scripted LLM, a valid admin key): no 5xx, no answer outside the schema."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from agent.loop import PlannerTools
from agent.settings import Settings
from serve.fuzzing import fuzz_app
from tests.serve.api_harness import SMALL_BRIEF, events, make_app, new_key

MAX_EXAMPLES = 6  # per operation and generation mode (valid and schema-violating requests)


def test_every_operation_fuzzed_gives_no_server_error_and_no_schema_violation(
        own_home: Settings, own_tools: PlannerTools, tmp_path: Path) -> None:
    # A copy of the session's home: the fuzzed privacy routes erase and opt out (random) customer ids.
    db = tmp_path / "api.db"
    app = make_app(own_home, own_tools, db)
    headers = new_key(db)
    with TestClient(app) as client:  # a finished plan, so the plan routes are fuzzed past their 404 too
        job_id = client.post("/v1/plans", json=SMALL_BRIEF, headers=headers).json()["id"]
        assert events(client, job_id, headers)[-1][2]["status"] == "done"
    report = fuzz_app(app, headers, max_examples=MAX_EXAMPLES, known={"job_id": [job_id]})
    assert report.operations >= 12 and report.requests >= 200
    assert {"200", "404", "422"} <= set(report.status_counts)  # valid requests, unknown ids and invalid bodies
    assert report.server_errors == 0, [f.model_dump() for f in report.failures]
    assert report.schema_violations == 0, [f.model_dump() for f in report.failures]
