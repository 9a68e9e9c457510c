"""Benchmark the recommenders on MovieLens-100k under the Recommenders and RecBole protocols.

:func:`run` fits every method on each protocol's training split, ranks all items for all users with seen
items removed, and reports the protocol's metrics next to the published numbers, with wall times of fitting
and scoring. It also checks the cold-start paths on held-out data. The protocols are described in
:mod:`tools.recommend.metrics`. Run ``python -m eval.bench_recommend`` to print the JSON.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from rich.console import Console
from scipy.stats import rankdata

from agent.settings import Settings
from tools.recommend.cold_start import ColdStart
from tools.recommend.content import CONTENT_KINDS, ContentRecommender, ItemContent
from tools.recommend.factor_models import ALSRecommender, BPRRecommender
from tools.recommend.hybrid import HybridRecommender, normalise_rows
from tools.recommend.metrics import (
    catalog_coverage,
    ndcg_at_k,
    recbole_metrics,
    recbole_split_labels,
    recommenders_metrics,
    stratified_split_mask,
    to_matrix,
)
from tools.recommend.recommenders import (
    EASERecommender,
    ItemKNNRecommender,
    PopularityRecommender,
    Recommender,
    UserKNNRecommender,
    mask_seen_items,
    top_k,
)
from tools.shop.shop_data import load_demo_shop

K = 10
PUBLISHED: dict[str, Any] = {
    "recommenders": {
        "source": "Microsoft Recommenders examples/06_benchmarks/movielens.ipynb (MovieLens-100k, k=10)",
        "ndcg": {"sar": 0.394, "bpr": 0.445, "bivae": 0.469, "lightgcn": 0.416, "ncf": 0.369},
        "precision": {"sar": 0.341, "bpr": 0.389, "bivae": 0.408},
    },
    "recbole": {
        "source": "RecBole BPR on MovieLens-100k (RS 0.8/0.1/0.1 per user, full ranking)",
        "bpr": {"recall": 0.252, "ndcg": 0.292, "hit": 0.795, "precision": 0.196},
    },
}


def method_factories(content: ItemContent, seed: int) -> dict[str, Callable[[], Recommender]]:
    """Return a constructor of a fresh, unfitted model for every benchmarked method."""
    singles: dict[str, Callable[[], Recommender]] = {
        "popularity": PopularityRecommender,
        "item_knn": ItemKNNRecommender,
        "user_knn": UserKNNRecommender,
        "ease": EASERecommender,
        "als": lambda: ALSRecommender(seed=seed),
        "bpr": lambda: BPRRecommender(seed=seed),
        **{f"content_{k}": partial(ContentRecommender, content, k) for k in CONTENT_KINDS},
    }
    members = ("popularity", "item_knn", "user_knn", "ease", "als", *(f"content_{k}" for k in CONTENT_KINDS))

    def hybrid() -> Recommender:
        return HybridRecommender([singles[m]() for m in members], seed=seed)

    singles["hybrid"] = hybrid
    return singles


def _rank_all(model: Recommender, n_users: int, exclude: sp.csr_matrix, blocked: np.ndarray) -> np.ndarray:
    """Score every user, remove ``exclude`` items and ``blocked`` columns, return the top-K indexes."""
    scores = mask_seen_items(model.score_users(np.arange(n_users), mask_seen=True), exclude)
    scores[:, blocked] = -np.inf
    return top_k(scores, K)


def _evaluate(
    factory: Callable[[], Recommender], train: sp.csr_matrix, exclude: sp.csr_matrix, blocked: np.ndarray
) -> tuple[Recommender, np.ndarray, dict[str, float]]:
    start = time.perf_counter()
    model = factory().fit(train)
    fitted = time.perf_counter()
    top = _rank_all(model, train.shape[0], exclude, blocked)
    scored = time.perf_counter()
    timing = {
        "fit_s": round(fitted - start, 3),
        "score_all_users_s": round(scored - fitted, 3),
        "users_per_s": round(train.shape[0] / max(scored - fitted, 1e-9), 1),
    }
    return model, top, timing


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in values.items()}


def _hybrid_info(model: Recommender) -> dict[str, Any] | None:
    if not isinstance(model, HybridRecommender):
        return None
    v = model.validation_
    return {
        "weights": v.weights, "validation_ndcg": round(v.hybrid_ndcg, 4),
        "member_validation_ndcg": {k: round(x, 4) for k, x in v.member_ndcg.items()}, "evaluations": v.evaluations,
    }  # fmt: skip


def _protocol(
    name: str, factories: dict[str, Callable[[], Recommender]], train: sp.csr_matrix, test: sp.csr_matrix,
    exclude: sp.csr_matrix, blocked: np.ndarray, console: Console | None,
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for method, factory in factories.items():
        model, top, timing = _evaluate(factory, train, exclude, blocked)
        metrics = recommenders_metrics(top, test, train) if name == "recommenders" else recbole_metrics(top, test)
        metrics["coverage"] = catalog_coverage(top, train.shape[1])
        results[method] = {**_rounded(metrics), **timing}
        if (info := _hybrid_info(model)) is not None:
            results[method]["hybrid"] = info
        if console is not None:
            console.print(f"{name:>12} {method:<18} nDCG@10 {metrics['ndcg']:.4f}  fit {timing['fit_s']:.2f}s")
    return results


def _cold_start_customers(content: ItemContent, train: sp.csr_matrix, test: sp.csr_matrix, seed: int) -> dict:
    """New customers who reveal 3 random train products: rank the test products, popularity vs cold start."""
    cold = ColdStart(content, seed=seed).fit(train)
    users = np.flatnonzero((np.diff(test.indptr) > 0) & (np.diff(train.indptr) >= cold.n_known))
    rng = np.random.default_rng(seed)
    picks = [rng.choice(train[u].indices, cold.n_known, replace=False) for u in users]
    revealed = sp.csr_matrix((np.ones(users.size * cold.n_known), (np.repeat(np.arange(users.size), cold.n_known),
                              np.concatenate(picks))), shape=(users.size, train.shape[1]))  # fmt: skip
    exclude = train[users]
    popular, _ = normalise_rows(np.tile(cold.counts_, (users.size, 1)))
    ranked = {
        "popularity": popular, "content_only": cold.taste_scores(revealed), "ease_fold_in_only": cold.fold_in(revealed),
        "cold_start_blend": cold.score(revealed),
    }  # fmt: skip
    out = {m: round(ndcg_at_k(top_k(mask_seen_items(s, exclude), K), test[users]), 4) for m, s in ranked.items()}
    return {"users": int(users.size), "revealed_products": cold.n_known, "blend_weights": cold.weights_,
            "text_blend_weight": cold.alpha_text_, "ndcg": out}  # fmt: skip


def _cold_start_products(
    content: ItemContent, products: pd.DataFrame, train: sp.csr_matrix, test: sp.csr_matrix, seed: int
) -> dict:
    """Hide 50 products' ratings from train, place them by content, AUC of their scores over customers."""
    counts = np.diff(train.tocsc().indptr)
    hidden = np.random.default_rng(seed).choice(np.flatnonzero(counts >= 20), 50, replace=False)
    keep = np.ones(train.shape[1])
    keep[hidden] = 0.0
    visible = sp.csr_matrix(train @ sp.diags(keep))
    visible.eliminate_zeros()
    base, _ = normalise_rows(EASERecommender().fit(visible).score_users(np.arange(train.shape[0]), mask_seen=False))
    cold = ColdStart(content, seed=seed, n_neighbours=20 + hidden.size)
    aucs = []
    for item in hidden:
        year = products["year"].iat[item]
        p = cold.place(products["title"].iat[item], None if pd.isna(year) else int(year), products["genres"].iat[item])
        p = _without(p, hidden, 20)
        score = base[:, p.neighbours] @ p.weights
        rated = ((train[:, item] + test[:, item]).toarray().ravel() > 0)
        ranks = rankdata(score)
        aucs.append((ranks[rated].sum() - rated.sum() * (rated.sum() + 1) / 2) / (rated.sum() * (~rated).sum()))
    return {"products": int(hidden.size), "mean_auc": round(float(np.mean(aucs)), 4), "random_auc": 0.5}


