"""Fault injection: each scenario of serve.faults ends in a clear state and loses nothing (judged through the job's
stored status and events, the API's answers and the database, not the clock)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.brief import Brief
from agent.loop import PlannerTools
from agent.settings import Settings
from serve.faults import FAULTS, FaultRig, run_faults
from tests.serve.api_harness import SMALL_BRIEF


@pytest.fixture
def rig(settings: Settings, api_tools: PlannerTools, tmp_path: Path) -> FaultRig:
    return FaultRig(settings=settings, tools=api_tools, brief=Brief(**SMALL_BRIEF), workdir=tmp_path)


@pytest.mark.e2e  # a fake OpenAI-compatible server on loopback
@pytest.mark.parametrize("name", ["llm_dies_mid_plan", "llm_slow", "llm_malformed_output"])
def test_llm_faults_end_the_plan_clearly(rig: FaultRig, name: str) -> None:
    (result,) = run_faults(rig, [name])
    assert result.survived, result.detail


@pytest.mark.parametrize("name", ["chat_malformed_output", "api_sigkill_mid_plan", "sqlite_locked", "disk_full",
                                  "portrait_store_corrupted"])
def test_server_and_storage_faults_end_clearly_and_lose_nothing(rig: FaultRig, name: str) -> None:
    (result,) = run_faults(rig, [name])
    assert result.survived, result.detail


def test_every_scenario_is_tested() -> None:
    assert set(FAULTS) == {"llm_dies_mid_plan", "llm_slow", "llm_malformed_output", "chat_malformed_output",
                           "api_sigkill_mid_plan",
                           "sqlite_locked", "disk_full", "portrait_store_corrupted"}
