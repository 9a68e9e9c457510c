"""Collaborative recommenders on an implicit customer×product matrix (1 where a customer rated a product).

Every model has ``fit(matrix)`` and ``score_users(user_idx, mask_seen)`` (:class:`Recommender`); the
item-to-item ones (:class:`ItemKNNRecommender`, :class:`EASERecommender`) can also say how much each rated
item contributed to a score (:class:`NeighbourExplainer`), which the recommend tool turns into reasons.
Scoring is dense matrix algebra over all requested users at once; nothing loops over users or items.
The matrix-factorisation models (ALS, BPR from ``implicit``) are in :mod:`tools.recommend.factor_models`.
"""

from __future__ import annotations

from typing import Protocol, Self, runtime_checkable

import numpy as np
import scipy.sparse as sp


@runtime_checkable
class Recommender(Protocol):
    """What the recommend tool needs from a model: fit on an implicit matrix, score customers' rows."""

    name: str

    def fit(self, matrix: sp.csr_matrix) -> Self:
        """Fit on a customer×product implicit matrix and return ``self``."""

    def score_users(self, user_idx: np.ndarray, mask_seen: bool = True) -> np.ndarray:
        """Return dense scores (len(user_idx) × n_items); seen items are ``-inf`` if ``mask_seen``."""


@runtime_checkable
class NeighbourExplainer(Protocol):
    """A model whose score is a sum over the customer's items of item→target weights (explainable)."""

    def item_contributions(
        self, user_idx: np.ndarray, row_weights: np.ndarray, evidence: sp.csr_matrix, items: np.ndarray
    ) -> np.ndarray:
        """Return (n_items × len(items)): Σ_u row_weights[u]·evidence[u, j]·(part of u's score of t due to j)."""


def mask_seen_items(scores: np.ndarray, seen: sp.csr_matrix) -> np.ndarray:
    """Set the scores of seen (nonzero) entries to ``-inf`` in place and return them."""
    rows, cols = seen.nonzero()
    scores[rows, cols] = -np.inf
    return scores


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Return, per row, the column indexes of the ``k`` highest scores, best first."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def pruned_cosine(x: sp.csr_matrix, n_neighbours: int, shrinkage: float) -> sp.csc_matrix:
    """Cosine similarity between the columns of ``x``, keeping each target column's best neighbours.

    ``sim(i, j) = |i ∩ j| / (‖i‖·‖j‖ + shrinkage)``; column ``t`` of the result holds the ``n_neighbours``
    columns most similar to ``t`` (never ``t`` itself).
    """
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
    co = (x.T @ x).tocoo()
    off = co.row != co.col
    row, col = co.row[off], co.col[off]
    sim = co.data[off] / (norms[row] * norms[col] + shrinkage)
    order = np.lexsort((-sim, col))  # by target column, most similar first
    rank = np.arange(order.size) - np.searchsorted(col[order], col[order], side="left")
    keep = order[rank < n_neighbours]
    return sp.csc_matrix((sim[keep], (row[keep], col[keep])), shape=(x.shape[1], x.shape[1]))


class _ItemItem:
    """Shared scoring of models whose scores are ``matrix @ weights`` (item×item)."""

    matrix_: sp.csr_matrix
    weights_: sp.spmatrix | np.ndarray

    def score_users(self, user_idx: np.ndarray, mask_seen: bool = True) -> np.ndarray:
        """Return dense item scores for the given matrix rows."""
        seen = self.matrix_[np.asarray(user_idx)]
        product = seen @ self.weights_
        scores = product.toarray() if sp.issparse(product) else np.asarray(product)
        return mask_seen_items(scores, seen) if mask_seen else scores

    def neighbour_weights(self, item_idx: np.ndarray) -> np.ndarray:
        """Return the dense (n_items × len(item_idx)) weights of every item towards each target item."""
        block = self.weights_[:, np.asarray(item_idx)]
        return sp.csr_matrix(block).toarray() if sp.issparse(block) else np.asarray(block)

    def item_contributions(
        self, user_idx: np.ndarray, row_weights: np.ndarray, evidence: sp.csr_matrix, items: np.ndarray
    ) -> np.ndarray:
        """Return Σ_u row_weights[u]·evidence[u, j]·weights[j, t] for every item j and target t."""
        return self.neighbour_weights(items) * (row_weights @ evidence)[:, None]


