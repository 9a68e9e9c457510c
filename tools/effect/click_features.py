"""Features of the click model: per customer, product and genre counts of a rating history.

Split out of :mod:`tools.effect.effect_tool`.
Every feature of a (customer, product) pair comes from a rating history (the
shop's, or a time slice of it), smoothed towards population values; a training event can leave its own rating
out, so that no row sees its own label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

if TYPE_CHECKING:
    from tools.shop import Shop

CATEGORICAL = ["age_band", "gender", "occupation"]
# The click model's age feature: how it one-hot buckets ages (MovieLens' own age groups). Not the marketing age
# bands of segment names and portraits (tools.portraits.segments.AGE_BANDS); changing it changes the model.
CLICK_FEATURE_AGE_BINS = [0, 18, 25, 35, 45, 50, 56, 200]
CLICK_FEATURE_AGE_LABELS = ["<18", "18-24", "25-34", "35-44", "45-49", "50-55", "56+"]
PRIOR_WEIGHT = 10.0  # pseudo-ratings at the population value that smooth every customer and item statistic


def event_rows(customers: pd.Index, products: pd.Index, inter: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """Return customer rows, product rows and ratings of the events of known customers and products."""
    c, i = customers.get_indexer(inter["customer_id"]), products.get_indexer(inter["product_id"])
    keep = (c >= 0) & (i >= 0)
    return c[keep], i[keep], inter["rating"].to_numpy(np.float64)[keep]


@dataclass(frozen=True)
class HistoryStats:
    """Counts of a rating history per customer, product and genre: the source of every model feature."""

    customer_ids: pd.Index
    product_ids: pd.Index
    genres: list[str]
    item_genres: np.ndarray  # products × genres, 0/1
    demographics: pd.DataFrame  # per customer row: age_band, gender, occupation
    customer_n: np.ndarray
    customer_sum: np.ndarray
    customer_genre_n: np.ndarray  # customers × genres: how many of their ratings are of titles in the genre
    item_n: np.ndarray
    item_sum: np.ndarray
    global_mean: float
    rated: sp.csr_matrix  # customers × products, True where the customer rated the product

    @classmethod
    def from_history(cls, shop: Shop, interactions: pd.DataFrame) -> HistoryStats:
        """Count ``interactions`` (the shop's history or a time slice of it)."""
        customers, products = pd.Index(shop.customers["customer_id"]), pd.Index(shop.products["product_id"])
        exploded = shop.products["genres"].reset_index(drop=True).explode().dropna()
        genres = sorted(exploded.unique())
        item_genres = np.zeros((len(products), len(genres)))
        item_genres[exploded.index.to_numpy(), pd.Index(genres).get_indexer(exploded)] = 1.0
        people = shop.customers.reset_index(drop=True).astype({"gender": str, "occupation": str})
        ages = pd.cut(people["age"], CLICK_FEATURE_AGE_BINS, right=False, labels=CLICK_FEATURE_AGE_LABELS).astype(str)
        demographics = people.assign(age_band=ages)[CATEGORICAL]
        c, i, r = event_rows(customers, products, interactions)
        if r.size == 0:
            raise ValueError("the rating history is empty: no statistics to compute features from")
        n_c, n_i = len(customers), len(products)
        seen = sp.csr_matrix((np.ones(c.size), (c, i)), shape=(n_c, n_i))
        return cls(
            customers, products, genres, item_genres, demographics,
            np.bincount(c, minlength=n_c).astype(np.float64), np.bincount(c, weights=r, minlength=n_c),
            np.asarray(seen @ item_genres), np.bincount(i, minlength=n_i).astype(np.float64),
            np.bincount(i, weights=r, minlength=n_i), float(r.mean()), seen.astype(bool),
        )  # fmt: skip

    @property
    def genre_share(self) -> np.ndarray:
        """Return the share of all ratings that are of titles in each genre."""
        return self.customer_genre_n.sum(axis=0) / max(self.customer_n.sum(), 1.0)

    def features(
        self, cust: np.ndarray, item: np.ndarray, own_rating: np.ndarray | None = None
    ) -> pd.DataFrame:
        """Return the feature table of (customer row, product row) pairs.

        Args:
            cust: Customer rows (into ``customer_ids``), one per pair.
            item: Product rows (into ``product_ids``), one per pair.
            own_rating: For pairs that are events of this very history, their ratings, left out of every
                statistic so that a training row never sees its own label.
        """
        c_n, c_sum, genre_n = self.customer_n[cust], self.customer_sum[cust], self.customer_genre_n[cust]
        i_n, i_sum, item_g = self.item_n[item], self.item_sum[item], self.item_genres[item]
        if own_rating is not None:
            c_n, c_sum, i_n, i_sum = c_n - 1, c_sum - own_rating, i_n - 1, i_sum - own_rating
            genre_n = genre_n - item_g
        share = (genre_n + PRIOR_WEIGHT * self.genre_share) / (c_n + PRIOR_WEIGHT)[:, None]
        columns: dict[str, np.ndarray] = {}
        for j, g in enumerate(self.genres):
            columns[f"genre:{g}"], columns[f"affinity:{g}"] = item_g[:, j], share[:, j] * item_g[:, j]
        prior = PRIOR_WEIGHT * self.global_mean
        columns["item_log_count"] = np.log1p(i_n)
        columns["item_mean_rating"] = (i_sum + prior) / (i_n + PRIOR_WEIGHT)
        columns["customer_mean_rating"] = (c_sum + prior) / (c_n + PRIOR_WEIGHT)
        columns["customer_log_count"] = np.log1p(c_n)
        demographics = self.demographics.iloc[cust].reset_index(drop=True)
        return pd.concat([demographics, pd.DataFrame(columns)], axis=1)
