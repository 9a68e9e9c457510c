"""Recommendation scoring: item-kNN and popularity recommenders, and the ``recommend`` tool.

The shop's ratings become an implicit customer×product matrix (1 wherever a customer rated a product).
A recommender is anything with ``fit(matrix)`` and ``score_users(user_idx)`` (:class:`Recommender`), so
matrix-factorisation or user-kNN models slot in next to :class:`ItemKNNRecommender` and the
:class:`PopularityRecommender` baseline. :class:`RecommendTool` turns per-customer scores into a ranked,
explained list of catalog products for one customer or a whole segment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, Self, runtime_checkable

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import BaseModel, Field

from agent.settings import Settings

if TYPE_CHECKING:
    from tools.shop import Shop

LIKED_RATING = 4.0
"""A rating at or above this many stars counts as "liked" (reasons here, the click proxy in effect.py)."""


@dataclass(frozen=True)
class InteractionMatrix:
    """The shop's ratings as sparse customer×product matrices aligned on two id indexes.

    Attributes:
        customer_ids: Row labels: every customer of the shop (and any id found only in the interactions).
        product_ids: Column labels: the catalog; interactions with products outside it are dropped.
        implicit: Binary CSR matrix, 1.0 where the customer rated the product.
        ratings: CSR matrix of the stars (the latest rating if a pair was rated twice).
    """

    customer_ids: pd.Index
    product_ids: pd.Index
    implicit: sp.csr_matrix
    ratings: sp.csr_matrix

    @classmethod
    def from_shop(cls, shop: Shop) -> InteractionMatrix:
        """Build the matrices from ``shop.interactions`` restricted to ``shop.products``."""
        inter = shop.interactions
        customers = pd.Index(pd.unique(pd.concat([shop.customers["customer_id"], inter["customer_id"]])))
        products = pd.Index(shop.products["product_id"])
        frame = inter.assign(
            row=customers.get_indexer(inter["customer_id"]), col=products.get_indexer(inter["product_id"])
        )
        frame = frame[frame["col"] >= 0].sort_values("timestamp", kind="stable")
        frame = frame.drop_duplicates(["row", "col"], keep="last")
        shape, coords = (len(customers), len(products)), (frame["row"].to_numpy(), frame["col"].to_numpy())
        ratings = sp.csr_matrix((frame["rating"].to_numpy(dtype=np.float64), coords), shape=shape)
        return cls(customers, products, sp.csr_matrix((np.ones(len(frame)), coords), shape=shape), ratings)

    def rows(self, customer_ids: list[str]) -> np.ndarray:
        """Return the row of each customer id, -1 for ids the shop does not know."""
        return self.customer_ids.get_indexer(pd.Index(customer_ids))


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

    def neighbour_weights(self, item_idx: np.ndarray) -> np.ndarray:
        """Return the dense (n_items × len(item_idx)) weights of every item towards each target item."""


def _mask(scores: np.ndarray, seen: sp.csr_matrix) -> np.ndarray:
    """Set the scores of seen (nonzero) entries to ``-inf`` in place and return them."""
    rows, cols = seen.nonzero()
    scores[rows, cols] = -np.inf
    return scores


class ItemKNNRecommender:
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
        x = sp.csr_matrix(matrix, dtype=np.float64)
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
        co = (x.T @ x).tocoo()
        off = co.row != co.col
        row, col = co.row[off], co.col[off]
        sim = co.data[off] / (norms[row] * norms[col] + self.shrinkage)
        order = np.lexsort((-sim, col))  # by target item, most similar first
        rank = np.arange(order.size) - np.searchsorted(col[order], col[order], side="left")
        keep = order[rank < self.n_neighbours]
        shape = (x.shape[1], x.shape[1])
        self.similarity_ = sp.csc_matrix((sim[keep], (row[keep], col[keep])), shape=shape)
        self.matrix_ = x
        return self

    def score_users(self, user_idx: np.ndarray, mask_seen: bool = True) -> np.ndarray:
        """Return dense item scores for the given matrix rows."""
        seen = self.matrix_[np.asarray(user_idx)]
        scores = np.asarray((seen @ self.similarity_).todense())
        return _mask(scores, seen) if mask_seen else scores

    def neighbour_weights(self, item_idx: np.ndarray) -> np.ndarray:
        """Return the kept similarities of every item towards each target item (columns)."""
        return self.similarity_[:, np.asarray(item_idx)].toarray()


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
        return _mask(scores, self.matrix_[np.asarray(user_idx)]) if mask_seen else scores


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Return, per row, the column indexes of the ``k`` highest scores, best first."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def precision_at_k(scores: np.ndarray, truth: sp.csr_matrix, k: int) -> float:
    """Mean precision@k of dense ``scores`` over the rows having a relevant (nonzero) item in ``truth``."""
    relevant = truth.toarray() > 0
    has_any = relevant.any(axis=1)
    hits = np.take_along_axis(relevant, top_k(scores, k), axis=1).sum(axis=1)
    return float((hits[has_any] / k).mean())


class RecommendRequest(BaseModel):
    """Ask for the best products for one customer or a group (segment) of customers."""

    customer_ids: list[str] = Field(min_length=1, description="The customer, or the customers of a segment.")
    k: int = Field(10, ge=1, le=100, description="How many products to return.")
    exclude_seen: bool = Field(True, description="Drop products the customer(s) already rated (see tool).")
    exclude_product_ids: list[str] = Field(default_factory=list, description="Products never to return.")
    genres: list[str] = Field(default_factory=list, description="Only products having one of these genres.")


class ScoredProduct(BaseModel):
    """One recommended catalog product."""

    product_id: str
    title: str
    year: int | None
    genres: list[str]
    score: float = Field(description="Mean over the customers of their min-max normalised score, in [0, 1].")
    reason: str = Field(description="Why, computed from the ratings.")


class RecommendResult(BaseModel):
    """Ranked products for the request."""

    products: list[ScoredProduct]
    method: str
    n_customers: int = Field(description="Distinct customers whose scores were averaged.")
    unknown_customer_ids: list[str] = Field(description="Ids the shop does not know (scored by popularity).")


def _normalise(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Min-max normalise each row over its finite entries (``-inf`` → 0); return it and the row ranges."""
    finite = np.isfinite(scores)
    low = np.where(finite, scores, np.inf).min(axis=1, keepdims=True)
    high = np.where(finite, scores, -np.inf).max(axis=1, keepdims=True)
    span = np.where(high > low, high - low, 0.0)
    return np.where(finite & (span > 0), (scores - low) / np.maximum(span, 1e-300), 0.0), span.ravel()


