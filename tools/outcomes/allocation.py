"""Adaptive allocation across waves: Thompson sampling over the arms, and its value by offline replay.

Thompson sampling (Beta-Bernoulli): each arm's response rate has a Beta(1 + successes, 1 + failures) posterior;
a send goes to the arm whose posterior draw is highest, so an arm gets sends in proportion to the probability that
it is the best. In a multi-wave campaign the posterior is updated only between waves (:func:`thompson_allocation`
gives a wave's sends per arm; :class:`ThompsonPolicy` replays that with ``wave_size`` sends per wave).

Replay (Li, Chu, Langford and Wang 2011, "Unbiased offline evaluation of contextual-bandit-based news article
recommendation algorithms", WSDM): stream logged rows in a shuffled order; when the policy's choice equals the
logged arm the row is accepted, its reward counts and the policy learns from it; otherwise the row is skipped.
The mean reward per accepted send is unbiased for the policy's value when the log's arms were assigned uniformly
at random (as in the Hillstrom experiment). Repeating over shuffles gives an interval.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field


class ArmOutcomes(BaseModel):
    """What one arm has shown so far."""

    arm: str
    sends: int = Field(ge=0)
    successes: int = Field(ge=0)


class WaveAllocation(BaseModel):
    """Sends per arm for the next wave, with each arm's posterior probability of being the best."""

    sends: dict[str, int]
    p_best: dict[str, float]


def thompson_allocation(arms: list[ArmOutcomes], sends: int, seed: int, draws: int = 10_000) -> WaveAllocation:
    """Split the next wave's ``sends`` across arms by Thompson sampling (Beta(1, 1) prior).

    Each arm's share is its posterior probability of having the highest rate, estimated from ``draws`` joint
    posterior draws; shares become whole sends by largest remainders, so they sum to ``sends``.

    Args:
        arms: Sends and successes of each arm so far (zeros before the first wave).
        sends: Sends of the next wave.
        seed: Seed of the posterior draws.
        draws: Monte Carlo draws.

    Returns:
        Sends per arm and the probabilities of being the best.
    """
    rng = np.random.default_rng(seed)
    a = np.array([1 + x.successes for x in arms], dtype=float)
    b = np.array([1 + x.sends - x.successes for x in arms], dtype=float)
    best = rng.beta(a, b, size=(draws, len(arms))).argmax(axis=1)
    p_best = np.bincount(best, minlength=len(arms)) / draws
    exact = p_best * sends
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts), kind="stable")[: sends - counts.sum()]:
        counts[i] += 1
    return WaveAllocation(sends={x.arm: int(n) for x, n in zip(arms, counts, strict=True)},
                          p_best={x.arm: float(p) for x, p in zip(arms, p_best, strict=True)})


class Policy(Protocol):
    """An allocation policy over arms numbered 0..k-1: choose an arm, then learn the reward of an accepted send."""

    def choose(self) -> int:
        """Return the arm for the next send."""
        ...

    def update(self, arm: int, reward: float) -> None:
        """Learn the reward of a send to ``arm``."""
        ...


class UniformPolicy:
    """Every send to an arm drawn uniformly at random (the usual even split of an A/B test)."""

    def __init__(self, n_arms: int, seed: int) -> None:
        """Create the policy.

        Args:
            n_arms: Number of arms.
            seed: Seed of the draws.
        """
        self.n_arms = n_arms
        self.rng = np.random.default_rng(seed)
        self._queue: list[int] = []

    def choose(self) -> int:
        """Return a uniformly drawn arm."""
        if not self._queue:
            self._queue = self.rng.integers(self.n_arms, size=4096).tolist()
        return self._queue.pop()

    def update(self, arm: int, reward: float) -> None:
        """Learn nothing: the split stays even."""


class FixedPolicy:
    """Every send to one arm (e.g. the arm that was best in hindsight: an upper reference, not a policy to run)."""

    def __init__(self, arm: int) -> None:
        """Create the policy.

        Args:
            arm: The arm every send goes to.
        """
        self.arm = arm

    def choose(self) -> int:
        """Return the fixed arm."""
        return self.arm

    def update(self, arm: int, reward: float) -> None:
        """Learn nothing."""


class ThompsonPolicy:
    """Beta-Bernoulli Thompson sampling whose posterior is updated between waves of ``wave_size`` accepted sends."""

    def __init__(self, n_arms: int, seed: int, wave_size: int = 1) -> None:
        """Create the policy with a Beta(1, 1) prior on every arm.

        Args:
            n_arms: Number of arms.
            seed: Seed of the posterior draws.
            wave_size: Sends per wave; the posterior used for choosing changes only after this many sends.
        """
        self.successes = np.zeros(n_arms)
        self.failures = np.zeros(n_arms)
        self.wave_size = wave_size
        self.rng = np.random.default_rng(seed)
        self._pending: list[tuple[int, float]] = []
        self._queue: list[int] = []

    def _refill(self) -> None:
        # draws of the current posterior, at most as many as the wave has sends left (a per-send update needs one)
        size = min(256, self.wave_size - len(self._pending))
        draws = self.rng.beta(1 + self.successes, 1 + self.failures, size=(size, len(self.successes)))
        self._queue = draws.argmax(axis=1).tolist()[::-1]

    def choose(self) -> int:
        """Return the arm with the highest draw from the current wave's posterior."""
        if not self._queue:
            self._refill()
        return self._queue.pop()

    def update(self, arm: int, reward: float) -> None:
        """Record the reward; at the end of a wave, fold the wave's rewards into the posterior."""
        self._pending.append((arm, reward))
        if len(self._pending) >= self.wave_size:
            for a, r in self._pending:
                self.successes[a] += r
                self.failures[a] += 1 - r
            self._pending = []
            self._queue = []  # later choices draw from the new posterior


