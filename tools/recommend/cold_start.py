"""Cold start: recommend to customers without ratings, and place products nobody has rated yet.

A new customer who named a few liked products gets a blend of three normalised scores: EASE fold-in (their
liked products times the item×item weights, which needs no refit), content similarity to their portrait
(the mean of the three content views of :mod:`tools.recommend.content`) and popularity. A customer who only described
their taste in words gets content + popularity. The blend weights are learned on simulated new customers:
half of the customers (seeded) fit the EASE weights and popularity, each customer of the other half reveals
``n_known`` random rated products, and the weights that best rank their other rated products (nDCG@10) win.
A new product is placed among the catalog's most similar products by content; its score for a customer is
the similarity-weighted mean of those neighbours' scores, so it can be recommended before anyone rates it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

import numpy as np
import scipy.sparse as sp

from tools.recommend.content import CONTENT_KINDS, ItemContent, portrait_scores
from tools.recommend.hybrid import normalise_rows
from tools.recommend.metrics import ndcg_at_k
from tools.recommend.recommenders import EASERecommender, mask_seen_items, top_k

BLEND_STEPS = 10  # blend weights are multiples of 1/10 summing to 1


def _simplex(steps: int) -> list[tuple[float, float, float]]:
    """Return every (a, b, c) with a + b + c = 1 on a grid of ``1/steps``."""
    return [(a / steps, b / steps, (steps - a - b) / steps) for a in range(steps + 1) for b in range(steps + 1 - a)]


@dataclass(frozen=True)
class Placement:
    """Where a new product sits among the catalog's products.

    Attributes:
        neighbours: Catalog indexes of the most similar products, most similar first.
        similarity: Their content similarity to the new product (mean of the three views).
        weights: ``similarity`` scaled to sum to 1 (the new product's score mixes the neighbours' scores so).
    """

    neighbours: np.ndarray
    similarity: np.ndarray
    weights: np.ndarray


class ColdStart:
    """Fold-in, content and popularity scores for new customers, and content placement of new products."""

    def __init__(
        self, content: ItemContent, seed: int = 42, n_known: int = 3, n_neighbours: int = 20, l2: float = 500.0
    ) -> None:
        """Configure cold start.

        Args:
            content: The catalog's content views.
            seed: Seed of the simulated new customers.
            n_known: Liked products each simulated new customer reveals.
            n_neighbours: Catalog neighbours a new product is placed among.
            l2: Ridge penalty of the EASE fold-in model.
        """
        self.content = content
        self.seed, self.n_known, self.n_neighbours, self.l2 = seed, n_known, n_neighbours, l2

    def fit(self, matrix: sp.csr_matrix) -> Self:
        """Learn the blends on simulated new customers, then fit EASE and popularity on all of ``matrix``."""
        matrix = sp.csr_matrix(matrix, dtype=np.float64)
        rng = np.random.default_rng(self.seed)
        half = rng.random(matrix.shape[0]) < 0.5
        simulated = np.flatnonzero(~half & (np.diff(matrix.indptr) >= self.n_known + 5))
        self._fit_models(matrix[np.flatnonzero(half)])
        revealed, truth = self._reveal(matrix[simulated], rng)
        parts = {"taste": self.taste_scores(revealed), "fold_in": self.fold_in(revealed), "popularity": self._popular(
            simulated.size
        )}  # fmt: skip
        self.blend_ndcg_ = {w: self._quality(w, parts, revealed, truth) for w in _simplex(BLEND_STEPS)}
        best = max(self.blend_ndcg_.items(), key=lambda pair: pair[1])[0]
        self.weights_ = dict(zip(parts, best, strict=True))
        top = np.argsort(-(revealed @ self.content.genres).toarray(), axis=1, kind="stable")[:, :2]
        texts: list[str | None] = [", ".join(self.content.genre_names[t]) for t in top]  # e.g. "drama, comedy"
        described = self.taste_scores(sp.csr_matrix(revealed.shape), texts)
        text_parts = {"taste": described, "popularity": parts["popularity"]}
        self.text_blend_ndcg_ = {
            a: self._quality((a, 1.0 - a), text_parts, revealed, truth) for a in np.round(np.arange(11) / 10, 1)
        }
        self.alpha_text_ = float(max(self.text_blend_ndcg_, key=self.text_blend_ndcg_.__getitem__))
        self._fit_models(matrix)
        return self

    def _fit_models(self, matrix: sp.csr_matrix) -> None:
        self.counts_ = np.diff(matrix.tocsc().indptr).astype(np.float64)
        self.ease_ = EASERecommender(self.l2).fit(matrix)

    def _reveal(self, rows: sp.csr_matrix, rng: np.random.Generator) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """Split every row into ``n_known`` random revealed products and the rest (the truth)."""
        row_of = np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr))
        order = np.lexsort((rng.random(rows.nnz), row_of))
        rank = np.empty(rows.nnz, dtype=np.int64)
        rank[order] = np.arange(rows.nnz) - rows.indptr[row_of[order]]
        shown = (rank < self.n_known).astype(np.float64)
        revealed = sp.csr_matrix((shown, rows.indices.copy(), rows.indptr.copy()), rows.shape)
        truth = sp.csr_matrix((1.0 - shown, rows.indices.copy(), rows.indptr.copy()), rows.shape)
        revealed.eliminate_zeros()
        truth.eliminate_zeros()
        return revealed, truth

    @staticmethod
    def _quality(
        weights: tuple[float, ...], parts: dict[str, np.ndarray], revealed: sp.csr_matrix, truth: sp.csr_matrix
    ) -> float:
        mixed = sum(w * part for w, part in zip(weights, parts.values(), strict=True))
        return ndcg_at_k(top_k(mask_seen_items(np.asarray(mixed, dtype=np.float64), revealed), 10), truth)

    def _popular(self, n_rows: int) -> np.ndarray:
        return normalise_rows(np.tile(self.counts_, (n_rows, 1)))[0]

    def fold_in(self, history: sp.csr_matrix) -> np.ndarray:
        """Return the normalised EASE scores of customers given only their liked products (no refit)."""
        return normalise_rows(np.asarray(sp.csr_matrix(history, dtype=np.float64) @ self.ease_.weights_))[0]

    def fold_in_weights(self, liked: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Return the EASE weight of every liked product (rows) towards every item (columns)."""
        return self.ease_.weights_[np.ix_(np.asarray(liked), np.asarray(items))]

    def taste_scores(self, history: sp.csr_matrix, tastes: list[str | None] | None = None) -> np.ndarray:
        """Return the mean over the content views of each customer's normalised portrait similarity.

        Args:
            history: Customers × products matrix of the products each customer liked (may be empty rows).
            tastes: Optional free-text taste per customer (None: none).

        Returns:
            Dense customers × products scores in [0, 1].
        """
        tastes = tastes or [None] * history.shape[0]
        texts = sorted({t for t in tastes if t})
        described = self.content.describe_tastes(texts) if texts else None
        where = {t: i for i, t in enumerate(texts)}
        total = np.zeros(history.shape)
        for kind in CONTENT_KINDS:
            extra = None
            if described is not None:
                vectors = sp.csr_matrix(described[kind])
                pick = sp.csr_matrix(
                    ([1.0] * sum(bool(t) for t in tastes),
                     ([n for n, t in enumerate(tastes) if t], [where[t] for t in tastes if t])),
                    shape=(len(tastes), len(texts)),
                )  # fmt: skip
                extra = pick @ vectors
            normalised, _ = normalise_rows(portrait_scores(self.content, kind, history, extra))
            total += normalised / len(CONTENT_KINDS)
        return total

    def score(self, history: sp.csr_matrix, tastes: list[str | None] | None = None) -> np.ndarray:
        """Return new customers' blended scores (customers × products, unmasked).

        Customers with liked products get the learned fold-in/content/popularity blend, the others the
        learned content/popularity blend of their stated taste (popularity alone without one).
        """
        history = sp.csr_matrix(history, dtype=np.float64)
        taste, popular = self.taste_scores(history, tastes), self._popular(history.shape[0])
        w = self.weights_
        with_items = w["taste"] * taste + w["fold_in"] * self.fold_in(history) + w["popularity"] * popular
        text_only = self.alpha_text_ * taste + (1 - self.alpha_text_) * popular
        return np.where((np.diff(history.indptr) > 0)[:, None], with_items, text_only)

    def taste_genres(self, history: sp.csr_matrix, tastes: list[str | None] | None = None) -> np.ndarray:
        """Return the genre weights of the customers' portraits summed over customers (for reasons)."""
        weights = (sp.csr_matrix(history, dtype=np.float64) @ self.content.genres).toarray().sum(axis=0)
        texts = [t for t in tastes or [] if t]
        if texts:
            weights = weights + sp.csr_matrix(self.content.describe_tastes(texts)["genres"]).toarray().sum(axis=0)
        return np.asarray(weights, dtype=np.float64).ravel()

    def place(self, title: str, year: int | None, genres: list[str]) -> Placement:
        """Find where a new product sits among the catalog's products by content.

        Raises:
            ValueError: No catalog product shares anything with it (nothing to place it by).
        """
        described = self.content.describe(title, year, genres)
        similarity = np.mean([self.content.similarity_to(k, described[k]).ravel() for k in CONTENT_KINDS], axis=0)
        order = np.argsort(-similarity, kind="stable")[: self.n_neighbours]
        order = order[similarity[order] > 0]
        if order.size == 0:
            raise ValueError(f"cannot place {title!r}: no catalog product is similar to it")
        sims = similarity[order]
        return Placement(order, sims, sims / sims.sum())
