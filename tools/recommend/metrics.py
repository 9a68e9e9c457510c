"""Offline evaluation of recommenders: the two published protocols' splits and their ranking metrics.

Two protocols are reproduced so our numbers sit next to published tables on MovieLens-100k:

* **Microsoft Recommenders** (``examples/06_benchmarks/movielens.ipynb``): ``python_stratified_split(df,
  ratio=0.75, min_rating=1, filter_by="item", seed=42)`` — every item's ratings are shuffled with
  ``np.random.seed(42); np.random.rand(n)`` and the first 75 % (``rank / count <= 0.75``) go to train; items
  seen in train are removed from the recommendations (``remove_seen=True``) and only items present in train are
  ranked. Metrics come from ``recommenders.evaluation.python_evaluation`` with ``relevancy_method="top_k"``,
  k=10, over the users present in both the test set and the predictions: precision = hits/k, recall =
  hits/|test|, binary nDCG with ideal DCG over min(|test|, k) positions, and two MAP variants (see
  :func:`recommenders_metrics`).
* **RecBole** (``eval_args: split RS [0.8, 0.1, 0.1], order RO, group_by user, mode full``): interactions are
  shuffled, then each user's are cut 80/10/10 (``_calcu_split_ids``: the last two parts get ``int(0.1·n)``,
  train the rest); models train on train, the test ranking covers every item except the user's train and
  valid items (RecBole's ``FullSortEvalDataLoader`` history). Metrics ``recall@10, ndcg@10, hit@10,
  precision@10`` from ``recbole.evaluator.metrics``, averaged over users with a test item.

All metrics take a ``top`` matrix (users × k item indexes, best first, ``-1`` for an empty slot) and the
truth as a sparse users × items matrix, and are computed without Python loops over users.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tools.recommend.recommenders import top_k

RECOMMENDERS_RATIO = 0.75
RECBOLE_RATIOS = (0.8, 0.1, 0.1)


class Split(NamedTuple):
    """Interaction matrices of one split, all users × items on the same indexes."""

    train: sp.csr_matrix
    test: sp.csr_matrix
    valid: sp.csr_matrix | None = None


def _group_rank(codes: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return each row's 1-based position within its group when rows are visited in ``order``, and group sizes."""
    sorted_codes = codes[order]
    start = np.searchsorted(sorted_codes, sorted_codes, side="left")
    position = np.empty(codes.size, dtype=np.int64)
    position[order] = np.arange(codes.size) - start + 1
    counts = np.bincount(codes)[codes]
    return position, counts


def stratified_split_mask(groups: np.ndarray, ratio: float = RECOMMENDERS_RATIO, seed: int = 42) -> np.ndarray:
    """Reproduce Recommenders' ``python_stratified_split`` (random, one ratio): the boolean train mask.

    Args:
        groups: Group key of every interaction row in the data's original order (the item for
            ``filter_by="item"``, the user for ``filter_by="user"``).
        ratio: Share of every group's rows that go to train.
        seed: Seed of the legacy ``np.random.seed``/``rand`` draw the library uses.

    Returns:
        ``True`` for rows in train; the rest are test.
    """
    if not 0 < ratio < 1:
        raise ValueError(f"ratio must be in (0, 1), got {ratio}")
    codes = pd.factorize(np.asarray(groups), sort=True)[0]
    draw = np.random.RandomState(seed).rand(codes.size)
    position, counts = _group_rank(codes, np.lexsort((draw, codes)))
    return position / counts <= ratio


def recbole_split_labels(users: np.ndarray, ratios: tuple[float, ...] = RECBOLE_RATIOS, seed: int = 42) -> np.ndarray:
    """Reproduce RecBole's random-order, per-user ratio split ("RS", "RO", ``group_by: user``).

    RecBole shuffles with torch's generator, so the rows drawn differ from a RecBole run; the cut sizes follow
    ``Dataset._calcu_split_ids`` exactly (every part after the first gets ``int(ratio·n)`` rows, bumped to one
    row when that would be 0 and the first part keeps more than one).

    Args:
        users: User key of every interaction row.
        ratios: Part ratios (normalised to sum 1), train first.
        seed: Seed of the shuffle.

    Returns:
        The part (0 = train, 1 = valid, 2 = test for three ratios) of every row.
    """
    total = float(sum(ratios))
    shares = [r / total for r in ratios]
    codes = pd.factorize(np.asarray(users))[0]
    shuffled = np.random.default_rng(seed).permutation(codes.size)
    position, counts = _group_rank(codes, shuffled[np.argsort(codes[shuffled], kind="stable")])
    sizes = np.zeros((counts.size, len(shares)), dtype=np.int64)
    for part in range(1, len(shares)):
        sizes[:, part] = (shares[part] * counts).astype(np.int64)
    sizes[:, 0] = counts - sizes[:, 1:].sum(axis=1)
    for part in range(len(shares) - 1, 0, -1):
        raw = shares[part] * counts
        bump = (sizes[:, 0] > 1) & (raw > 0) & (raw < 1)
        sizes[bump, part] += 1
        sizes[bump, 0] -= 1
    ends = np.cumsum(sizes, axis=1)
    return (position[:, None] > ends[:, :-1]).sum(axis=1)


