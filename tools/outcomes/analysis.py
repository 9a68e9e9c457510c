"""Analysis of an experiment file: each arm against the control.

Per arm: the rate and revenue per customer, the lift against the control with a 95% interval, Holm-corrected
p-values, the winner, a power note, and the same per segment.

The outcome is a 0/1 column (lift: difference of proportions, Newcombe's interval; test: two-proportion z-test,
Fisher's exact test for small counts). An optional revenue column is continuous (lift: difference of means,
percentile bootstrap interval with a fixed seed; test: Welch's t-test), Holm-corrected in its own family.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from tools.outcomes.calibration import Calibration
from tools.outcomes.estimators import bootstrap_mean_difference, newcombe_interval
from tools.outcomes.power import minimum_detectable_lift
from tools.outcomes.testing import TestName, holm, proportion_test, welch_test

CI_METHOD = "Newcombe hybrid score interval (method 10) of the difference of proportions"
REVENUE_CI_METHOD = "percentile bootstrap of the difference of means (each arm resampled on its own, fixed seed)"


class OutcomeDataError(ValueError):
    """An experiment file that cannot be analysed: the message names the file, row or column."""


class ExperimentRequest(BaseModel):
    """Which columns of an experiment table hold the arm, the outcome and (optionally) revenue and segment."""

    arm_column: str
    control: str = Field(description="The control arm's value in ``arm_column`` (e.g. the holdout).")
    outcome: str = Field(description="A 0/1 column (visited, converted, …).")
    revenue: str | None = Field(None, description="A numeric column of revenue per customer.")
    segment: str | None = Field(None, description="A column to repeat the analysis within each of its values.")
    alpha: float = Field(0.05, description="Significance level after Holm's correction.")
    confidence: float = 0.95
    power: float = Field(0.8, description="Power of the minimum detectable lift.")
    n_bootstrap: int = 2000
    seed: int = 0


class ControlSummary(BaseModel):
    """The control arm's size and rates."""

    arm: str
    n: int
    rate: float = Field(description="Mean of the 0/1 outcome.")
    revenue_per_customer: float | None = None


class ArmResult(BaseModel):
    """One arm against the control."""

    arm: str
    n: int
    rate: float = Field(description="Mean of the 0/1 outcome.")
    lift: float = Field(description="rate - control rate.")
    ci_low: float
    ci_high: float
    test: TestName
    p_value_raw: float
    p_value: float = Field(description="Holm-adjusted across the arms compared with the control.")
    significant: bool = Field(description="p_value < alpha.")
    mde: float = Field(description="Minimum detectable lift at the request's power and alpha, for these sizes.")
    revenue_per_customer: float | None = None
    revenue_lift: float | None = None
    revenue_ci_low: float | None = None
    revenue_ci_high: float | None = None
    revenue_p_value: float | None = Field(None, description="Welch's t-test, Holm-adjusted across arms.")
    revenue_mde: float | None = None


class ArmsAnalysis(BaseModel):
    """The arms of one table (the whole file, or one segment) against its control."""

    rows: int
    control: ControlSummary
    arms: list[ArmResult]
    winner: str | None = Field(
        description="The arm with the largest lift among those significantly better than the control, or None."
    )
    power_notes: list[str] = Field(default_factory=list)


class SegmentAnalysis(ArmsAnalysis):
    """The analysis within one value of the segment column."""

    segment: str


