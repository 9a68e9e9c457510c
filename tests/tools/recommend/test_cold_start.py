"""Cold start on the real shop: brand-new customers and brand-new products."""

from __future__ import annotations

import re

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.stats import rankdata

from tools.recommend import RecommendRequest, RecommendTool
from tools.recommend.cold_start import ColdStart
from tools.recommend.content import ItemContent
from tools.recommend.hybrid import normalise_rows
from tools.recommend.interactions import InteractionMatrix
from tools.recommend.metrics import ndcg_at_k, stratified_split_mask, to_matrix
from tools.recommend.recommenders import EASERecommender, mask_seen_items, top_k
from tools.shop import Product


@pytest.fixture(scope="module")
def tool(shop, settings) -> RecommendTool:
    return RecommendTool.fit(shop, settings)


@pytest.fixture()
def fresh_tool(shop, settings, tool) -> RecommendTool:
    """A new tool around the fitted model (adding products changes a tool)."""
    return RecommendTool(shop, tool.model, tool.matrix, settings)


@pytest.fixture(scope="module")
def split(shop) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    coo = InteractionMatrix.from_shop(shop).implicit.tocoo()
    train = stratified_split_mask(coo.col, 0.75, seed=11)
    return to_matrix(coo.row[train], coo.col[train], coo.shape), to_matrix(coo.row[~train], coo.col[~train], coo.shape)


def genres_of(shop, product_ids: list[str]) -> set[str]:
    products = shop.products.set_index("product_id")
    return {g for pid in product_ids for g in products.at[pid, "genres"]}


def test_new_customer_with_liked_products(shop, tool) -> None:
    liked = ["50", "172", "181"]  # Star Wars, The Empire Strikes Back, Return of the Jedi
    result = tool.score(RecommendRequest(customer_ids=["brand-new"], k=10, liked_product_ids=liked))
    assert result.method == "cold_start" and result.unknown_customer_ids == ["brand-new"]
    assert len(result.products) == 10 and not {p.product_id for p in result.products} & set(liked)
    popular = tool.score(RecommendRequest(customer_ids=["brand-new"], k=10))
    assert [p.product_id for p in result.products] != [p.product_id for p in popular.products]
    taste, titles = genres_of(shop, liked), {"Star Wars (1977)", "Empire Strikes Back, The (1980)",
                                             "Return of the Jedi (1983)"}  # fmt: skip
    for product in result.products:
        by_taste = re.fullmatch(r"matches your taste for (.+)", product.reason)
        by_liked = re.fullmatch(r"because you liked (.+)", product.reason)
        if by_taste:
            assert by_taste.group(1) in taste and by_taste.group(1) in product.genres
        elif by_liked:
            assert by_liked.group(1) in titles
        else:
            assert product.reason.startswith("popular with all customers")
    assert any(p.reason.startswith("because you liked") for p in result.products)


def test_new_customer_with_interests_and_a_genre_filter(tool) -> None:
    result = tool.score(RecommendRequest(customer_ids=["new-2"], k=5, interests="dark film noir detective stories",
                                         genres=["Film-Noir"]))  # fmt: skip
    assert result.method == "cold_start" and len(result.products) == 5
    assert all("Film-Noir" in p.genres for p in result.products)
    assert all(p.reason == "matches your taste for Film-Noir" for p in result.products)
    with pytest.raises(ValueError, match="liked_product_ids not in the rated catalog"):
        tool.score(RecommendRequest(customer_ids=["new-3"], liked_product_ids=["no-such-product"]))


