"""Batch scoring on a real local Ray cluster (started on loopback with 2 CPUs) equals the local path.

Real data: the retail shop's purchase ranker (propensity of every customer with orders for 20 products) and the
recommend tools of the retail and MovieLens shops (every customer's top 10). Ray talks to its own servers on
loopback, hence the ``e2e`` marker.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from agent.settings import Settings
from tools.effect import PurchaseEffect
from tools.recommend import RecommendRequest, RecommendTool
from tools.scoring import LocalScorer, RayScorer, score_propensity, score_recommendations
from tools.shop import Shop

pytestmark = pytest.mark.e2e

SHARD = 400


@pytest.fixture(scope="module")
def ray_scorer() -> Iterator[RayScorer]:
    scorer = RayScorer(address=None, num_cpus=2, shard_size=SHARD)
    yield scorer
    scorer.close()


@pytest.fixture(scope="module")
def effect(retail_shop: Shop, settings: Settings) -> PurchaseEffect:
    return PurchaseEffect.load_or_train(retail_shop, settings)


@pytest.fixture(scope="module")
def products(effect: PurchaseEffect) -> list[str]:
    """The 20 products with most invoices in the shop's last 30 days."""
    return effect.recent_invoices.sort_values(ascending=False, kind="stable").index[:20].astype(str).tolist()


def test_propensity_on_ray_equals_local_and_the_ranker(ray_scorer: RayScorer, effect: PurchaseEffect,
                                                       products: list[str]) -> None:
    progress: list[tuple[int, int]] = []
    on_ray = score_propensity(ray_scorer, effect, products, progress=lambda d, t: progress.append((d, t)))
    local = score_propensity(LocalScorer(SHARD), effect, products)
    assert ray_scorer.workers() == 2
    assert len(local) == len(effect.customer_ids) > 4000 and list(local.columns) == products
    pd.testing.assert_frame_equal(on_ray, local, check_exact=True)
    assert progress[-1] == (len(local), len(local)) and len(progress) == -(-len(local) // SHARD)
    sample = local.index[::97].tolist()
    whole = effect.ranker.score(np.repeat(sample, len(products)).tolist(), np.tile(products, len(sample)).tolist())
    assert np.allclose(local.loc[sample].to_numpy().ravel(), whole, rtol=0, atol=1e-12)
    assert ((local.to_numpy() > 0) & (local.to_numpy() < 1)).all()


@pytest.mark.parametrize("which", ["retail", "movielens"])
def test_recommendations_on_ray_equal_local_and_the_recommend_tool(
    ray_scorer: RayScorer, which: str, retail_shop: Shop, shop: Shop, settings: Settings
) -> None:
    tool = RecommendTool.fit(retail_shop if which == "retail" else shop, settings)
    on_ray = score_recommendations(ray_scorer, tool, k=10)
    local = score_recommendations(LocalScorer(SHARD), tool, k=10)
    pd.testing.assert_frame_equal(on_ray, local, check_exact=True)
    assert local["customer_id"].nunique() == len(tool.matrix.customer_ids)
    for customer in local["customer_id"].unique()[::150]:
        mine = local[local["customer_id"] == customer]
        theirs = tool.score(RecommendRequest(customer_ids=[customer], k=10)).products
        assert mine["product_id"].tolist() == [p.product_id for p in theirs]
        # one row against a shard of rows: the models' float32 matrix products round differently in the last bits
        assert np.allclose(mine["score"], [p.score for p in theirs], rtol=0, atol=1e-6)
