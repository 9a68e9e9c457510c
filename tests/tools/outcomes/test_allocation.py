"""Thompson-sampling allocation and the replay estimator, on tiny hand-made logs with known answers."""

from __future__ import annotations

import pandas as pd
import pytest

from tools.outcomes.allocation import (
    ArmOutcomes,
    FixedPolicy,
    ThompsonPolicy,
    UniformPolicy,
    compare_policies,
    replay,
    thompson_allocation,
)

# arm A: rewards 1, 0, 1 (2/3); arm B: rewards 0, 0, 1 (1/3)
LOG = pd.DataFrame({"arm": ["A", "B", "A", "B", "A", "B"], "reward": [1, 0, 0, 0, 1, 1]})
ARMS = ["A", "B"]


class Alternating:
    """Chooses A, B, A, B, … and records what it learned (a policy with a known replay)."""

    def __init__(self) -> None:
        self.next = 0
        self.learned: list[tuple[int, float]] = []

    def choose(self) -> int:
        arm, self.next = self.next, 1 - self.next
        return arm

    def update(self, arm: int, reward: float) -> None:
        self.learned.append((arm, reward))


def test_a_fixed_policy_is_worth_its_arm_mean_under_any_shuffle() -> None:
    for seed in (None, 0, 1, 2):
        result = replay(LOG, FixedPolicy(0), ARMS, seed=seed)
        assert (result.accepted, result.reward, result.accepted_per_arm) == (3, 2.0, {"A": 3, "B": 0})
        assert result.mean_reward == pytest.approx(2 / 3)


def test_replay_accepts_only_rows_where_the_choice_is_the_logged_arm() -> None:
    # in log order the choices A, B, A, B, A, B match every row: all six accepted, learned in order
    policy = Alternating()
    result = replay(LOG, policy, ARMS, seed=None)
    assert result.accepted == 6 and result.reward == 3.0
    assert policy.learned == [(0, 1.0), (1, 0.0), (0, 0.0), (1, 0.0), (0, 1.0), (1, 1.0)]
    # rows in the order B, A, B, A, …: the choices A, B, A, B never match, so nothing is accepted
    swapped = LOG.iloc[[1, 0, 3, 2, 5, 4]].reset_index(drop=True)
    nothing = replay(swapped, Alternating(), ARMS, seed=None)
    assert (nothing.accepted, nothing.mean_reward) == (0, 0.0)


def test_thompson_allocation_sends_most_of_a_wave_to_the_clearly_better_arm() -> None:
    wave = thompson_allocation([ArmOutcomes(arm="a", sends=1000, successes=100),
                                ArmOutcomes(arm="b", sends=1000, successes=200)], sends=500, seed=0)
    assert sum(wave.sends.values()) == 500
    assert wave.sends["b"] == 500 and wave.p_best["b"] == pytest.approx(1.0)


def test_thompson_allocation_splits_evenly_before_any_outcome() -> None:
    wave = thompson_allocation([ArmOutcomes(arm=x, sends=0, successes=0) for x in "abc"], sends=3000, seed=0)
    assert sum(wave.sends.values()) == 3000
    assert all(abs(n - 1000) < 60 for n in wave.sends.values())


def test_thompson_policy_waits_for_the_end_of_a_wave_to_learn() -> None:
    policy = ThompsonPolicy(2, seed=0, wave_size=3)
    policy.update(0, 1.0)
    policy.update(0, 1.0)
    assert policy.successes.tolist() == [0.0, 0.0]
    policy.update(1, 0.0)
    assert policy.successes.tolist() == [2.0, 0.0] and policy.failures.tolist() == [0.0, 1.0]


def test_thompson_beats_uniform_on_a_log_with_a_clearly_better_arm() -> None:
    # 900 rows per arm, uniform assignment: arm A 30% reward, arm B 10%
    rows = [{"arm": "A", "reward": int(i % 10 < 3)} for i in range(900)]
    rows += [{"arm": "B", "reward": int(i % 10 < 1)} for i in range(900)]
    log = pd.DataFrame(rows)
    result = compare_policies(
        log, ARMS, {"uniform": lambda s: UniformPolicy(2, s), "thompson": lambda s: ThompsonPolicy(2, s, 20)},
        ratios=[("thompson", "uniform")], shuffles=10,
    )
    assert result.policies["uniform"].mean_reward == pytest.approx(0.2, abs=0.03)
    assert result.policies["thompson"].mean_reward > 0.25
    assert result.ratios[0].ci_low > 1.0
