"""The ``recommend`` tool: ranked, explained catalog products for a customer or a segment.

The shop's ratings become an implicit customer×product matrix
(:class:`~tools.recommend.interactions.InteractionMatrix`).
By default :meth:`RecommendTool.fit` mixes collaborative and content models in a
:class:`~tools.recommend.hybrid.HybridRecommender` whose weights are learned on a validation split of the ratings; any
:class:`~tools.recommend.recommenders.Recommender` can be passed instead.
Customers the shop does not know get cold-start
scores (EASE fold-in + content + popularity when the request names products they liked, content + popularity
for a described taste, popularity otherwise), and products added with :meth:`RecommendTool.add_product` are
placed among similar catalog products so they can be recommended at once.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import BaseModel, Field

from agent.settings import Settings, get_settings
from tools.recommend.cold_start import ColdStart, Placement
from tools.recommend.content import ItemContent
from tools.recommend.hybrid import default_hybrid, find_content, normalise_rows
from tools.recommend.interactions import InteractionMatrix
from tools.recommend.reasons import (
    collaborative_reasons,
    liked_reasons,
    placement_reason,
    popularity_reason,
    taste_reasons,
)
from tools.recommend.recommenders import (
    PopularityRecommender,
    Recommender,
)

if TYPE_CHECKING:
    from tools.shop import Product, Shop


class RecommendRequest(BaseModel):
    """Ask for the best products for one customer or a group (segment) of customers."""

    customer_ids: list[str] = Field(min_length=1, description="The customer, or the customers of a segment.")
    k: int = Field(10, ge=1, le=100, description="How many products to return.")
    exclude_seen: bool = Field(True, description="Drop products the customer(s) already rated (see tool).")
    exclude_product_ids: list[str] = Field(default_factory=list, description="Products never to return.")
    genres: list[str] = Field(default_factory=list, description="Only products having one of these genres.")
    liked_product_ids: list[str] = Field(
        default_factory=list, description="Cold start: catalog products the unknown customers are known to like."
    )
    interests: str | None = Field(
        None, max_length=500, description="Cold start: the unknown customers' taste in words, e.g. 'space sci-fi'."
    )


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
    unknown_customer_ids: list[str] = Field(
        description="Ids the shop does not know (cold start: fold-in + content + popularity if the request names "
        "liked products, content + popularity for stated interests, else popularity)."
    )


def _year(value: object) -> int | None:
    """Return a nullable catalog year as ``int | None``."""
    return None if pd.isna(value) else int(value)  # type: ignore[call-overload]


class RecommendTool:
    """Recommend catalog products to a customer or a segment, with reasons from the data.

    Group semantics: every customer's scores are min-max normalised to [0, 1] (with ``exclude_seen`` the
    items that customer rated score 0 for them) and averaged. With ``exclude_seen``, items rated by more than
    half of the group's customers are dropped entirely (for one customer: everything they rated). Unknown
    customers get cold-start scores (:class:`~tools.recommend.cold_start.ColdStart`),
    known customers with no usable history
    the popularity ranking.
    """

    def __init__(
        self, shop: Shop, model: Recommender, matrix: InteractionMatrix | None = None, settings: Settings | None = None
    ) -> None:
        """Wrap a model fitted on ``InteractionMatrix.from_shop(shop).implicit`` (``matrix``: reuse it)."""
        self.settings = settings or get_settings()
        self.matrix = matrix if matrix is not None else InteractionMatrix.from_shop(shop)
        self.model = model
        self.popularity = PopularityRecommender().fit(self.matrix.implicit)
        self.catalog = shop.products.set_index("product_id").reindex(self.matrix.product_ids)
        self.content = find_content(model) or ItemContent.build(self.catalog, self.settings)
        self.placements: list[Placement] = []
        self._index_genres()

    @classmethod
    def fit(cls, shop: Shop, settings: Settings, model: Recommender | None = None) -> RecommendTool:
        """Fit ``model`` (default: :func:`default_hybrid`, weights cached under ``settings.models_dir``)."""
        matrix = InteractionMatrix.from_shop(shop)
        if model is None:
            catalog = shop.products.set_index("product_id").reindex(matrix.product_ids)
            model = default_hybrid(ItemContent.build(catalog, settings), settings)
        return cls(shop, model.fit(matrix.implicit), matrix, settings)

    @property
    def method(self) -> str:
        """Return the name of the model behind the known customers' scores."""
        return self.model.name

    @property
    def product_ids(self) -> pd.Index:
        """Return the ids of the catalog products, then of the products added since fitting."""
        return pd.Index(self.catalog.index)

    @cached_property
    def cold_start(self) -> ColdStart:
        """Return the cold-start model (fitted on first use)."""
        return ColdStart(self.content, seed=self.settings.seed).fit(self.matrix.implicit)

    def _index_genres(self) -> None:
        genres = self.catalog["genres"].reset_index(drop=True).explode().dropna()
        self.genre_labels = genres.groupby(genres.str.lower()).first()
        self.genres = pd.Index(self.genre_labels.index)
        member = (genres.index.to_numpy(), self.genres.get_indexer(genres.str.lower()))
        self.item_genres = sp.csr_matrix((np.ones(len(genres)), member), shape=(len(self.catalog), len(self.genres)))

    def add_product(self, product: Product) -> Placement:
        """Add a product nobody has rated yet, placed among the catalog products most similar by content.

        Raises:
            ValueError: The id is taken, or nothing in the catalog resembles the product.
        """
        if product.product_id in self.product_ids:
            raise ValueError(f"product {product.product_id!r} is already in the catalog")
        placement = self.cold_start.place(product.title, product.year, product.genres)
        row = pd.DataFrame(
            {"title": [product.title], "year": [product.year], "genres": [product.genres]},
            index=pd.Index([product.product_id], name=self.catalog.index.name),
        )
        self.catalog = pd.concat([self.catalog, row.astype({"year": "Int64"})])
        self.placements.append(placement)
        self._index_genres()
        return placement

    def _placed(self, scores: np.ndarray) -> np.ndarray:
        """Append the added products' columns: each the weighted mean of its neighbours' scores."""
        if not self.placements:
            return scores
        columns = [scores[:, p.neighbours] @ p.weights for p in self.placements]
        return np.hstack([scores, np.column_stack(columns)])

    def _liked_items(self, req: RecommendRequest) -> np.ndarray:
        liked = self.matrix.product_ids.get_indexer(pd.Index(req.liked_product_ids))
        if (liked < 0).any():
            missing = [p for p, i in zip(req.liked_product_ids, liked, strict=True) if i < 0]
            raise ValueError(f"liked_product_ids not in the rated catalog: {missing}")
        return liked

    def _allowed(self, req: RecommendRequest, known: np.ndarray, n_customers: int, seen: np.ndarray) -> np.ndarray:
        """Return the boolean mask of candidate items (catalog, then added products) for the request."""
        allowed = ~self.product_ids.isin(req.exclude_product_ids)
        if req.genres:
            wanted = self.genres.get_indexer([g.lower() for g in req.genres])
            if (wanted < 0).any():
                missing = [g for g, w in zip(req.genres, wanted, strict=True) if w < 0]
                raise ValueError(f"unknown genres {missing}; the catalog has {list(self.genres)}")
            allowed &= np.asarray(self.item_genres[:, wanted].sum(axis=1)).ravel() > 0
        if req.exclude_seen:
            seen_by = np.asarray(self.matrix.implicit[known].sum(axis=0)).ravel() + seen
            allowed &= np.concatenate([seen_by, np.zeros(len(self.placements))]) <= n_customers / 2
        return np.asarray(allowed)

    def score(self, req: RecommendRequest) -> RecommendResult:
        """Rank catalog products for the request's customers."""
        ids = list(dict.fromkeys(req.customer_ids))
        rows = self.matrix.rows(ids)
        known = rows[rows >= 0]
        unknown = [c for c, r in zip(ids, rows, strict=True) if r < 0]
        per, span = normalise_rows(self.model.score_users(known, req.exclude_seen))
        pop, _ = normalise_rows(self.popularity.score_users(known, req.exclude_seen))
        no_history = span == 0
        per[no_history] = pop[no_history]
        if self.placements:
            unmasked, _ = normalise_rows(self.model.score_users(known, mask_seen=False))
            unmasked[no_history] = normalise_rows(self.popularity.score_users(known[no_history], False))[0]
            per = np.hstack([per, self._placed(unmasked)[:, per.shape[1] :]])
        liked = self._liked_items(req)
        cold_signal = bool(unknown) and (liked.size > 0 or bool(req.interests))
        n_base = len(self.matrix.product_ids)
        history = sp.csr_matrix((np.ones(liked.size), (np.zeros(liked.size, int), liked)), (1, n_base))
        if unknown:
            if cold_signal:
                cold = self.cold_start.score(history, [req.interests])
                if req.exclude_seen:
                    cold[0, liked] = 0.0
            else:
                cold, _ = normalise_rows(self.popularity.counts_[None, :])
            per = np.vstack([per, np.repeat(self._placed(cold), len(unknown), axis=0)])
        group = per.mean(axis=0)
        seen_extra = np.zeros(n_base)
        seen_extra[liked] = len(unknown) if cold_signal else 0
        candidates = np.flatnonzero(self._allowed(req, known, len(ids), seen_extra))
        popularity = np.concatenate([self.popularity.counts_, np.zeros(len(self.placements))])
        items = candidates[np.lexsort((-popularity[candidates], -group[candidates]))[: req.k]]
        explained = known[~no_history]
        reasons = self._reasons(req, items, explained, span[~no_history], group, cold_signal, liked, len(ids) == 1)
        products = [
            ScoredProduct(
                product_id=str(self.catalog.index[i]), title=str(self.catalog["title"].iat[i]),
                year=_year(self.catalog["year"].iat[i]), genres=list(self.catalog["genres"].iat[i]),
                score=float(group[i]), reason=reason,
            )
            for i, reason in zip(items, reasons, strict=True)
        ]  # fmt: skip
        method = self.model.name if explained.size else ("cold_start" if cold_signal else "popularity")
        if explained.size and (unknown or no_history.any()):
            method += "+cold_start" if cold_signal else "+popularity_fallback"
        return RecommendResult(products=products, method=method, n_customers=len(ids), unknown_customer_ids=unknown)

    def _reasons(
        self,
        req: RecommendRequest,
        items: np.ndarray,
        explained: np.ndarray,
        span: np.ndarray,
        group: np.ndarray,
        cold_signal: bool,
        liked: np.ndarray,
        single: bool,
    ) -> list[str]:
        """Explain each item: by rated products, liked products, taste, placement, else by popularity."""
        n_base = len(self.matrix.product_ids)
        base, added = items[items < n_base], items[items >= n_base]
        ratings = self.matrix.ratings[explained]
        purchases = self.matrix.purchases
        found = dict(zip(base, collaborative_reasons(
            self.model, self.catalog.iloc[:n_base], ratings, explained, span, base, group[base], single, purchases
        ), strict=True))  # fmt: skip
        if cold_signal:
            missing = np.array([i for i in base if found[i] is None], dtype=int)
            weights = self.cold_start.fold_in_weights(liked, missing)
            found.update(zip(missing, liked_reasons(self.catalog, liked, weights, single), strict=True))
            history = sp.csr_matrix((np.ones(liked.size), (np.zeros(liked.size, int), liked)), (1, n_base))
            taste = np.zeros(len(self.genres))
            taste[self.genres.get_indexer(self.content.genre_names)] = self.cold_start.taste_genres(
                history, [req.interests]
            )
            missing = np.array([i for i in items if found.get(i) is None], dtype=int)
            labels = list(self.genre_labels)
            found.update(zip(missing, taste_reasons(self.item_genres, labels, taste, missing, single), strict=True))
        for i in added:
            p = self.placements[i - n_base]
            found[i] = placement_reason(
                self.catalog, p.neighbours, p.weights, ratings if explained.size else None, single, purchases
            )
        counts = np.concatenate([self.popularity.counts_, np.zeros(len(self.placements))])
        return [found.get(i) or popularity_reason(counts[i], purchases) for i in items]
