"""The real shop's fitted models, answering for scale-test replicas.

SCALE TEST: the purchase ranker and the recommend tool are fitted on the real retail shop and are not refitted on
replicas (their features are the real customers' order histories). A replica is scored as its source customer, so
a replica's probability or recommendation equals its source's; the replicas' own perturbations live in the
portraits, summaries and matrix (:mod:`tools.scale.shop`). Groups keep their size: a segment of 300,000 replicas
counts 300,000 customers (each real customer weighted by how many replicas it has in the group), while the model
runs once per distinct real customer.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd

from tools.effect import PurchaseEffect
from tools.recommend import RecommendRequest, RecommendResult, RecommendTool


def _source_map(replicas: pd.DataFrame) -> pd.Series:
    """Replica id → real customer id, indexed by plain Python strings (object dtype).

    An Arrow-backed string index is converted to NumPy on every lookup with an object index (its hash table is not
    reused), which made each shard of batch scoring cost time in proportion to the whole audience: 70 of the
    1M plan's 92 s of send-list scoring. An object index builds its hash table once.
    """
    ids = pd.Index(replicas["customer_id"].to_numpy(dtype=object), dtype=object)
    return pd.Series(replicas["source_id"].to_numpy(dtype=object), index=ids)


class SourceRanker:
    """A fitted ``NextMonthRanker`` that scores replica ids as their source customers (each distinct pair once).

    Args:
        ranker: The real shop's fitted ranker.
        source_of: Replica id → real customer id.
    """

    def __init__(self, ranker: Any, source_of: pd.Series) -> None:
        self.ranker = ranker
        self.source_of = source_of
        self.cut = getattr(ranker, "cut", None)
        self.train_cuts = getattr(ranker, "train_cuts", None)

    def sources(self, customer_ids: list[str]) -> list[str]:
        """Return the real customer of each id (real ids map to themselves)."""
        mapped = self.source_of.reindex(pd.Index(customer_ids, dtype=object))
        return [str(s) if isinstance(s, str) else c for c, s in zip(customer_ids, mapped.tolist(), strict=True)]

    def score(self, customer_ids: list[str], product_ids: list[str]) -> np.ndarray:
        """Return P(buys in the 30 days after the cut) per (customer, product) pair, replicas as their sources."""
        pairs = pd.DataFrame({"c": self.sources(list(customer_ids)), "p": list(product_ids)})
        codes = pairs.groupby(["c", "p"], sort=False).ngroup().to_numpy()  # numbered in order of first occurrence
        distinct = pairs.drop_duplicates()
        scores = np.asarray(self.ranker.score(distinct["c"].tolist(), distinct["p"].tolist()), dtype=np.float64)
        return scores[codes]


class ScaleEffect(PurchaseEffect):
    """:class:`tools.effect.PurchaseEffect` of the real shop, predicting for groups of replicas.

    Built with :meth:`for_replicas`; a group's estimate is the one of its replicas' source customers, each weighted
    by its replicas in the group (the bootstrap resamples replicas, grouped by source).
    """

    source_of: pd.Series
    real_customer_ids: pd.Index

    @classmethod
    def for_replicas(cls, effect: PurchaseEffect, replicas: pd.DataFrame, label: str) -> ScaleEffect:
        """Wrap the real shop's effect for a scale shop's replicas (``customer_id``, ``source_id`` columns)."""
        scaled = cls.__new__(cls)
        scaled.__dict__.update(effect.__dict__)
        scaled.source_of = _source_map(replicas)
        scaled.ranker = SourceRanker(effect.ranker, scaled.source_of)  # type: ignore[assignment]
        scaled.real_customer_ids = effect.customer_ids
        scaled.customer_ids = scaled.source_of.index
        scaled.shop_customers = scaled.customer_ids
        card = copy.deepcopy(effect.model_card)
        card["scale_test"] = f"{label}; each replica is scored as its real source customer"
        scaled._card = card
        return scaled

    def _scored_as(self, customer_ids: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return each replica's source customer (``codes`` into the distinct sources) and their rows of orders.

        The group's estimate is then its sources', each weighted by its replicas in the group (the bootstrap
        resamples replicas, grouped by source), and the learned lift is the sources'.

        Raises:
            ValueError: If a customer id is not in the scale shop.
        """
        sources = self.source_of.reindex(pd.Index(customer_ids, dtype=object))
        unknown = [c for c, s in zip(customer_ids, sources.isna().to_numpy(), strict=True) if s][:10]
        if unknown:
            raise ValueError(f"unknown customer ids: {unknown}")
        codes, distinct = pd.factorize(sources.to_numpy())
        return codes, np.asarray(distinct, dtype=object), self.real_customer_ids.get_indexer(pd.Index(distinct))

    def _score(self, customer_ids: list[str], product_ids: list[str]) -> np.ndarray:
        """Score real (source) customers with the real shop's ranker directly."""
        base = self.ranker.ranker  # type: ignore[attr-defined]
        return np.asarray(base.score(customer_ids, product_ids), dtype=np.float64)


class ScaleRecommend(RecommendTool):
    """The real shop's :class:`tools.recommend.RecommendTool`, ranking products for groups of replicas.

    A group's ranking is the real tool's for the group's distinct source customers.
    """

    source_of: pd.Series

    @classmethod
    def for_replicas(cls, tool: RecommendTool, replicas: pd.DataFrame) -> ScaleRecommend:
        """Wrap the real shop's recommend tool for a scale shop's replicas (``customer_id``, ``source_id``)."""
        scaled = cls.__new__(cls)
        scaled.__dict__.update(tool.__dict__)
        scaled.source_of = _source_map(replicas)
        return scaled

    def score(self, req: RecommendRequest) -> RecommendResult:
        """Rank catalog products for the request's replicas (as their distinct source customers)."""
        ids = list(dict.fromkeys(req.customer_ids))
        mapped = self.source_of.reindex(pd.Index(ids, dtype=object))
        sources = [str(s) if isinstance(s, str) else c for c, s in zip(ids, mapped.tolist(), strict=True)]
        result = super().score(req.model_copy(update={"customer_ids": list(dict.fromkeys(sources))}))
        return result.model_copy(update={"n_customers": len(ids)})
