"""Ranking metrics and protocol splits, checked on hand-computed cases and against the reference algorithms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from tools.recommend.metrics import (
    catalog_coverage,
    ndcg_at_k,
    recbole_metrics,
    recbole_split_labels,
    recommenders_metrics,
    stratified_split_mask,
)

# Users 0-3 over 8 items. User 0 has 4 test items, user 1 one, user 2 one but no train row (Recommenders
# drops it, RecBole keeps it), user 3 no test item (both drop it).
TOP = np.array([[0, 1, 2], [3, 4, -1], [1, 0, 2], [5, 6, 7]])
TRUTH = sp.csr_matrix(np.array([
    [1, 0, 1, 0, 0, 1, 1, 0],
    [0, 0, 0, 0, 1, 0, 0, 0],
    [0, 1, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 0],
], dtype=float))  # fmt: skip
TRAIN = sp.csr_matrix(np.array([
    [0, 0, 0, 1, 0, 0, 0, 0],
    [1, 0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 0],
    [1, 0, 0, 0, 0, 0, 0, 0],
], dtype=float))  # fmt: skip
LOG2 = np.log2


def test_recommenders_metrics_by_hand() -> None:
    got = recommenders_metrics(TOP, TRUTH, TRAIN)
    # user 0: hits at ranks 1 and 3 of 3, 4 relevant; user 1: hit at rank 2 of 3 (one slot empty), 1 relevant.
    ndcg0 = (1 + 1 / LOG2(4)) / (1 + 1 / LOG2(3) + 1 / LOG2(4))  # ideal DCG over min(4, k=3) positions
    ndcg1 = (1 / LOG2(3)) / 1.0
    ap_sum0, ap_sum1 = 1 / 1 + 2 / 3, 1 / 2  # Σ over hits of (hits so far / rank)
    assert got["users"] == 2
    assert got["precision"] == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert got["recall"] == pytest.approx((2 / 4 + 1 / 1) / 2)
    assert got["ndcg"] == pytest.approx((ndcg0 + ndcg1) / 2)
    assert got["map"] == pytest.approx((ap_sum0 / 4 + ap_sum1 / 1) / 2)  # divided by |test items|
    assert got["map_at_k"] == pytest.approx((ap_sum0 / 3 + ap_sum1 / 1) / 2)  # divided by min(|test items|, k)


def test_recbole_metrics_by_hand() -> None:
    got = recbole_metrics(TOP, TRUTH)
    ndcg0 = (1 + 1 / LOG2(4)) / (1 + 1 / LOG2(3) + 1 / LOG2(4))
    assert got["users"] == 3  # user 2 counts even without train data; user 3 has no test item
    assert got["recall"] == pytest.approx((2 / 4 + 1 + 1) / 3)
    assert got["ndcg"] == pytest.approx((ndcg0 + 1 / LOG2(3) + 1) / 3)
    assert got["hit"] == pytest.approx(1.0)
    assert got["precision"] == pytest.approx((2 / 3 + 1 / 3 + 1 / 3) / 3)
    assert ndcg_at_k(TOP, TRUTH) == pytest.approx(got["ndcg"])


def test_perfect_and_empty_rankings() -> None:
    truth = sp.csr_matrix(np.eye(3))
    perfect = recbole_metrics(np.array([[0, 1], [1, 2], [2, 0]]), truth)
    assert perfect["ndcg"] == perfect["recall"] == perfect["hit"] == 1.0 and perfect["precision"] == 0.5
    assert recbole_metrics(np.full((3, 2), -1), truth)["ndcg"] == 0.0


def test_catalog_coverage() -> None:
    assert catalog_coverage(TOP, 8) == pytest.approx(8 / 8)
    assert catalog_coverage(np.array([[1, 2], [2, -1]]), 10) == pytest.approx(2 / 10)


def test_stratified_split_cuts_each_group_by_rank_over_count() -> None:
    groups = np.array(["a"] * 4 + ["b"] * 2 + ["c"] + ["d"] * 3)
    train = stratified_split_mask(groups, 0.75, seed=42)
    per_group = pd.Series(train).groupby(groups).sum().to_dict()
    # ranks/count <= 0.75: a 1/4..3/4 → 3, b 1/2 → 1, c 1/1 → 0, d 1/3, 2/3 → 2.
    assert per_group == {"a": 3, "b": 1, "c": 0, "d": 2}
    assert (stratified_split_mask(groups, 0.75, seed=42) == train).all()


def _reference_stratified_split(items: np.ndarray, ratio: float, seed: int) -> np.ndarray:
    """Recommenders' ``_do_stratification`` (random, one ratio, filter_by="item") step by step in pandas."""
    data = pd.DataFrame({"item": items})
    np.random.seed(seed)
    data["random"] = np.random.rand(data.shape[0])
    data = data.sort_values(["item", "random"])
    groups = data.groupby("item")
    data["count"] = groups["item"].transform("count")
    data["rank"] = (groups.cumcount() + 1) / data["count"]
    mask = np.zeros(len(items), dtype=bool)
    mask[data.index[data["rank"] <= ratio]] = True
    return mask


def test_stratified_split_matches_the_reference_on_movielens(shop) -> None:
    items = shop.interactions["product_id"].astype(int).to_numpy()  # the library's itemID is an int
    ours = stratified_split_mask(shop.interactions["product_id"].to_numpy(), 0.75, seed=42)
    assert (ours == _reference_stratified_split(items, 0.75, 42)).all()
    assert 0.7 < ours.mean() < 0.75  # items with 1-3 ratings keep fewer than 75 % in train


def test_recbole_split_sizes_follow_calcu_split_ids() -> None:
    sizes = {"u20": 20, "u10": 10, "u3": 3, "u2": 2, "u1": 1}
    users = np.repeat(list(sizes), list(sizes.values()))
    labels = recbole_split_labels(users, (0.8, 0.1, 0.1), seed=1)
    counts = pd.crosstab(users, labels).reindex(columns=[0, 1, 2], fill_value=0)
    # int(0.1·n) for valid/test, train the rest; a part with 0 < 0.1·n < 1 gets one row while train keeps > 1.
    assert counts.loc["u20"].tolist() == [16, 2, 2]
    assert counts.loc["u10"].tolist() == [8, 1, 1]
    assert counts.loc["u3"].tolist() == [1, 1, 1]
    assert counts.loc["u2"].tolist() == [1, 0, 1]
    assert counts.loc["u1"].tolist() == [1, 0, 0]
    other = recbole_split_labels(users, (0.8, 0.1, 0.1), seed=2)
    assert not (other == labels).all()  # the order within a user is random ("RO")