def to_matrix(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """Return a binary CSR matrix with ones at ``(rows, cols)`` (duplicates count once)."""
    matrix = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=shape)
    matrix.data[:] = 1.0
    return matrix


def _hits(top: np.ndarray, truth: sp.csr_matrix) -> np.ndarray:
    """Return the users × k boolean matrix: is the item at each rank relevant (``-1`` slots never are)?"""
    rows = np.repeat(np.arange(top.shape[0]), top.shape[1])
    cols = top.ravel()
    valid = cols >= 0
    found = np.zeros(cols.size, dtype=bool)
    if valid.any():
        found[valid] = np.asarray(truth[rows[valid], cols[valid]]).ravel() > 0
    return found.reshape(top.shape)


def _discounted(hits: np.ndarray, n_relevant: np.ndarray) -> np.ndarray:
    """Return binary nDCG per user: DCG of the hits over the ideal DCG of min(|relevant|, k) hits."""
    k = hits.shape[1]
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.concatenate([[0.0], np.cumsum(discount)])[np.minimum(n_relevant, k)]
    return np.divide(hits @ discount, ideal, out=np.zeros(hits.shape[0]), where=ideal > 0)


def recommenders_metrics(top: np.ndarray, truth: sp.csr_matrix, train: sp.csr_matrix) -> dict[str, float]:
    """Ranking metrics with the semantics of Recommenders' ``python_evaluation`` (``relevancy_method="top_k"``).

    Users counted: those with a test item and a prediction (a train interaction), as its
    ``merge_ranking_true_pred`` keeps the users common to truth and predictions.

    * ``map``: the ``map`` function of Recommenders ≥ 1.2, which is what ``map_at_k`` computed when the
      benchmark table was published: Σ over hits of (hits so far / rank), divided by the number of test items.
    * ``map_at_k``: the ``map_at_k`` of Recommenders ≥ 1.2: the same sum divided by min(|test|, k).

    Args:
        top: Users × k recommended item indexes, best first (``-1`` = nothing recommended there).
        truth: Users × items test matrix (nonzero = relevant).
        train: Users × items train matrix (to know which users have predictions).

    Returns:
        ``ndcg``, ``precision``, ``recall``, ``map``, ``map_at_k`` and ``users`` (how many were averaged).
    """
    k = top.shape[1]
    n_relevant = np.diff(truth.indptr)
    users = (n_relevant > 0) & (np.diff(train.indptr) > 0)
    hits = _hits(top[users], truth[users])
    relevant = n_relevant[users]
    n_hits = hits.sum(axis=1)
    ranks = np.arange(1, k + 1)
    precision_sum = (np.cumsum(hits, axis=1) / ranks * hits).sum(axis=1)
    return {
        "ndcg": float(_discounted(hits, relevant).mean()),
        "precision": float((n_hits / k).mean()),
        "recall": float((n_hits / relevant).mean()),
        "map": float((precision_sum / relevant).mean()),
        "map_at_k": float((precision_sum / np.minimum(relevant, k)).mean()),
        "users": int(users.sum()),
    }


def recbole_metrics(top: np.ndarray, truth: sp.csr_matrix) -> dict[str, float]:
    """RecBole's ``recall@k``, ``ndcg@k``, ``hit@k`` and ``precision@k``, averaged over users with a test item.

    Args:
        top: Users × k recommended item indexes, best first.
        truth: Users × items test matrix.

    Returns:
        ``recall``, ``ndcg``, ``hit``, ``precision`` and ``users``.
    """
    n_relevant = np.diff(truth.indptr)
    users = n_relevant > 0
    hits = _hits(top[users], truth[users])
    relevant = n_relevant[users]
    n_hits = hits.sum(axis=1)
    return {
        "recall": float((n_hits / relevant).mean()),
        "ndcg": float(_discounted(hits, relevant).mean()),
        "hit": float((n_hits > 0).mean()),
        "precision": float((n_hits / top.shape[1]).mean()),
        "users": int(users.sum()),
    }


def catalog_coverage(top: np.ndarray, n_items: int) -> float:
    """Share of the ``n_items`` catalog items recommended to at least one user."""
    shown = np.unique(top[top >= 0])
    return float(shown.size / n_items)


def ndcg_at_k(top: np.ndarray, truth: sp.csr_matrix) -> float:
    """Binary nDCG@k averaged over the users having a test item (model selection on a validation split)."""
    n_relevant = np.diff(truth.indptr)
    users = n_relevant > 0
    return float(_discounted(_hits(top[users], truth[users]), n_relevant[users]).mean())


def precision_at_k(scores: np.ndarray, truth: sp.csr_matrix, k: int) -> float:
    """Mean precision@k of dense ``scores`` over the rows having a relevant (nonzero) item in ``truth``."""
    relevant = truth.toarray() > 0
    has_any = relevant.any(axis=1)
    hits = np.take_along_axis(relevant, top_k(scores, k), axis=1).sum(axis=1)
    return float((hits[has_any] / k).mean())
