"""Outcome rows whose numbers cannot be stored or analysed are named errors, not a 500 at the database."""

from __future__ import annotations

import pandas as pd

from serve.outcomes import MAX_WAVE, parse_outcomes


def test_non_finite_revenue_and_a_wave_past_the_column_are_row_errors() -> None:
    table = pd.DataFrame({"customer_id": ["1", "2", "3", "4"], "arm": ["v1", "v1", "holdout", "v1"],
                          "sent_at": ["2024-01-01"] * 4, "revenue": ["inf", "1e400", "2", "3"],
                          "wave": ["1", "1", str(10**30), str(MAX_WAVE)]})
    records, errors = parse_outcomes(table, "upload.csv")
    assert [r.customer_id for r in records] == ["4"] and records[0].wave == MAX_WAVE
    assert [(e.customer_id, e.message.split(" ")[0]) for e in errors] == [("1", "revenue"), ("2", "revenue"),
                                                                         ("3", "wave")]