class ExperimentAnalysis(ArmsAnalysis):
    """The whole experiment, and per segment when a segment column was given."""

    outcome: str
    revenue: str | None = None
    alpha: float
    ci_method: str = CI_METHOD
    revenue_ci_method: str | None = None
    segments: list[SegmentAnalysis] = Field(default_factory=list)
    skipped_segments: list[str] = Field(default_factory=list, description="Segment values without the control or "
                                        "without another arm: nothing to compare there.")
    predictions: list[Calibration] = Field(default_factory=list, description="Predicted against observed, one per "
                                           "predicted quantity (a plan's results; empty for a file without "
                                           "predictions).")

    def summary(self) -> dict[str, object]:
        """The stand-alone JSON: rows, arms (arm, n, rate, lift, CI, Holm-adjusted p-value) and the winner."""
        return {
            "rows": self.rows,
            "arms": [{"arm": a.arm, "n": a.n, "rate": a.rate, "lift": a.lift, "ci_low": a.ci_low,
                      "ci_high": a.ci_high, "p_value": a.p_value} for a in self.arms],
            "winner": self.winner,
        }


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV, Parquet or JSON-lines file (by its suffix: .csv, .parquet/.pq, .jsonl/.ndjson/.json).

    Args:
        path: The file.

    Returns:
        Its rows.

    Raises:
        OutcomeDataError: The file is missing, of an unknown kind or unreadable (with the parser's reason).
    """
    path = Path(path)
    if not path.is_file():
        raise OutcomeDataError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if suffix in (".jsonl", ".ndjson", ".json"):
            return pd.read_json(path, lines=True)
    except (ValueError, pd.errors.ParserError, OSError, UnicodeDecodeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OutcomeDataError(f"{path}: cannot read it as {suffix[1:]}: {reason}") from None
    raise OutcomeDataError(f"{path}: unknown file kind {suffix or '(none)'}; use .csv, .parquet or .jsonl")


def _row_label(data: pd.DataFrame, index: object, source: str) -> str:
    """Name a row as people count it: the CSV line (header is line 1) or the 1-based row."""
    pos = int(data.index.get_loc(index))
    return f"line {pos + 2}" if source.endswith(".csv") else f"row {pos + 1}"


def _shown(value: object) -> str:
    """A cell as people read it: ``2``, ``'yes'``, ``None`` (not ``np.int64(2)``)."""
    item = getattr(value, "item", None)
    return repr(item() if callable(item) else value)


def validate(data: pd.DataFrame, request: ExperimentRequest, source: str = "the table") -> pd.DataFrame:
    """Check the columns and values an analysis needs and return them cleaned.

    Args:
        data: The experiment's rows.
        request: The columns to use.
        source: Name of the file, for messages.

    Returns:
        A table with columns ``arm`` (str), ``outcome`` (0/1 int), and ``revenue`` / ``segment`` when requested.

    Raises:
        OutcomeDataError: A missing column, a missing arm value, no control or no other arm, an outcome that is
            not 0/1, or a non-numeric revenue; the message names the first bad row.
    """
    columns = [request.arm_column, request.outcome, request.revenue, request.segment]
    missing = [c for c in columns if c is not None and c not in data.columns]
    if missing:
        raise OutcomeDataError(f"{source}: no column {missing[0]!r}; columns are {list(map(str, data.columns))}")
    if data.empty:
        raise OutcomeDataError(f"{source}: no rows")
    arm = data[request.arm_column]
    if arm.isna().any():
        raise OutcomeDataError(f"{source}: {_row_label(data, arm.index[arm.isna()][0], source)}: "
                               f"column {request.arm_column!r} is empty")
    arm = arm.astype(str)
    if not (arm == request.control).any():
        values = sorted(arm.unique())[:10]
        raise OutcomeDataError(f"{source}: control {request.control!r} not found in column {request.arm_column!r} "
                               f"(values: {values})")
    if (arm != request.control).sum() == 0:
        raise OutcomeDataError(f"{source}: column {request.arm_column!r} holds only the control {request.control!r}")
    raw = data[request.outcome]
    outcome = raw.map({True: 1, False: 0}) if raw.dtype == bool else pd.to_numeric(raw, errors="coerce")
    bad = outcome.isna() | ~outcome.isin([0, 1])
    if bad.any():
        i = outcome.index[bad][0]
        raise OutcomeDataError(f"{source}: {_row_label(data, i, source)}: column {request.outcome!r} must be 0 or 1, "
                               f"got {_shown(data.loc[i, request.outcome])}")
    out = pd.DataFrame({"arm": arm, "outcome": outcome.astype(int)})
    if request.revenue is not None:
        revenue = pd.to_numeric(data[request.revenue], errors="coerce")
        bad = revenue.isna() | ~np.isfinite(revenue)
        if bad.any():
            i = revenue.index[bad][0]
            raise OutcomeDataError(f"{source}: {_row_label(data, i, source)}: column {request.revenue!r} must be a "
                                   f"number, got {_shown(data.loc[i, request.revenue])}")
        out["revenue"] = revenue.astype(float)
    if request.segment is not None:
        out["segment"] = data[request.segment].astype(str)
    return out


def _analyse_arms(table: pd.DataFrame, request: ExperimentRequest) -> ArmsAnalysis:
    control = table[table["arm"] == request.control]
    c_n, c_x = len(control), int(control["outcome"].sum())
    c_rate = c_x / c_n
    c_rev = control["revenue"].to_numpy() if request.revenue else None
    arms = sorted(a for a in table["arm"].unique() if a != request.control)
    rows: list[dict[str, object]] = []
    for name in arms:
        group = table[table["arm"] == name]
        n, x = len(group), int(group["outcome"].sum())
        low, high = newcombe_interval(x, n, c_x, c_n, request.confidence)
        test = proportion_test(x, n, c_x, c_n)
        row: dict[str, object] = dict(
            arm=name, n=n, rate=x / n, lift=x / n - c_rate, ci_low=low, ci_high=high, test=test.test,
            p_value_raw=test.p_value, mde=minimum_detectable_lift(n, c_n, c_rate, alpha=request.alpha,
                                                                  power=request.power),
        )
        if c_rev is not None:
            rev = group["revenue"].to_numpy()
            r_low, r_high = bootstrap_mean_difference(rev, c_rev, request.seed, request.n_bootstrap,
                                                      request.confidence)
            row.update(revenue_per_customer=float(rev.mean()), revenue_lift=float(rev.mean() - c_rev.mean()),
                       revenue_ci_low=r_low, revenue_ci_high=r_high, revenue_p_raw=welch_test(rev, c_rev).p_value,
                       revenue_mde=minimum_detectable_lift(n, c_n, sd=float(np.std(c_rev, ddof=1)) if c_n > 1 else 0.0,
                                                           alpha=request.alpha, power=request.power))
        rows.append(row)
    adjusted = holm([float(r["p_value_raw"]) for r in rows])  # type: ignore[arg-type]
    rev_adjusted = holm([float(r["revenue_p_raw"]) for r in rows]) if c_rev is not None else []  # type: ignore[arg-type]
    results = []
    for i, row in enumerate(rows):
        row.pop("revenue_p_raw", None)
        results.append(ArmResult.model_validate({
            **row, "p_value": adjusted[i], "significant": adjusted[i] < request.alpha,
            "revenue_p_value": rev_adjusted[i] if rev_adjusted else None,
        }))
    better = [a for a in results if a.significant and a.lift > 0]
    winner = max(better, key=lambda a: a.lift).arm if better else None
    notes = [
        f"{a.arm}: with {a.n:,} rows against {c_n:,} in the control at a rate of {c_rate:.1%}, only lifts of "
        f"±{a.mde:.3f} or more are detected with {request.power:.0%} power (alpha {request.alpha}); the observed "
        f"{a.lift:+.3f} is smaller, so 'not significant' here does not mean 'no effect'."
        for a in results if not a.significant and abs(a.lift) < a.mde
    ]
    return ArmsAnalysis(
        rows=len(table), control=ControlSummary(
            arm=request.control, n=c_n, rate=c_rate,
            revenue_per_customer=float(c_rev.mean()) if c_rev is not None else None),
        arms=results, winner=winner, power_notes=notes,
    )


def analyse_experiment(data: pd.DataFrame, request: ExperimentRequest, source: str = "the table") -> ExperimentAnalysis:
    """Analyse an experiment table: each arm against the control, overall and per segment.

    Args:
        data: One row per customer with the request's columns.
        request: The arm, control, outcome and optional revenue / segment columns.
        source: Name of the data, for error messages.

    Returns:
        The analysis (``summary()`` gives the stand-alone JSON).

    Raises:
        OutcomeDataError: The table does not have what the request names (see :func:`validate`).
    """
    table = validate(data, request, source)
    whole = _analyse_arms(table, request)
    segments: list[SegmentAnalysis] = []
    skipped: list[str] = []
    if request.segment is not None:
        for value, part in table.groupby("segment", sort=True):
            has_control = (part["arm"] == request.control).any()
            if not has_control or (part["arm"] != request.control).sum() == 0:
                skipped.append(str(value))
                continue
            segments.append(SegmentAnalysis(segment=str(value), **_analyse_arms(part, request).model_dump()))
    return ExperimentAnalysis(
        **whole.model_dump(), outcome=request.outcome, revenue=request.revenue, alpha=request.alpha,
        revenue_ci_method=REVENUE_CI_METHOD if request.revenue else None, segments=segments,
        skipped_segments=skipped,
    )


def analyse_file(path: Path, request: ExperimentRequest) -> ExperimentAnalysis:
    """Read a CSV, Parquet or JSON-lines experiment file and analyse it (see :func:`analyse_experiment`).

    Args:
        path: The file.
        request: The columns to use.

    Raises:
        OutcomeDataError: The file cannot be read or lacks what the request names.
    """
    return analyse_experiment(read_table(path), request, source=str(path))