def test_cold_start_beats_popularity_on_held_out_customers(shop, settings, split) -> None:
    """Known customers pretend to be new: they reveal 3 train products; their test products are the truth."""
    train, test = split
    cold = ColdStart(ItemContent.build(shop.products, settings), seed=5).fit(train)
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    rng = np.random.default_rng(5)
    picks = np.concatenate([rng.choice(train[u].indices, 3, replace=False) for u in users])
    revealed = sp.csr_matrix((np.ones(picks.size), (np.repeat(np.arange(users.size), 3), picks)),
                             shape=(users.size, train.shape[1]))  # fmt: skip

    def ndcg(scores: np.ndarray) -> float:
        return ndcg_at_k(top_k(mask_seen_items(scores, train[users]), 10), test[users])

    popular = ndcg(normalise_rows(np.tile(cold.counts_, (users.size, 1)))[0])
    content_only = ndcg(cold.taste_scores(revealed))
    blended = ndcg(cold.score(revealed))
    chance = ndcg(np.random.default_rng(0).random(revealed.shape))
    print(f"held-out new customers: blend {blended:.4f} (weights {cold.weights_}), popularity {popular:.4f}, "
          f"content only {content_only:.4f}, random {chance:.4f}")  # fmt: skip
    assert cold.weights_["fold_in"] > 0 and sum(cold.weights_.values()) == pytest.approx(1.0)
    assert content_only > 1.5 * chance
    assert blended > popular + 0.02  # three liked products are worth more than popularity alone


def test_new_product_is_placed_and_recommended(shop, fresh_tool) -> None:
    tool = fresh_tool
    product = Product(product_id="new-1", title="Alien Planet: The Return", year=1998, genres=["Horror", "Sci-Fi"])
    placement = tool.add_product(product)
    neighbours = tool.catalog.iloc[placement.neighbours]
    assert placement.weights.sum() == pytest.approx(1.0) and (np.diff(placement.similarity) <= 0).all()
    assert all({"Horror", "Sci-Fi"} & set(g) for g in neighbours["genres"])
    # Customers who liked the closest neighbours score it higher than other customers do, and it reaches
    # their sci-fi picks with a reason naming a neighbour.
    liked = shop.interactions[shop.interactions["product_id"].isin(neighbours.index[:5])
                              & (shop.interactions["rating"] >= 4)]  # fmt: skip
    fans = list(liked["customer_id"].value_counts().index[:20])
    others = [c for c in shop.customers["customer_id"] if c not in set(liked["customer_id"])][:20]

    def score_of_new(group: list[str]) -> float:
        request = RecommendRequest(customer_ids=group, k=100, genres=["Horror"], exclude_seen=False)
        return next(p.score for p in tool.score(request).products if p.product_id == "new-1")

    assert score_of_new(fans) > score_of_new(others)
    customer = fans[0]
    result = tool.score(RecommendRequest(customer_ids=[customer], k=50, genres=["Sci-Fi"]))
    ours = [p for p in result.products if p.product_id == "new-1"]
    assert ours and ours[0].reason.startswith("new in the catalog and similar to")
    excluded = tool.score(RecommendRequest(customer_ids=[customer], k=50, genres=["Sci-Fi"],
                                           exclude_product_ids=["new-1"]))  # fmt: skip
    assert "new-1" not in [p.product_id for p in excluded.products]
    with pytest.raises(ValueError, match="already in the catalog"):
        tool.add_product(product)


def test_placement_ranks_the_real_raters_of_hidden_products_first(shop, settings, split) -> None:
    """Hide 15 rated products, place them by content: their scores separate their raters (AUC > 0.6)."""
    train, test = split
    hidden = np.random.default_rng(3).choice(np.flatnonzero(np.diff(train.tocsc().indptr) >= 30), 15, replace=False)
    visible = sp.csr_matrix(train @ sp.diags(np.isin(np.arange(train.shape[1]), hidden, invert=True).astype(float)))
    visible.eliminate_zeros()
    base, _ = normalise_rows(EASERecommender().fit(visible).score_users(np.arange(train.shape[0]), mask_seen=False))
    cold = ColdStart(ItemContent.build(shop.products, settings), n_neighbours=40)
    aucs = []
    for item in hidden:
        row = shop.products.iloc[item]
        placement = cold.place(row["title"], None, list(row["genres"]))
        keep = ~np.isin(placement.neighbours, hidden)
        score = base[:, placement.neighbours[keep]] @ placement.weights[keep]
        rated = (train[:, item] + test[:, item]).toarray().ravel() > 0
        ranks = rankdata(score)
        aucs.append((ranks[rated].sum() - rated.sum() * (rated.sum() + 1) / 2) / (rated.sum() * (~rated).sum()))
    print(f"placement AUC per hidden product: mean {np.mean(aucs):.3f}, min {np.min(aucs):.3f}")
    assert np.mean(aucs) > 0.6
