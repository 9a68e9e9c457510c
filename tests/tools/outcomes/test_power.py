"""Minimum detectable lift against the formula, and sizing a test for a target lift."""

from __future__ import annotations

import math

import pytest

from tools.outcomes.power import minimum_detectable_lift, size_test

Z = 1.959963984540054 + 0.8416212335729143  # z[0.975] + z[0.8]


def test_minimum_detectable_lift_of_two_groups_of_a_thousand_at_ten_percent() -> None:
    # (1.96 + 0.8416) × sqrt(0.1 × 0.9 × (1/1000 + 1/1000)) = 0.03758
    assert minimum_detectable_lift(1000, 1000, 0.1) == pytest.approx(Z * math.sqrt(0.09 * 0.002))
    assert minimum_detectable_lift(1000, 1000, 0.1) == pytest.approx(0.0376, abs=1e-4)


def test_minimum_detectable_lift_of_a_continuous_outcome_uses_its_sd() -> None:
    assert minimum_detectable_lift(50, 200, sd=4.0) == pytest.approx(Z * 4.0 * math.sqrt(1 / 50 + 1 / 200))
    assert minimum_detectable_lift(0, 200, 0.1) == math.inf


def test_sizing_finds_the_smallest_holdout_that_detects_the_target() -> None:
    sizing = size_test(audience=10_000, base_rate=0.1, target_lift=0.03, max_arms=3)
    assert sizing.feasible
    assert sizing.arms == 3
    assert sizing.mde <= 0.03
    assert sizing.per_arm == (10_000 - sizing.holdout) // 3
    # one customer fewer in the holdout would miss the target
    smaller = minimum_detectable_lift((10_000 - sizing.holdout + 1) // 3, sizing.holdout - 1, 0.1)
    assert smaller > 0.03


def test_sizing_drops_arms_before_giving_up() -> None:
    # 3,000 customers at 10%: three or two arms cannot detect 0.035 (best two-arm split: 0.037), one arm can
    sizing = size_test(audience=3_000, base_rate=0.1, target_lift=0.035, max_arms=3)
    assert sizing.feasible and sizing.arms == 1
    assert minimum_detectable_lift(1_500, 1_500, 0.1) <= 0.035


def test_sizing_that_cannot_reach_the_target_says_how_many_customers_it_needs() -> None:
    sizing = size_test(audience=200, base_rate=0.1, target_lift=0.02, max_arms=2)
    assert not sizing.feasible
    assert sizing.audience_needed is not None
    half = sizing.audience_needed // 2
    assert minimum_detectable_lift(half, half, 0.1) <= 0.02 < minimum_detectable_lift(half - 1, half - 1, 0.1)
