"""The experiment analysis on small tables with hand-computed answers, and on the real Hillstrom experiment."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from agent.settings import Settings
from tools.outcomes import ExperimentRequest, OutcomeDataError, analyse_experiment, analyse_file


def _table(counts: dict[str, tuple[int, int]], segment: str | None = None) -> pd.DataFrame:
    """One row per customer: ``counts`` maps an arm to (1s, rows)."""
    rows = [{"arm": arm, "y": int(i < ones)} for arm, (ones, n) in counts.items() for i in range(n)]
    data = pd.DataFrame(rows)
    if segment is not None:
        data["seg"] = segment
    return data


def _z_p(x1: int, n1: int, x0: int, n0: int) -> float:
    pooled = (x1 + x0) / (n1 + n0)
    z = (x1 / n1 - x0 / n0) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    return math.erfc(abs(z) / math.sqrt(2))


REQUEST = ExperimentRequest(arm_column="arm", control="ctl", outcome="y")


def test_holm_takes_away_a_winner_that_is_significant_only_before_correction() -> None:
    result = analyse_experiment(_table({"ctl": (30, 100), "A": (45, 100), "B": (32, 100)}), REQUEST)
    a, b = result.arms
    assert (a.arm, a.n, a.rate, a.lift) == ("A", 100, 0.45, pytest.approx(0.15))
    assert b.lift == pytest.approx(0.02)
    assert a.p_value_raw == pytest.approx(_z_p(45, 100, 30, 100)) and a.p_value_raw < 0.05
    # Holm over two arms: the smaller p-value doubles (0.0285 → 0.0569), the larger is its own or that
    assert a.p_value == pytest.approx(2 * _z_p(45, 100, 30, 100))
    assert b.p_value == pytest.approx(max(2 * _z_p(45, 100, 30, 100), _z_p(32, 100, 30, 100)))
    assert result.winner is None
    assert any(note.startswith("B:") for note in result.power_notes)
    assert result.control.rate == 0.3 and result.rows == 300


def test_the_winner_is_the_largest_significant_lift() -> None:
    result = analyse_experiment(_table({"ctl": (30, 100), "A": (50, 100), "B": (55, 100)}), REQUEST)
    assert all(a.significant for a in result.arms)
    assert result.winner == "B"
    summary = result.summary()
    assert summary["arms"] == [{"arm": a.arm, "n": a.n, "rate": a.rate, "lift": a.lift, "ci_low": a.ci_low,
                                "ci_high": a.ci_high, "p_value": a.p_value} for a in result.arms]
    assert [a.arm for a in result.arms] == ["A", "B"]
    assert set(summary) == {"rows", "arms", "winner"}


def test_a_significantly_worse_arm_is_not_a_winner() -> None:
    result = analyse_experiment(_table({"ctl": (50, 100), "A": (20, 100)}), REQUEST)
    assert result.arms[0].significant and result.arms[0].lift < 0
    assert result.winner is None


def test_small_counts_use_fisher() -> None:
    result = analyse_experiment(_table({"ctl": (1, 4), "A": (3, 4)}), REQUEST)
    assert result.arms[0].test == "fisher"
    assert result.arms[0].p_value == pytest.approx(34 / 70)


def test_revenue_per_customer_and_its_lift() -> None:
    data = _table({"ctl": (2, 4), "A": (3, 4)})
    data["rev"] = [10.0, 0.0, 0.0, 0.0, 20.0, 20.0, 5.0, 0.0]
    result = analyse_experiment(data, REQUEST.model_copy(update={"revenue": "rev"}))
    assert result.control.revenue_per_customer == pytest.approx(2.5)
    arm = result.arms[0]
    assert arm.revenue_per_customer == pytest.approx(11.25)
    assert arm.revenue_lift == pytest.approx(8.75)
    assert arm.revenue_ci_low is not None and arm.revenue_ci_high is not None
    assert arm.revenue_ci_low <= 8.75 <= arm.revenue_ci_high
    assert arm.revenue_p_value is not None and 0 < arm.revenue_p_value <= 1


def test_segments_are_analysed_on_their_own_rows() -> None:
    data = pd.concat([_table({"ctl": (30, 100), "A": (50, 100)}, "north"),
                      _table({"ctl": (10, 50), "A": (11, 50)}, "south"),
                      _table({"A": (1, 5)}, "west")], ignore_index=True)
    result = analyse_experiment(data, REQUEST.model_copy(update={"segment": "seg"}))
    by_segment = {s.segment: s for s in result.segments}
    assert by_segment["north"].arms[0].lift == pytest.approx(0.2)
    assert by_segment["north"].winner == "A"
    assert by_segment["south"].arms[0].lift == pytest.approx(0.02)
    assert by_segment["south"].winner is None
    assert result.skipped_segments == ["west"]  # no control there
    assert result.arms[0].lift == pytest.approx(62 / 155 - 40 / 150)


@pytest.mark.parametrize(("change", "message"), [
    ({"outcome": "nope"}, "no column 'nope'"),
    ({"control": "holdout"}, "control 'holdout' not found"),
])
def test_bad_requests_name_the_column_or_value(change: dict[str, str], message: str) -> None:
    with pytest.raises(OutcomeDataError, match=message):
        analyse_experiment(_table({"ctl": (1, 4), "A": (3, 4)}), REQUEST.model_copy(update=change))


def test_a_non_binary_outcome_names_its_row() -> None:
    data = _table({"ctl": (1, 4), "A": (3, 4)})
    data.loc[5, "y"] = 2
    with pytest.raises(OutcomeDataError, match="row 6: column 'y' must be 0 or 1, got 2"):
        analyse_experiment(data, REQUEST)


def test_hillstrom_lifts_contain_the_published_full_data_lifts(settings: Settings) -> None:
    """The real experiment: published full-data visit rates 10.6% (no e-mail), 15.1% (women's), 18.3% (men's)."""
    result = analyse_file(settings.shared_data_dir / "hillstrom_dev.csv",
                          ExperimentRequest(arm_column="segment", control="No E-Mail", outcome="visit"))
    arms = {a.arm: a for a in result.arms}
    assert result.rows == 48_000
    assert arms["Mens E-Mail"].ci_low < 0.183 - 0.106 < arms["Mens E-Mail"].ci_high
    assert arms["Womens E-Mail"].ci_low < 0.151 - 0.106 < arms["Womens E-Mail"].ci_high
    assert result.winner == "Mens E-Mail"
    assert result.control.rate == pytest.approx(0.106, abs=0.005)
