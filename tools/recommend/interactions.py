"""The shop's ratings as sparse customer×product matrices, the input of every recommender."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

if TYPE_CHECKING:
    from tools.shop import Shop


@dataclass(frozen=True)
class InteractionMatrix:
    """The shop's ratings as sparse customer×product matrices aligned on two id indexes.

    Attributes:
        customer_ids: Row labels: every customer of the shop (and any id found only in the interactions).
        product_ids: Column labels: the catalog; interactions with products outside it are dropped.
        implicit: Binary CSR matrix, 1.0 where the customer rated (or bought) the product.
        ratings: CSR matrix of the stars (the latest rating if a pair was rated twice); in a shop of purchases
            (no ratings), how many times the customer bought the product.
        purchases: True when the events are purchases rather than ratings (``ratings`` then holds counts).
    """

    customer_ids: pd.Index
    product_ids: pd.Index
    implicit: sp.csr_matrix
    ratings: sp.csr_matrix
    purchases: bool = False

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
        purchases = not bool(frame["rating"].notna().any())
        times = frame.groupby(["row", "col"]).size() if purchases else None
        frame = frame.drop_duplicates(["row", "col"], keep="last")
        shape, coords = (len(customers), len(products)), (frame["row"].to_numpy(), frame["col"].to_numpy())
        values = (times.reindex(pd.MultiIndex.from_arrays(coords)).to_numpy(dtype=np.float64) if times is not None
                  else frame["rating"].to_numpy(dtype=np.float64))
        ratings = sp.csr_matrix((values, coords), shape=shape)
        return cls(customers, products, sp.csr_matrix((np.ones(len(frame)), coords), shape=shape), ratings,
                   purchases)

    def rows(self, customer_ids: list[str]) -> np.ndarray:
        """Return the row of each customer id, -1 for ids the shop does not know."""
        return self.customer_ids.get_indexer(pd.Index(customer_ids))
