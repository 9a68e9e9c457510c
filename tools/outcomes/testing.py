"""Significance tests of an arm against the control, and Holm's correction across arms.

0/1 outcomes: the two-proportion z-test (pooled variance; computed as scipy's uncorrected chi-square test of the
2×2 table, whose p-value is the same), or Fisher's exact test when any expected cell count is below 5.
Continuous outcomes: Welch's t-test. statsmodels is not a dependency of this project, so Holm's step-down
correction is written here with numpy (scipy has only Benjamini–Hochberg).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, Field
from scipy import stats

TestName = Literal["z-test", "fisher", "welch"]

MIN_EXPECTED = 5.0


class TestResult(BaseModel):
    """One test of an arm against the control."""

    test: TestName = Field(description="z-test (two proportions), fisher (exact, small counts) or welch (t-test).")
    p_value: float = Field(description="Two-sided p-value, not corrected for the number of arms.")
    min_expected: float | None = Field(None, description="Smallest expected cell count of the 2×2 table (0/1).")


def proportion_test(successes: int, n: int, control_successes: int, control_n: int) -> TestResult:
    """Two-sided test of equal proportions: the z-test, or Fisher's exact test when an expected count is below 5.

    Args:
        successes: 1s in the arm.
        n: Rows in the arm.
        control_successes: 1s in the control.
        control_n: Rows in the control.

    Returns:
        The test used and its p-value.
    """
    table = np.array([[successes, n - successes], [control_successes, control_n - control_successes]])
    total = table.sum()
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / total
    min_expected = float(expected.min())
    if min_expected < MIN_EXPECTED:
        return TestResult(test="fisher", p_value=float(stats.fisher_exact(table).pvalue), min_expected=min_expected)
    # the pooled two-proportion z-test: z² is the uncorrected chi-square statistic of the table
    p = float(stats.chi2_contingency(table, correction=False).pvalue)
    return TestResult(test="z-test", p_value=p, min_expected=min_expected)


def welch_test(values: np.ndarray, control_values: np.ndarray) -> TestResult:
    """Welch's two-sided t-test of equal means (unequal variances), via ``scipy.stats.ttest_ind``.

    Args:
        values: The arm's outcomes.
        control_values: The control's outcomes.

    Returns:
        The test and its p-value (1.0 when both samples are constant and equal).
    """
    p = float(stats.ttest_ind(values, control_values, equal_var=False).pvalue)
    return TestResult(test="welch", p_value=1.0 if np.isnan(p) else p)


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (Holm 1979), in the input order.

    The i-th smallest p-value is multiplied by (m - i), running maxima keep the order, and values are capped at 1;
    an arm is significant at level alpha when its adjusted p-value is below alpha.

    Args:
        p_values: Raw p-values, one per arm.

    Returns:
        The adjusted p-values.
    """
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    out = np.empty(m)
    out[order] = adjusted
    return out.tolist()
