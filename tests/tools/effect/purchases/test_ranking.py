"""Next-month product ranking: metrics on hand-computed cases, the baselines' definitions, no leakage past the cut,
and the learned ranker against personal frequency on the retail validation month (2011-10-09..11-08)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tools.effect.purchases.ranking import (
    NextMonthRanker,
    next_month_truth,
    personal_frequency,
    popularity,
    purchase_history,
    ranking_metrics,
)
from tools.shop.shop_data import Shop

VALIDATION_CUT = pd.Timestamp("2011-10-09")
DAY = 86_400


def test_metrics_match_hand_computed_values() -> None:
    recs = {"a": ["p1", "p2", "p3"], "b": ["p4"], "c": ["p7", "p8", "p9"]}
    truth = {"a": {"p2", "p5"}, "b": {"p9"}, "c": {"p7"}, "d": set()}
    got = ranking_metrics(recs, truth, k=3)
    # a: hit at rank 2 → DCG 1/log2(3), ideal over min(2, 3) = 2 positions; b: nothing; c: hit at rank 1.
    ndcg_a = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert got["ndcg_at_3"] == pytest.approx((ndcg_a + 0 + 1) / 3)
    assert got["recall_at_3"] == pytest.approx((0.5 + 0 + 1) / 3)
    assert got["hit_at_3"] == pytest.approx(2 / 3)
    assert got["users"] == 3  # d bought nothing and is not averaged


def _line(order: str, customer: str | None, product: str, day: float, **extra: object) -> dict[str, object]:
    base = pd.Timestamp("2011-01-01", tz="UTC").timestamp()
    return {"order_id": order, "customer_id": customer, "product_id": product, "quantity": extra.get("q", 1),
            "unit_price": extra.get("price", 1.0), "timestamp": int(base + day * DAY),
            "cancelled": extra.get("cancelled", False)}


@pytest.fixture
def tiny_orders() -> pd.DataFrame:
    """A hand-made order table (derived test data, not shop data) with every cleaning case."""
    rows = [
        # customer x: 10001 in two invoices (old), 10002 in two invoices (newer), 10003 once
        _line("1", "x", "10001", 1), _line("2", "x", "10001", 2), _line("3", "x", "10002", 40),
        _line("4", "x", "10002", 41), _line("4", "x", "10003", 41),
        _line("4", "x", "10002", 41),  # a second line of the same invoice: still one invoice
        # customer y: one product; the popular products in the last 30 days come from z and guests
        _line("5", "y", "10004", 50),
        _line("6", "z", "20001", 55), _line("7", "z", "20001", 56), _line("8", None, "20001", 57),
        _line("8", None, "20002", 57), _line("9", "z", "20002", 58), _line("10", "z", "20003", 59),
        # dropped by cleaning: cancelled, non-positive quantity or price, a non stock code
        _line("C11", "z", "20003", 59, cancelled=True), _line("12", "z", "20003", 59, q=0),
        _line("13", "z", "20003", 59, price=0.0), _line("14", "z", "POST", 59),
        # after the cut (day 60)
        _line("15", "x", "10003", 61), _line("15", "x", "20001", 61), _line("16", "w", "10001", 62),
    ]
    return pd.DataFrame(rows)


def test_history_and_truth_follow_the_cleaning_and_the_cut(tiny_orders: pd.DataFrame) -> None:
    cut = pd.Timestamp("2011-01-01") + pd.Timedelta(days=60)
    history = purchase_history(tiny_orders, cut)
    assert set(history["order_id"]) == {str(i) for i in range(1, 11)} - {"8"}  # guests' order 8 dropped too
    # w bought after the cut but was unknown before it; x is known
    assert next_month_truth(tiny_orders, cut, days=31) == {"x": {"10003", "20001"}}


def test_baselines_follow_the_issue_definitions(tiny_orders: pd.DataFrame) -> None:
    cut = pd.Timestamp("2011-01-01") + pd.Timedelta(days=60)
    # Registered invoices in the last 30 days (days 30..60): 20001 in 2, 20002 in 1, 20003 in 1, 10002 in 2,
    # 10003 in 1, 10004 in 1 — guests' lines are not history. Ties break by product id.
    assert popularity(tiny_orders, cut, k=3) == ["10002", "20001", "10003"]
    recs = personal_frequency(tiny_orders, cut, ["x", "y", "unknown"], k=4)
    # x: 10001 and 10002 both in two invoices, 10002 bought more recently; then 10003; then the popular fill.
    assert recs["x"] == ["10002", "10001", "10003", "20001"]
    assert recs["y"] == ["10004", "10002", "20001", "10003"]
    assert recs["unknown"] == ["10002", "20001", "10003", "10004"]


def _subset(shop: Shop, customers: int) -> pd.DataFrame:
    """The retail shop's order lines of its first ``customers`` registered customers (a real-data subset)."""
    assert shop.orders is not None
    keep = shop.orders["customer_id"].dropna().drop_duplicates().iloc[:customers]
    return shop.orders[shop.orders["customer_id"].isin(set(keep))].reset_index(drop=True)


def test_no_leakage_lines_after_the_cut_change_nothing(retail_shop: Shop) -> None:
    orders = _subset(retail_shop, 400)
    cut_seconds = VALIDATION_CUT.tz_localize("UTC").timestamp()
    before = orders[orders["timestamp"] < cut_seconds]
    assert len(before) < len(orders)  # the subset does have lines after the cut
    full = NextMonthRanker(train_cuts=1).fit(orders, VALIDATION_CUT)
    truncated = NextMonthRanker(train_cuts=1).fit(before, VALIDATION_CUT)
    customers = sorted(before["customer_id"].dropna().unique())[:50]
    products = orders["product_id"].drop_duplicates().head(40).tolist()
    pairs_c = [c for c in customers for _ in products]
    pairs_p = products * len(customers)
    scores = full.score(pairs_c, pairs_p)
    np.testing.assert_array_equal(scores, truncated.score(pairs_c, pairs_p))
    assert full.recommend(customers) == truncated.recommend(customers)
    assert ((scores >= 0) & (scores <= 1)).all() and scores.std() > 0


def test_ranker_beats_personal_frequency_on_the_validation_month(retail_shop: Shop) -> None:
    orders = retail_shop.orders
    assert orders is not None
    truth = next_month_truth(orders, VALIDATION_CUT)
    customers = sorted(truth)
    baseline = ranking_metrics(personal_frequency(orders, VALIDATION_CUT, customers, 10), truth, 10)
    categories = retail_shop.products.set_index("product_id")["category"]
    ranker = NextMonthRanker(categories=categories).fit(orders, VALIDATION_CUT)
    ours = ranking_metrics(ranker.recommend(customers, 10), truth, 10)
    # The issue measured personal frequency at nDCG@10 0.280, hit@10 0.764 (its cleaning differs slightly).
    assert baseline["ndcg_at_10"] == pytest.approx(0.280, abs=0.01)
    assert baseline["hit_at_10"] == pytest.approx(0.764, abs=0.01)
    assert ours["ndcg_at_10"] >= 1.1 * baseline["ndcg_at_10"]  # measured 0.318 against 0.285
    assert ours["hit_at_10"] >= baseline["hit_at_10"]
