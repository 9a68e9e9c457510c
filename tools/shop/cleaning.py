"""Cleaning steps of a marketer's data pipeline, each recorded in a :class:`CleaningReport`.

Every step is a small function that takes a table, applies one rule (drop duplicates, drop or impute
missing values, convert types, handle outliers) and appends what it did — how many rows, which column,
and why — to the report. A rule that touched nothing is recorded too (count 0), so the report lists every
check that ran.
"""

from __future__ import annotations

from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, Field

Action = Literal["dropped", "imputed", "converted", "flagged", "kept"]


class CleaningStep(BaseModel):
    """One rule applied to one table.

    Attributes:
        table: Table the rule ran on, e.g. ``"events"``.
        rule: Short rule name, e.g. ``"duplicate rows"``.
        action: What happened to the affected rows: dropped, imputed, converted, flagged (kept as is but
            counted), or kept (deliberately not changed; the reason says why).
        column: Column concerned, or None for whole rows.
        rows: Number of rows affected.
        reason: Why, in words.
    """

    table: str
    rule: str
    action: Action
    column: str | None = None
    rows: int = Field(ge=0)
    reason: str


class CleaningReport(BaseModel):
    """What cleaning did to one source.

    Attributes:
        source: Dataset or file name.
        rows_in: Rows read, per table.
        rows_out: Rows kept, per table.
        steps: Every rule that ran, in order.
        notes: Facts about the source that are not rules (e.g. columns not carried into the schema).
    """

    source: str
    rows_in: dict[str, int] = Field(default_factory=dict)
    rows_out: dict[str, int] = Field(default_factory=dict)
    steps: list[CleaningStep] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    def add(self, table: str, rule: str, action: Action, rows: int, reason: str, column: str | None = None) -> None:
        """Record one rule."""
        self.steps.append(
            CleaningStep(table=table, rule=rule, action=action, column=column, rows=int(rows), reason=reason)
        )

    def counts(self) -> dict[str, int]:
        """Return rows affected per ``"table: rule (action)"``."""
        return {f"{s.table}: {s.rule} ({s.action})": s.rows for s in self.steps}

    def dropped(self, table: str) -> int:
        """Return the number of rows dropped from a table."""
        return sum(s.rows for s in self.steps if s.table == table and s.action == "dropped")

    def summary(self) -> str:
        """Return the report as lines of text, one per rule."""
        lines = [
            f"{self.source}: " + ", ".join(f"{t} {self.rows_in[t]}→{self.rows_out.get(t, '?')}" for t in self.rows_in)
        ]
        for step in self.steps:
            where = f" [{step.column}]" if step.column else ""
            lines.append(f"  {step.table}: {step.rule}{where}: {step.rows} {step.action} — {step.reason}")
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def drop_duplicates(
    frame: pd.DataFrame, report: CleaningReport, table: str, reason: str, subset: list[str] | None = None
) -> pd.DataFrame:
    """Drop repeated rows (all columns, or ``subset``), keeping the first."""
    repeated = frame.duplicated(subset=subset, keep="first")
    rule = "duplicate rows" if subset is None else f"duplicate {', '.join(subset)}"
    report.add(table, rule, "dropped", int(repeated.sum()), reason)
    return frame.loc[~repeated].reset_index(drop=True)


def drop_where(
    frame: pd.DataFrame,
    mask: pd.Series,
    report: CleaningReport,
    table: str,
    rule: str,
    reason: str,
    column: str | None = None,
) -> pd.DataFrame:
    """Drop the rows where ``mask`` is True."""
    mask = mask.fillna(False).astype(bool)
    report.add(table, rule, "dropped", int(mask.sum()), reason, column)
    return frame.loc[~mask.to_numpy()].reset_index(drop=True)


def drop_missing(
    frame: pd.DataFrame, columns: list[str], report: CleaningReport, table: str, reason: str
) -> pd.DataFrame:
    """Drop rows missing a value in any of ``columns`` (one rule per column, counted in order)."""
    for column in columns:
        frame = drop_where(frame, frame[column].isna(), report, table, "missing value", reason, column)
    return frame


def impute(
    frame: pd.DataFrame, column: str, values: Any, report: CleaningReport, table: str, reason: str
) -> pd.DataFrame:
    """Fill missing values of a column with a scalar or an aligned Series (rows still missing stay so)."""
    before = frame[column].isna()
    filled = frame[column].where(~before, values)
    count = int((before & filled.notna()).sum())
    report.add(table, "missing value", "imputed", count, reason, column)
    return frame.assign(**{column: filled})


def flag(
    mask: pd.Series, report: CleaningReport, table: str, rule: str, reason: str, column: str | None = None
) -> None:
    """Count rows that look odd but are kept as they are (the reason says why)."""
    report.add(table, rule, "flagged", int(mask.fillna(False).sum()), reason, column)


def to_numbers(
    frame: pd.DataFrame, column: str, report: CleaningReport, table: str, integer: bool = False
) -> pd.DataFrame:
    """Convert a text column to numbers; cells that are not numbers become missing (and are counted)."""
    raw = frame[column]
    numbers = pd.to_numeric(raw, errors="coerce")
    bad = numbers.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
    report.add(table, "not a number", "converted", int(bad.sum()), "unparseable cells set to missing", column)
    return frame.assign(**{column: numbers.astype("Int64") if integer else numbers.astype("float64")})
