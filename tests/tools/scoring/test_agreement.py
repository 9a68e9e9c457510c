"""Score tables from two engines agree up to rounding, and not beyond it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tools.scoring import max_abs_difference, tables_agree


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