class ReplayResult(BaseModel):
    """One replay pass of a policy over a log."""

    rows: int
    accepted: int = Field(description="Rows whose logged arm was the policy's choice.")
    reward: float = Field(description="Sum of the accepted rows' rewards.")
    mean_reward: float = Field(description="Reward per accepted send: the policy's estimated value.")
    accepted_per_arm: dict[str, int]


def replay(log: pd.DataFrame, policy: Policy, arms: list[str], seed: int | None) -> ReplayResult:
    """Replay ``policy`` on a log of uniformly randomised sends (Li et al. 2011).

    Args:
        log: One row per logged send, columns ``arm`` (one of ``arms``) and ``reward`` (0/1).
        policy: The policy, numbering arms by their position in ``arms``.
        arms: The arm names.
        seed: Seed of the shuffle of the rows; None replays them in the given order.

    Returns:
        The accepted sends and their reward.
    """
    order = np.arange(len(log)) if seed is None else np.random.default_rng(seed).permutation(len(log))
    index = {name: i for i, name in enumerate(arms)}
    logged = log["arm"].map(index).to_numpy()[order]
    rewards = log["reward"].to_numpy(dtype=float)[order]
    accepted = np.zeros(len(arms), dtype=int)
    total = 0.0
    for arm, reward in zip(logged.tolist(), rewards.tolist(), strict=True):
        if policy.choose() == arm:
            policy.update(arm, reward)
            accepted[arm] += 1
            total += reward
    n = int(accepted.sum())
    return ReplayResult(rows=len(log), accepted=n, reward=total, mean_reward=total / n if n else 0.0,
                        accepted_per_arm={name: int(accepted[i]) for i, name in enumerate(arms)})


class PolicyValue(BaseModel):
    """A policy's replayed value over repeated shuffles."""

    mean_reward: float = Field(description="Mean over shuffles of the reward per accepted send.")
    ci_low: float = Field(description="2.5th percentile over shuffles.")
    ci_high: float = Field(description="97.5th percentile over shuffles.")
    accepted: float = Field(description="Mean accepted sends per shuffle.")


class RatioValue(BaseModel):
    """One policy's value divided by another's, per shuffle (same order of rows), over the shuffles."""

    policy: str
    baseline: str
    mean: float
    ci_low: float
    ci_high: float


class ReplayComparison(BaseModel):
    """Policies replayed on the same shuffles of one log."""

    rows: int
    shuffles: int
    policies: dict[str, PolicyValue]
    ratios: list[RatioValue]


def compare_policies(
    log: pd.DataFrame, arms: list[str], policies: Mapping[str, Callable[[int], Policy]], ratios: list[tuple[str, str]],
    shuffles: int = 50, seed: int = 0,
) -> ReplayComparison:
    """Replay each policy on the same ``shuffles`` shuffles of ``log`` and summarise their values.

    Args:
        log: Columns ``arm`` and ``reward`` (see :func:`replay`); arms must have been assigned uniformly at random.
        arms: Arm names (a policy's arm i is ``arms[i]``).
        policies: Name → a callable taking a seed and returning a fresh :class:`Policy`.
        ratios: (policy, baseline) pairs whose per-shuffle value ratio to report.
        shuffles: Number of shuffles; shuffle i uses seed ``seed + i`` for the order and for the policies.
        seed: First seed.

    Returns:
        Each policy's mean reward per accepted send with a 95% percentile interval over shuffles, and the ratios.
    """
    values: dict[str, list[float]] = {name: [] for name in policies}
    accepted: dict[str, list[int]] = {name: [] for name in policies}
    for i in range(shuffles):
        for name, make in policies.items():
            result = replay(log, make(seed + i), arms, seed=seed + i)
            values[name].append(result.mean_reward)
            accepted[name].append(result.accepted)

    def interval(xs: np.ndarray) -> tuple[float, float]:
        low, high = np.percentile(xs, [2.5, 97.5])
        return float(low), float(high)

    summary = {}
    for name, xs in values.items():
        low, high = interval(np.array(xs))
        summary[name] = PolicyValue(mean_reward=float(np.mean(xs)), ci_low=low, ci_high=high,
                                    accepted=float(np.mean(accepted[name])))
    out = []
    for policy, baseline in ratios:
        r = np.array(values[policy]) / np.array(values[baseline])
        low, high = interval(r)
        out.append(RatioValue(policy=policy, baseline=baseline, mean=float(r.mean()), ci_low=low, ci_high=high))
    return ReplayComparison(rows=len(log), shuffles=shuffles, policies=summary, ratios=out)
