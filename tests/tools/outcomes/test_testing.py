"""Tests of an arm against the control: z-test and Welch against their formulas, Fisher on the textbook table, and
Holm on a worked example."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from tools.outcomes.testing import holm, proportion_test, welch_test


def test_two_proportion_z_test_matches_the_pooled_formula() -> None:
    # 56/70 against 48/80: pooled p = 104/150, z = (0.8 - 0.6) / sqrt(p (1 - p) (1/70 + 1/80))
    pooled = 104 / 150
    z = 0.2 / math.sqrt(pooled * (1 - pooled) * (1 / 70 + 1 / 80))
    result = proportion_test(56, 70, 48, 80)
    assert result.test == "z-test"
    assert result.p_value == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-9)
    assert result.p_value == pytest.approx(0.00804, abs=5e-5)


def test_fisher_is_chosen_when_an_expected_count_is_below_five() -> None:
    # the lady tasting tea: 3 of 4 against 1 of 4; two-sided Fisher p = 34/70
    result = proportion_test(3, 4, 1, 4)
    assert result.test == "fisher"
    assert result.min_expected == pytest.approx(2.0)
    assert result.p_value == pytest.approx(34 / 70)


def test_the_z_test_is_kept_when_every_expected_count_is_at_least_five() -> None:
    # expected counts: 10 successes per arm of 20 → 10, 10, 10, 10
    assert proportion_test(12, 20, 8, 20).test == "z-test"
    # 2 successes in 200 + 200 rows: expected 1 per cell
    assert proportion_test(2, 200, 0, 200).test == "fisher"


def test_welch_matches_the_welch_satterthwaite_formula() -> None:
    a, b = np.array([1.0, 2.0, 3.0, 4.0, 5.0]), np.array([2.0, 4.0, 6.0, 8.0, 10.0, 12.0])
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)  # 0.5 and 14/6
    t = (a.mean() - b.mean()) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    result = welch_test(a, b)
    assert result.test == "welch"
    assert result.p_value == pytest.approx(2 * stats.t.sf(abs(t), df), rel=1e-9)


def test_holm_on_a_worked_example() -> None:
    # sorted 0.005, 0.01, 0.03, 0.04 × 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04; running maximum 0.02, 0.03, 0.06, 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_caps_at_one_and_keeps_a_single_p_value() -> None:
    assert holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])
    assert holm([0.02]) == pytest.approx([0.02])
    assert holm([]) == []
