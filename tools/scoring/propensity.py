"""Propensity scoring of every customer: P(buys the product in the next 30 days) for a list of products.

The probabilities are those of :class:`~tools.effect.purchases.PurchaseEffect`'s next-month ranker
(``NextMonthRanker.score``, the model the purchase-effect plans use), for every (customer, product) pair of a
shard. The ranker scores each pair from its own features, so a shard's result does not depend on the other shards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tools.effect import PurchaseEffect
from tools.scoring.engine import BatchScorer, Progress

CUSTOMER = "customer_id"


@dataclass(frozen=True)
class PropensityInputs:
    """What a propensity shard needs (put in Ray's object store once).

    Attributes:
        ranker: A fitted ``NextMonthRanker`` (``PurchaseEffect.ranker``).
        product_ids: The products scored for every customer.
    """

    ranker: Any
    product_ids: tuple[str, ...]


def propensity_shard(inputs: PropensityInputs, customer_ids: list[str]) -> pd.DataFrame:
    """Score one shard: a ``customer_id`` column, then one probability column per product.

    Args:
        inputs: The ranker and products.
        customer_ids: The shard's customers.

    Returns:
        One row per customer, in the order given.
    """
    products = list(inputs.product_ids)
    n, m = len(customer_ids), len(products)
    p = inputs.ranker.score(np.repeat(customer_ids, m).tolist(), np.tile(products, n).tolist()).reshape(n, m)
    table = pd.DataFrame(np.asarray(p, dtype=np.float64), columns=products)
    table.insert(0, CUSTOMER, customer_ids)
    return table


def score_propensity(
    scorer: BatchScorer,
    effect: PurchaseEffect,
    product_ids: Sequence[str],
    customer_ids: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Return every customer's probability of buying each product in the 30 days after the ranker's cut.

    Args:
        scorer: Where the shards run (:class:`~tools.scoring.engine.LocalScorer` or ``RayScorer``).
        effect: The shop's purchase effect (its fitted ranker is used).
        product_ids: Products to score (catalog ids).
        customer_ids: Customers to score; None: every customer with orders (``effect.customer_ids``).
        progress: Told (done, total) as shards finish.

    Returns:
        Index ``customer_id``; one float64 column per product.

    Raises:
        ValueError: A product is not in the shop's catalog.
    """
    unknown = [p for p in product_ids if p not in effect.product_ids]
    if unknown:
        raise ValueError(f"unknown product ids: {unknown}")
    customers = list(effect.customer_ids if customer_ids is None else customer_ids)
    inputs = PropensityInputs(effect.ranker, tuple(str(p) for p in product_ids))
    return scorer.run(propensity_shard, inputs, customers, progress).set_index(CUSTOMER)