def _year(value: object) -> int | None:
    """Return a nullable catalog year as ``int | None``."""
    return None if pd.isna(value) else int(value)  # type: ignore[call-overload]


class RecommendTool:
    """Recommend catalog products to a customer or a segment, with reasons from the data.

    Group semantics: every customer's scores are min-max normalised to [0, 1] (with ``exclude_seen`` the
    items that customer rated score 0 for them) and averaged. With ``exclude_seen``, items rated by more than
    half of the group's customers are dropped entirely (for one customer: everything they rated). Unknown
    customers (cold start) and customers with no usable history get the popularity ranking.
    """

    def __init__(self, shop: Shop, model: Recommender, matrix: InteractionMatrix | None = None) -> None:
        """Wrap a model fitted on ``InteractionMatrix.from_shop(shop).implicit`` (``matrix``: reuse it)."""
        self.matrix = matrix if matrix is not None else InteractionMatrix.from_shop(shop)
        self.model = model
        self.popularity = PopularityRecommender().fit(self.matrix.implicit)
        self.catalog = shop.products.set_index("product_id").reindex(self.matrix.product_ids)
        genres = self.catalog["genres"].reset_index(drop=True).explode().dropna().str.lower()
        self.genres = pd.Index(sorted(genres.unique()))
        member = (genres.index.to_numpy(), self.genres.get_indexer(genres))
        self.item_genres = sp.csc_matrix(
            (np.ones(len(genres)), member), shape=(len(self.catalog), len(self.genres))
        )

    @classmethod
    def fit(cls, shop: Shop, settings: Settings, model: Recommender | None = None) -> RecommendTool:
        """Fit ``model`` (default :class:`ItemKNNRecommender`) on the shop's ratings.

        ``settings`` is unused by the deterministic models here; stochastic ones will take ``settings.seed``.
        """
        del settings  # item-kNN and popularity are deterministic
        matrix = InteractionMatrix.from_shop(shop)
        return cls(shop, (model or ItemKNNRecommender()).fit(matrix.implicit), matrix)

    @property
    def method(self) -> str:
        """Return the name of the model behind the known customers' scores."""
        return self.model.name

    def _allowed(self, req: RecommendRequest, known: np.ndarray, n_customers: int) -> np.ndarray:
        """Return the boolean mask of candidate items for the request."""
        allowed = ~self.matrix.product_ids.isin(req.exclude_product_ids)
        if req.genres:
            wanted = self.genres.get_indexer([g.lower() for g in req.genres])
            if (wanted < 0).any():
                missing = [g for g, w in zip(req.genres, wanted, strict=True) if w < 0]
                raise ValueError(f"unknown genres {missing}; the catalog has {list(self.genres)}")
            allowed &= np.asarray(self.item_genres[:, wanted].sum(axis=1)).ravel() > 0
        if req.exclude_seen and known.size:
            seen_by = np.asarray(self.matrix.implicit[known].sum(axis=0)).ravel()
            allowed &= seen_by <= n_customers / 2
        return np.asarray(allowed)

    def _reasons(
        self, items: np.ndarray, known: np.ndarray, span: np.ndarray, group: np.ndarray, single: bool
    ) -> list[str]:
        """Name, per item, the rated item that contributed most to the group score ("you" if ``single``)."""
        pop = self.popularity.counts_
        fallback = [f"popular with all customers (rated by {int(pop[i])} of them)" for i in items]
        if not (known.size and isinstance(self.model, NeighbourExplainer)):
            return fallback
        weight = np.where(span > 0, 1.0 / np.maximum(span, 1e-300), 0.0)
        ratings = self.matrix.ratings[known]
        liked = (ratings >= LIKED_RATING).astype(np.float64)
        neighbours = self.model.neighbour_weights(items)
        by_liked = neighbours * (weight @ liked)[:, None]
        by_rated = neighbours * (weight @ (ratings > 0).astype(np.float64))[:, None]
        use_liked = by_liked.max(axis=0) > 0
        best = np.where(use_liked, by_liked.argmax(axis=0), by_rated.argmax(axis=0))
        reasons = []
        for n, (j, from_liked) in enumerate(zip(best, use_liked, strict=True)):
            stars = ratings[:, j].toarray().ravel()
            stars = stars[stars >= LIKED_RATING] if from_liked else stars[stars > 0]
            if group[n] <= 0 or stars.size == 0:
                reasons.append(fallback[n])
                continue
            year = _year(self.catalog["year"].iat[j])
            title = self.catalog["title"].iat[j] + ("" if year is None else f" ({year})")
            who = "you" if single else f"{stars.size} of these customers"
            how = f"{LIKED_RATING:g} stars or more" if from_liked else f"{stars.mean():.1f} stars on average"
            how = f"{stars[0]:g} stars" if np.all(stars == stars[0]) else how
            reasons.append(f"because {who} rated {title} {how}")
        return reasons

    def score(self, req: RecommendRequest) -> RecommendResult:
        """Rank catalog products for the request's customers."""
        ids = list(dict.fromkeys(req.customer_ids))
        rows = self.matrix.rows(ids)
        known = rows[rows >= 0]
        unknown = [c for c, r in zip(ids, rows, strict=True) if r < 0]
        per, span = _normalise(self.model.score_users(known, req.exclude_seen))
        pop, _ = _normalise(self.popularity.score_users(known, req.exclude_seen))
        no_history = span == 0
        per[no_history] = pop[no_history]
        if unknown:
            cold, _ = _normalise(self.popularity.counts_[None, :])
            per = np.vstack([per, np.repeat(cold, len(unknown), axis=0)])
        group = per.mean(axis=0)
        allowed = self._allowed(req, known, len(ids))
        candidates = np.flatnonzero(allowed)
        order = np.lexsort((-self.popularity.counts_[candidates], -group[candidates]))
        items = candidates[order[: req.k]]
        explained = known[~no_history]
        reasons = self._reasons(items, explained, span[~no_history], group[items], len(ids) == 1)
        cat = self.catalog
        products = [
            ScoredProduct(
                product_id=str(cat.index[i]),
                title=str(cat["title"].iat[i]),
                year=_year(cat["year"].iat[i]),
                genres=list(cat["genres"].iat[i]),
                score=float(group[i]),
                reason=reason,
            )
            for i, reason in zip(items, reasons, strict=True)
        ]
        method = self.model.name if explained.size else "popularity"
        if explained.size and (unknown or no_history.any()):
            method += "+popularity_fallback"
        return RecommendResult(
            products=products, method=method, n_customers=len(ids), unknown_customer_ids=unknown
        )
