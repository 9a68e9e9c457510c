"""Intervals of a difference: Newcombe's published example, and the bootstrap on data with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from tools.outcomes.estimators import bootstrap_mean_difference, newcombe_interval, wilson_interval


def test_newcombe_interval_matches_the_published_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17, table II, example (a): 56/70 - 48/80, method 10: 0.0524 to 0.3339
    low, high = newcombe_interval(56, 70, 48, 80)
    assert low == pytest.approx(0.0524, abs=5e-5)
    assert high == pytest.approx(0.3339, abs=5e-5)


def test_wilson_interval_matches_the_formula() -> None:
    # 15 of 50, 95%: centre (p + z²/2n) / (1 + z²/n), half-width z sqrt(p(1-p)/n + z²/4n²) / (1 + z²/n)
    z, n, p = 1.959963984540054, 50, 0.3
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert wilson_interval(15, 50) == pytest.approx((centre - half, centre + half), abs=1e-9)


def test_newcombe_interval_stays_inside_minus_one_to_one_at_the_edges() -> None:
    low, high = newcombe_interval(5, 5, 0, 5)
    assert 0 < low < high <= 1


def test_bootstrap_of_constant_samples_is_the_exact_difference() -> None:
    low, high = bootstrap_mean_difference(np.full(20, 5.0), np.full(30, 2.0), seed=0)
    assert (low, high) == pytest.approx((3.0, 3.0))


def test_bootstrap_is_fixed_by_its_seed_and_covers_the_difference() -> None:
    rng = np.random.default_rng(1)
    arm, control = rng.normal(12.0, 2.0, 400), rng.normal(10.0, 2.0, 400)
    first = bootstrap_mean_difference(arm, control, seed=7)
    assert bootstrap_mean_difference(arm, control, seed=7) == first
    observed = arm.mean() - control.mean()
    assert first[0] < observed < first[1]
    # the percentile interval's half-width is close to 1.96 × the standard error of the difference
    se = np.sqrt(arm.var(ddof=1) / 400 + control.var(ddof=1) / 400)
    assert (first[1] - first[0]) / 2 == pytest.approx(1.96 * se, rel=0.1)
