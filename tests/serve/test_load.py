"""A short load run: concurrent clients against a real API server on loopback (scripted LLM) get no errors."""

from __future__ import annotations

import pytest

from agent.settings import Settings
from serve.load import run_load


@pytest.mark.e2e  # the API in a child process on loopback
def test_concurrent_clients_get_no_errors_and_every_accepted_plan_ends() -> None:
    result = run_load(Settings(), None, clients=8, duration_s=5.0)
    assert result["requests"] > 0 and result["errors"] == 0, result["statuses"]
    assert {"POST /v1/plans", "GET /v1/plans", "GET /healthz"} <= set(result["routes"])
    assert result["plans_accepted"] >= 1 and result["plans_ended"] == result["plans_accepted"]
    assert result["most_queued"] <= result["queue_size"]
