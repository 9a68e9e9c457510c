"""Score tables from two engines agree up to rounding, and not beyond it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tools.scoring import engines_agree, max_abs_difference, tables_agree


def _table() -> pd.DataFrame:
    return pd.DataFrame({"customer_id": ["a", "a", "b"], "rank": [1, 2, 1], "product_id": ["p", "q", "p"],
                         "score": [1.0, 0.5, np.nan]})


def test_a_last_bit_difference_agrees_and_is_reported():
    other = _table()
    other.loc[1, "score"] = 0.5 + 2.220446049250313e-16
    assert tables_agree(_table(), other)
    assert max_abs_difference(_table(), other) == 2.220446049250313e-16


def test_a_different_score_rank_or_row_order_does_not_agree():
    far = _table()
    far.loc[1, "score"] = 0.5 + 1e-9
    swapped = _table()
    swapped.loc[[0, 1], "product_id"] = ["q", "p"]
    reordered = _table().iloc[[1, 0, 2]]
    assert not tables_agree(_table(), far)
    assert not tables_agree(_table(), swapped)
    assert not tables_agree(_table(), reordered)
    assert abs(max_abs_difference(_table(), far) - 1e-9) < 1e-15


def test_engines_agree_job_by_job_and_report_the_largest_gap():
    near = _table()
    near.loc[0, "score"] = 1.0 - 1.1102230246251565e-16
    far = _table()
    far.loc[0, "score"] = 0.9
    agreed = engines_agree({"a": _table(), "b": _table()}, {"a": near, "b": _table()})
    assert agreed == {"ray_matches_local": True, "matches": {"a": True, "b": True},
                      "ray_max_abs_diff": 1.1102230246251565e-16}
    differ = engines_agree({"a": _table(), "b": _table()}, {"a": _table(), "b": far})
    assert differ["ray_matches_local"] is False and differ["matches"] == {"a": True, "b": False}
    assert abs(differ["ray_max_abs_diff"] - 0.1) < 1e-12
