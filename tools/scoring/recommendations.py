"""Recommendation scoring of every customer: each customer's top products by the recommend tool's model.

For one known customer, :meth:`tools.recommend.RecommendTool.score` ranks the catalog products the customer has
not rated by their min-max normalised score (the popularity ranking for a customer whose scores are all equal),
ties broken by popularity then catalog order. :func:`recommendation_shard` computes the same ranking for a whole
shard at once (one ``score_users`` call, every row on its own), without the per-product reasons. Products added to
the tool after fitting (``add_product``) are not scored here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tools.recommend import RecommendTool
from tools.scoring.engine import BatchScorer, Progress

COLUMNS = ["customer_id", "rank", "product_id", "score"]


@dataclass(frozen=True)
class RecommendInputs:
    """What a recommendation shard needs (put in Ray's object store once).

    Attributes:
        model: The tool's fitted recommender (``score_users``).
        popularity: The tool's fitted popularity recommender (fallback and tie-break).
        implicit: The customer × product interaction matrix the models were fitted on.
        customer_ids: Row of each customer in ``implicit``.
        product_ids: Column of each product in ``implicit``.
        k: Products per customer.
    """

    model: Any
    popularity: Any
    implicit: sp.csr_matrix
    customer_ids: pd.Index
    product_ids: pd.Index
    k: int


def _min_max(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Min-max scale each row over its finite entries (``-inf`` → 0); return it and the rows' ranges.

    The same scaling as the recommend tool's (``tools.recommend.hybrid.normalise_rows``).
    """
    finite = np.isfinite(scores)
    low = np.where(finite, scores, np.inf).min(axis=1, keepdims=True)
    high = np.where(finite, scores, -np.inf).max(axis=1, keepdims=True)
    span = np.where(high > low, high - low, 0.0)
    return np.divide(scores - low, span, out=np.zeros_like(scores), where=finite & (span > 0)), span.ravel()


def recommendation_shard(inputs: RecommendInputs, customer_ids: list[str]) -> pd.DataFrame:
    """Rank products for one shard of known customers.

    Args:
        inputs: The fitted models and the interaction matrix.
        customer_ids: The shard's customers (all known to the matrix).

    Returns:
        Columns ``customer_id``, ``rank`` (1 = best), ``product_id``, ``score`` (in [0, 1]); up to ``k`` rows per
        customer, customers in the order given.
    """
    rows = inputs.customer_ids.get_indexer(pd.Index(customer_ids))
    personal, span = _min_max(np.asarray(inputs.model.score_users(rows, True), dtype=np.float64))
    popular, _ = _min_max(np.asarray(inputs.popularity.score_users(rows, True), dtype=np.float64))
    flat = span == 0
    personal[flat] = popular[flat]
    seen = inputs.implicit[rows].toarray() > 0
    counts = np.broadcast_to(inputs.popularity.counts_, personal.shape)
    order = np.lexsort((-counts, -np.where(seen, -np.inf, personal)), axis=1)  # score, then popularity, then column
    k = min(inputs.k, personal.shape[1])
    top = order[:, :k]
    valid = ~np.take_along_axis(seen, top, axis=1)
    who, rank = np.nonzero(valid)
    columns = top[who, rank]
    return pd.DataFrame({
        "customer_id": np.asarray(customer_ids, dtype=object)[who], "rank": rank + 1,
        "product_id": np.asarray(inputs.product_ids, dtype=object)[columns],
        "score": personal[who, columns],
    })  # fmt: skip


def score_recommendations(
    scorer: BatchScorer,
    tool: RecommendTool,
    k: int = 10,
    customer_ids: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Return every customer's top ``k`` products (those they have not rated), as the recommend tool ranks them.

    Args:
        scorer: Where the shards run (:class:`~tools.scoring.engine.LocalScorer` or ``RayScorer``).
        tool: The fitted recommend tool.
        k: Products per customer.
        customer_ids: Customers to score; None: every customer of the tool's interaction matrix.
        progress: Told (done, total) as shards finish.

    Returns:
        Columns ``customer_id``, ``rank``, ``product_id``, ``score``.

    Raises:
        ValueError: ``k`` is not positive, or a customer is unknown to the tool (cold start is per request:
            :meth:`~tools.recommend.RecommendTool.score`).
    """
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    matrix = tool.matrix
    customers = list(matrix.customer_ids if customer_ids is None else customer_ids)
    unknown = [c for c, r in zip(customers, matrix.rows(customers), strict=True) if r < 0]
    if unknown:
        raise ValueError(f"customers unknown to the recommend tool: {unknown[:10]}")
    inputs = RecommendInputs(tool.model, tool.popularity, matrix.implicit, pd.Index(matrix.customer_ids),
                             pd.Index(matrix.product_ids), k)  # fmt: skip
    table = scorer.run(recommendation_shard, inputs, customers, progress)
    return table if not table.empty else pd.DataFrame(columns=COLUMNS)
