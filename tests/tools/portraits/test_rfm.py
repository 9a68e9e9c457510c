"""RFM on the real CDNOW purchases, checked on customers computed by hand from the raw file."""

from __future__ import annotations

import pandas as pd
import pytest

from agent.settings import Settings
from tools.portraits.building import build_portraits
from tools.portraits.rfm import compute_rfm, rfm_rule
from tools.shop.shop_data import Shop, pseudonymise
from tools.shop.sources import load_cdnow

# From CDNOW_master.txt by hand: the shop's last purchase is 1998-06-30; quintile cut points over the 23,570
# customers are recency [141, 432, 485, 512] days, frequency [1, 1, 2, 4], spend [15.36, 31.35, 59.924, 133.95].
HAND = {  # raw id: (recency days, purchases, spend, R, F, M, band)
    "00001": (545, 1, 11.77, 1, 1, 1, "low"),  # one CD on 1997-01-01
    "00002": (534, 2, 89.00, 1, 3, 4, "high"),  # 12.00 + 77.00, both on 1997-01-12
    "00003": (33, 6, 156.46, 5, 5, 5, "high"),
    "00004": (200, 4, 100.50, 4, 4, 4, "high"),  # 4 purchases is not above the cut point 4
    "00007": (100, 3, 264.67, 5, 4, 5, "high"),
    "00010": (525, 1, 39.31, 1, 1, 3, "medium"),
}


@pytest.fixture(scope="module")
def cdnow(settings: Settings) -> Shop:
    return load_cdnow(settings)[0]


def test_rfm_matches_hand_computed_customers(cdnow: Shop, settings: Settings) -> None:
    table = compute_rfm(cdnow)
    assert len(table) == 23_570
    key = settings.pseudonym_key.get_secret_value()
    for raw, (days, count, spend, r, f, m, band) in HAND.items():
        row = table.loc[pseudonymise(raw, key)]
        assert (row["recency_days"], row["frequency"], round(row["monetary"], 2)) == (days, count, spend), raw
        assert (row["r"], row["f"], row["m"], row["spend_band"]) == (r, f, m, band), raw
        assert row["rfm"] == f"{r}{f}{m}"


def test_scores_follow_the_cut_points(cdnow: Shop) -> None:
    table = compute_rfm(cdnow)
    for column, score, higher in (("frequency", "f", True), ("monetary", "m", True), ("recency_days", "r", False)):
        cuts = table[column].quantile([0.2, 0.4, 0.6, 0.8]).to_numpy()
        expected = table[column].map(lambda v, c=cuts, h=higher: 1 + int(((v > c) if h else (v < c)).sum()))
        pd.testing.assert_series_equal(table[score].astype("int64"), expected.astype("int64"), check_names=False)
    # Most customers bought once: the ties leave F score 2 unused rather than splitting equal customers.
    assert set(table["f"]) == {1, 3, 4, 5}


def test_movielens_has_no_monetary_and_says_so(shop: Shop) -> None:
    table = compute_rfm(shop)
    assert table["m"].isna().all() and table["spend_band"].isna().all()
    assert table["rfm"].str.fullmatch(r"[1-5][1-5]-").all()
    assert "monetary is not available" in rfm_rule(has_monetary=False)
    first = build_portraits(shop)[0]
    assert first.rfm_m is None and first.total_spend is None and first.spend_band is None
    assert "spent" not in first.text


def test_cdnow_portraits_carry_spend(cdnow: Shop, settings: Settings) -> None:
    key = settings.pseudonym_key.get_secret_value()
    small = Shop("cdnow", cdnow.customers.head(50), cdnow.products, cdnow.interactions)
    portraits = {p.customer_id: p for p in build_portraits(small)}
    second = portraits[pseudonymise("00002", key)]
    assert second.n_purchases == 2 and second.total_spend == 89.0
    assert second.text == "Lapsed customer (2 purchases, spent 89.00 in total, last active 1997-01-12)."
