"""``campaign bench allocation`` on the real Hillstrom experiment, with a few shuffles."""

from __future__ import annotations

import pytest

from agent.settings import Settings
from eval.bench_allocation import run


def test_thompson_earns_more_visits_per_send_than_uniform_on_hillstrom(settings: Settings) -> None:
    result = run(settings, shuffles=3)
    policies = result["policies"]
    assert result["rows"] == 48_000 and result["shuffles"] == 3
    # uniform replay: about the file's mean visit rate over the three arms (10.6%, 15.1%, 18.3% published)
    assert policies["uniform"]["mean_reward"] == pytest.approx(0.147, abs=0.01)
    assert policies["uniform"]["accepted"] == pytest.approx(16_000, rel=0.05)
    assert policies["best_arm_in_hindsight"]["mean_reward"] == pytest.approx(0.183, abs=0.005)
    thompson = policies["thompson_waves_of_500"]["mean_reward"]
    assert policies["uniform"]["mean_reward"] < thompson <= policies["best_arm_in_hindsight"]["mean_reward"] + 0.01
    assert result["ratios"][0]["ci_low"] > 1.0