class ItemKNNRecommender(_ItemItem):
    """Item-based k-nearest-neighbours on cosine similarity of the items' customer vectors.

    ``sim(i, j) = |U_i ∩ U_j| / (‖i‖·‖j‖ + shrinkage)``; for each target item only the ``n_neighbours`` most
    similar items are kept. A customer's score for item ``i`` is the sum of ``sim(j, i)`` over the items ``j``
    they interacted with.
    """

    name = "item_knn"

    def __init__(self, n_neighbours: int = 100, shrinkage: float = 10.0) -> None:
        """Configure the model.

        Args:
            n_neighbours: Neighbours kept per target item.
            shrinkage: Added to the cosine denominator; damps similarities built on few co-raters.
        """
        self.n_neighbours = n_neighbours
        self.shrinkage = shrinkage

    def fit(self, matrix: sp.csr_matrix) -> Self:
        """Compute the pruned item-item similarity matrix from a customer×item matrix."""
        self.matrix_ = sp.csr_matrix(matrix, dtype=np.float64)
        self.similarity_ = pruned_cosine(self.matrix_, self.n_neighbours, self.shrinkage)
        self.weights_ = self.similarity_
        return self


class UserKNNRecommender:
    """User-based k-nearest-neighbours on the same shrunk cosine as item-kNN.

    A customer's score for an item sums the similarities of their ``n_neighbours`` most similar customers who
    interacted with it.
    """

    name = "user_knn"

    def __init__(self, n_neighbours: int = 100, shrinkage: float = 10.0) -> None:
        """Configure the model.

        Args:
            n_neighbours: Neighbours kept per customer.
            shrinkage: Added to the cosine denominator.
        """
        self.n_neighbours = n_neighbours
        self.shrinkage = shrinkage

    def fit(self, matrix: sp.csr_matrix) -> Self:
        """Compute each customer's pruned neighbourhood."""
        self.matrix_ = sp.csr_matrix(matrix, dtype=np.float64)
        self.similarity_ = pruned_cosine(sp.csr_matrix(self.matrix_.T), self.n_neighbours, self.shrinkage)
        return self

    def score_users(self, user_idx: np.ndarray, mask_seen: bool = True) -> np.ndarray:
        """Return dense item scores for the given matrix rows."""
        user_idx = np.asarray(user_idx)
        scores = (sp.csr_matrix(self.similarity_[:, user_idx].T) @ self.matrix_).toarray()
        return mask_seen_items(scores, self.matrix_[user_idx]) if mask_seen else scores


class EASERecommender(_ItemItem):
    """EASE (Steck, WWW 2019): a closed-form item×item linear model with a zero diagonal.

    ``P = (XᵀX + λI)⁻¹``, ``B = I − P·diag(1/diag P)`` with ``diag B = 0``. Hand-written (a few lines of
    numpy) because no maintained package ships EASE for this stack (numpy/scipy, CPU); it needs a dense
    n_items² inverse, so it suits catalogs up to some ten thousand products.
    """

    name = "ease"
    max_items = 20_000

    def __init__(self, l2: float = 500.0) -> None:
        """Configure the model.

        Args:
            l2: The ridge penalty λ (500 was best on a validation split carved from MovieLens-100k train data).
        """
        self.l2 = l2

    def fit(self, matrix: sp.csr_matrix) -> Self:
        """Solve for the item×item weights."""
        self.matrix_ = sp.csr_matrix(matrix, dtype=np.float64)
        n_items = self.matrix_.shape[1]
        if n_items > self.max_items:
            raise ValueError(f"EASE needs a dense {n_items}² inverse; use it for at most {self.max_items} items")
        gram = (self.matrix_.T @ self.matrix_).toarray()
        gram[np.diag_indices(n_items)] += self.l2
        inverse = np.linalg.inv(gram)
        weights = inverse / -np.diag(inverse)
        weights[np.diag_indices(n_items)] = 0.0
        self.weights_ = weights
        return self


class PopularityRecommender:
    """Baseline: every customer gets the items rated by the most customers."""

    name = "popularity"

    def fit(self, matrix: sp.csr_matrix) -> Self:
        """Count, per item, the customers who interacted with it."""
        self.matrix_ = sp.csr_matrix(matrix)
        self.counts_ = np.asarray((self.matrix_ > 0).sum(axis=0), dtype=np.float64).ravel()
        return self

    def score_users(self, user_idx: np.ndarray, mask_seen: bool = True) -> np.ndarray:
        """Return the item counts for each requested row."""
        scores = np.tile(self.counts_, (len(user_idx), 1))
        return mask_seen_items(scores, self.matrix_[np.asarray(user_idx)]) if mask_seen else scores
