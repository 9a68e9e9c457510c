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

from tools.effect import EffectEstimate, EffectRequest, EffectResult, PurchaseEffect
from tools.recommend import RecommendRequest, RecommendResult, RecommendTool

BOOTSTRAP = 2000
"""Resamples of the group's mean probability (as :class:`tools.effect.PurchaseEffect`)."""


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

    def predict(self, req: EffectRequest) -> EffectResult:
        """Estimate, per product, the group's expected incremental revenue per send (replicas as their sources).

        Raises:
            ValueError: If a customer or product id is not in the scale shop.
        """
        cids, pids = list(dict.fromkeys(req.customer_ids)), list(dict.fromkeys(req.product_ids))
        sources = self.source_of.reindex(pd.Index(cids, dtype=object))
        unknown_c = [c for c, s in zip(cids, sources.isna().to_numpy(), strict=True) if s][:10]
        unknown_p = [p for p in pids if p not in self.product_ids]
        if unknown_c:
            raise ValueError(f"unknown customer ids: {unknown_c}")
        if unknown_p:
            raise ValueError(f"unknown product ids: {unknown_p}")
        codes, distinct = pd.factorize(sources.to_numpy())
        weights = np.bincount(codes, minlength=len(distinct)).astype(np.float64)
        n, m, k = len(cids), len(pids), len(distinct)
        base = self.ranker.ranker  # type: ignore[attr-defined]
        p_distinct = np.asarray(base.score(np.repeat(distinct, m).tolist(), np.tile(pids, k).tolist()),
                                dtype=np.float64).reshape(k, m)
        p = p_distinct[codes]
        rng = np.random.default_rng(self.seed)
        boot = rng.multinomial(n, weights / n, size=BOOTSTRAP) @ p_distinct / n
        mean_low, mean_high = np.quantile(boot, [0.05, 0.95], axis=0)
        rows = self.real_customer_ids.get_indexer(pd.Index(distinct))
        cols = self.product_ids.get_indexer(pd.Index(pids))
        known = rows >= 0
        bought = self.bought[rows[known]][:, cols].toarray().astype(np.float64)
        already = weights[known] @ bought if known.any() else np.zeros(m)
        estimates = []
        for j, pid in enumerate(pids):
            lift, source = self._lift([str(c) for c in distinct], pid)  # the source customers' lift
            value = self._value(p[:, j], float(mean_low[j]), float(mean_high[j]), self.line_revenue[pid], lift,
                                source)
            per_send = value.incremental_revenue.scaled(1.0 / n)
            estimates.append(EffectEstimate(
                product_id=pid, metric=self._card["metric"], point=per_send.point, low=per_send.low,
                high=per_send.high, n_customers=n, already_rated=int(already[j]), unit="currency",
                value=self.for_group(value, req),
                factors=self._factors(pid, p[:, j], int(already[j]), value, sampled=req.sample_of is not None),
            ))  # fmt: skip
        return EffectResult(estimates=estimates, model_card=self._card)


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
