"""Reasons a marketer can read for recommended products, computed from the ratings and the catalog.

* Collaborative: the rated product that contributed most to the score — "because you rated Alien (1979)
  5 stars", or for a segment "because 12 of these customers rated Alien (1979) 4 stars or more".
* Liked (cold start): the product a new customer named that pulls the item up most — "because you liked
  Star Wars (1977)".
* Taste (cold start): the genre shared by the product and the new customer's portrait with the most weight —
  "matches your taste for Sci-Fi".
* Placement (new products): the nearest catalog product by content that the customers liked.
* Popularity: "popular with all customers (rated by 583 of them)".
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tools.recommend.recommenders import NeighbourExplainer
from tools.shop import LIKED_RATING

"""A rating at or above this many stars counts as "liked" (reasons here, the click proxy in effect.py)."""


def label(catalog: pd.DataFrame, item: int) -> str:
    """Return "Title (year)" of the catalog row ``item``."""
    year = catalog["year"].iat[item]
    title = str(catalog["title"].iat[item])
    return title if pd.isna(year) else f"{title} ({int(year)})"


def popularity_reason(count: float, purchases: bool = False) -> str:
    """Return the reason of a product ranked by popularity (``purchases``: a shop of purchases, not ratings)."""
    return f"popular with all customers ({'bought' if purchases else 'rated'} by {int(count)} of them)"


def _stars_phrase(stars: np.ndarray, from_liked: bool) -> str:
    if np.all(stars == stars[0]):
        return f"{stars[0]:g} stars"
    return f"{LIKED_RATING:g} stars or more" if from_liked else f"{stars.mean():.1f} stars on average"


def collaborative_reasons(
    model: object,
    catalog: pd.DataFrame,
    ratings: sp.csr_matrix,
    known: np.ndarray,
    span: np.ndarray,
    items: np.ndarray,
    group: np.ndarray,
    single: bool,
    purchases: bool = False,
) -> list[str | None]:
    """Name, per item, the rated (or bought) product that contributed most to the group score (None: none).

    Args:
        model: The fitted model; only a :class:`NeighbourExplainer` can name contributors.
        catalog: Catalog rows aligned with the model's items.
        ratings: The stars of the ``known`` customers (rows) for every catalog item.
        known: Model rows of the customers whose scores were averaged.
        span: Each known customer's score range (their score was divided by it).
        items: Recommended item indexes (all inside the model's items).
        group: The group score of each recommended item.
        single: One customer ("you") rather than a segment.
        purchases: ``ratings`` holds purchase counts: reasons say who bought what, how often.
    """
    if not (known.size and items.size and isinstance(model, NeighbourExplainer)):
        return [None] * len(items)
    weight = np.divide(1.0, span, out=np.zeros(span.size), where=span > 0)
    liked = (ratings >= (np.inf if purchases else LIKED_RATING)).astype(np.float64)
    by_liked = model.item_contributions(known, weight, sp.csr_matrix(liked), items)
    by_rated = model.item_contributions(known, weight, sp.csr_matrix((ratings > 0).astype(np.float64)), items)
    use_liked = by_liked.max(axis=0) > 0
    best = np.where(use_liked, by_liked.argmax(axis=0), by_rated.argmax(axis=0))
    reasons: list[str | None] = []
    for n, (j, from_liked) in enumerate(zip(best, use_liked, strict=True)):
        stars = ratings[:, j].toarray().ravel()
        stars = stars[stars >= LIKED_RATING] if from_liked else stars[stars > 0]
        if group[n] <= 0 or stars.size == 0 or (not from_liked and by_rated[j, n] <= 0):
            reasons.append(None)
            continue
        who = "you" if single else f"{stars.size} of these customers"
        if purchases:
            often = f" {stars[0]:g} times" if single and stars[0] > 1 else ""
            reasons.append(f"because {who} bought {label(catalog, int(j))}{often}")
            continue
        reasons.append(f"because {who} rated {label(catalog, int(j))} {_stars_phrase(stars, bool(from_liked))}")
    return reasons


def liked_reasons(catalog: pd.DataFrame, liked: np.ndarray, weights: np.ndarray, single: bool) -> list[str | None]:
    """Name, per item, the liked product with the largest positive fold-in weight towards it (None: none).

    Args:
        catalog: Catalog rows.
        liked: Catalog indexes of the products the new customers said they liked.
        weights: Liked products × recommended items weights.
        single: One customer ("you") rather than several.
    """
    if not liked.size:
        return [None] * weights.shape[1]
    best = weights.argmax(axis=0)
    who = "you" if single else "these customers"
    return [
        f"because {who} liked {label(catalog, int(liked[b]))}" if weights[b, n] > 0 else None
        for n, b in enumerate(best)
    ]


def taste_reasons(
    item_genres: sp.csr_matrix, genre_labels: list[str], taste: np.ndarray, items: np.ndarray, single: bool
) -> list[str | None]:
    """Name, per item, its genre weighing most in the new customers' portrait (None: no shared genre).

    Args:
        item_genres: Items × genres binary matrix (catalog order, may include new products).
        genre_labels: Display name of every genre column.
        taste: Weight of every genre in the portrait(s).
        items: Recommended item indexes.
        single: One customer ("your") rather than several.
    """
    if not items.size:
        return []
    shared = item_genres[items].toarray() * taste[None, :]
    best = shared.argmax(axis=1)
    whose = "your" if single else "these customers'"
    return [f"matches {whose} taste for {genre_labels[g]}" if shared[n, g] > 0 else None for n, g in enumerate(best)]


def placement_reason(
    catalog: pd.DataFrame, neighbours: np.ndarray, weights: np.ndarray, ratings: sp.csr_matrix | None, single: bool,
    purchases: bool = False,
) -> str:
    """Explain a new product by the closest catalog product the customers liked (else the closest one).

    Args:
        catalog: Catalog rows (the neighbours index into it).
        neighbours: Catalog indexes of the new product's content neighbours.
        weights: Their placement weights.
        ratings: Stars of the known customers for the catalog (None: no known customer).
        single: One customer rather than a segment.
        purchases: ``ratings`` holds purchase counts, not stars (the reason then names the closest product).
    """
    if ratings is not None and ratings.shape[0] and not purchases:
        stars = ratings[:, neighbours].toarray()
        liked = (stars >= LIKED_RATING).sum(axis=0)
        if liked.max() > 0:
            n = int(np.argmax(liked * weights))
            name = label(catalog, int(neighbours[n]))
            if single:
                return f"new in the catalog and similar to {name}, which you rated {stars[:, n].max():g} stars"
            return f"new in the catalog and similar to {name}, rated {LIKED_RATING:g}+ stars by {liked[n]} of these"
    return f"new in the catalog and similar to {label(catalog, int(neighbours[0]))}"