def _without(placement: Any, hidden: np.ndarray, n: int) -> Any:
    """Drop hidden products from a placement (they must not be their own or each other's neighbours)."""
    keep = np.flatnonzero(~np.isin(placement.neighbours, hidden))[:n]
    sims = placement.similarity[keep]
    return type(placement)(placement.neighbours[keep], sims, sims / sims.sum())


def run(settings: Settings, console: Console | None = None) -> dict[str, Any]:
    """Benchmark every method under both protocols once and return the results with the published numbers.

    Args:
        settings: Project settings (data folder, seed, embedding cache).
        console: Optional console for progress lines.

    Returns:
        JSON-ready dict: ``recommenders`` and ``recbole`` results per method, ``published``, ``cold_start``,
        split sizes and the machine.
    """
    shop = load_demo_shop(settings)
    inter, products = shop.interactions, shop.products
    users, items = pd.Index(shop.customers["customer_id"]), pd.Index(products["product_id"])
    rows, cols = users.get_indexer(inter["customer_id"]), items.get_indexer(inter["product_id"])
    shape = (len(users), len(items))
    content = ItemContent.build(products, settings)
    _ = content.embeddings  # computed (or read from the cache) before any timing
    factories = method_factories(content, settings.seed)

    in_train = stratified_split_mask(inter["product_id"].to_numpy(), 0.75, seed=42)
    train, test = to_matrix(rows[in_train], cols[in_train], shape), to_matrix(rows[~in_train], cols[~in_train], shape)
    unknown_items = np.diff(train.tocsc().indptr) == 0
    recommenders = _protocol("recommenders", factories, train, test, train, unknown_items, console)

    part = recbole_split_labels(rows, seed=settings.seed)
    rb = [to_matrix(rows[part == p], cols[part == p], shape) for p in range(3)]
    recbole = _protocol("recbole", factories, rb[0], rb[2], rb[0] + rb[1], np.zeros(shape[1], bool), console)

    return {
        "dataset": f"{shop.name}: {shape[0]} users, {shape[1]} items, {len(inter)} ratings (implicit: all ratings)",
        "k": K,
        "recommenders": {"split": {"train": int(train.nnz), "test": int(test.nnz)}, "results": recommenders},
        "recbole": {"split": {n: int(m.nnz) for n, m in zip(("train", "valid", "test"), rb, strict=True)},
                    "results": recbole},
        "published": PUBLISHED,
        "goal": {
            "hybrid_ndcg_recommenders": recommenders["hybrid"]["ndcg"], "target_recommenders": 0.445,
            "hybrid_ndcg_recbole": recbole["hybrid"]["ndcg"], "target_recbole": 0.292,
        },
        "cold_start": {
            "new_customers": _cold_start_customers(content, train, test, settings.seed),
            "new_products": _cold_start_products(content, products, train, test, settings.seed),
        },
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }  # fmt: skip


if __name__ == "__main__":
    print(json.dumps(run(Settings(), Console(stderr=True)), indent=1))
