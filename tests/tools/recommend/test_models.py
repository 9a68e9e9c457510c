"""Every recommender on a held-out split of the real MovieLens-100k ratings, and the models' algebra by hand."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tools.recommend.content import CONTENT_KINDS, ContentRecommender, ItemContent
from tools.recommend.factor_models import ALSRecommender, BPRRecommender
from tools.recommend.hybrid import HybridRecommender, normalise_rows
from tools.recommend.interactions import InteractionMatrix
from tools.recommend.metrics import recommenders_metrics, stratified_split_mask, to_matrix
from tools.recommend.recommenders import (
    EASERecommender,
    ItemKNNRecommender,
    PopularityRecommender,
    UserKNNRecommender,
    mask_seen_items,
    top_k,
)


@pytest.fixture(scope="module")
def split(shop) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    coo = InteractionMatrix.from_shop(shop).implicit.tocoo()
    train = stratified_split_mask(coo.col, 0.75, seed=7)
    return to_matrix(coo.row[train], coo.col[train], coo.shape), to_matrix(coo.row[~train], coo.col[~train], coo.shape)


@pytest.fixture(scope="module")
def content(shop, settings) -> ItemContent:
    return ItemContent.build(shop.products, settings)


def ndcg(scores: np.ndarray, train: sp.csr_matrix, test: sp.csr_matrix) -> float:
    return recommenders_metrics(top_k(mask_seen_items(scores, train), 10), test, train)["ndcg"]


@pytest.fixture(scope="module")
def random_ndcg(split) -> float:
    """The highest nDCG@10 of five random rankings (a method must beat them all, by a margin)."""
    train, test = split
    return max(ndcg(np.random.default_rng(seed).random(train.shape), train, test) for seed in range(5))


def fitted(name: str, content: ItemContent):
    models = {
        "popularity": PopularityRecommender, "item_knn": ItemKNNRecommender, "user_knn": UserKNNRecommender,
        "ease": EASERecommender, "als": ALSRecommender, "bpr": BPRRecommender,
        **{f"content_{k}": (lambda k=k: ContentRecommender(content, k)) for k in CONTENT_KINDS},
    }  # fmt: skip
    return models[name]()


@pytest.mark.parametrize(
    ("name", "factor"),
    [("popularity", 5), ("item_knn", 10), ("user_knn", 10), ("ease", 10), ("als", 10), ("bpr", 5),
     ("content_embedding", 1.5), ("content_keywords", 2), ("content_genres", 1.2)],
)  # fmt: skip
def test_each_method_beats_random_on_held_out_ratings(name, factor, split, content, random_ndcg) -> None:
    train, test = split
    model = fitted(name, content).fit(train)
    scores = model.score_users(np.arange(train.shape[0]))
    assert np.isneginf(scores[train.nonzero()]).all()  # seen items are masked
    got = ndcg(scores, train, test)
    print(f"{name}: nDCG@10 {got:.4f} vs random {random_ndcg:.4f}")
    assert got > factor * random_ndcg


def test_hybrid_learns_on_train_only_and_beats_its_members(split, content, random_ndcg, tmp_path) -> None:
    train, test = split
    members = [PopularityRecommender(), ItemKNNRecommender(), EASERecommender(), ContentRecommender(content, "genres")]
    hybrid = HybridRecommender(members, seed=3, passes=1, cache_dir=tmp_path).fit(train)
    weights = hybrid.validation_.weights
    assert weights["ease"] > 0 and hybrid.validation_.hybrid_ndcg >= max(hybrid.validation_.member_ndcg.values())
    got = ndcg(hybrid.score_users(np.arange(train.shape[0])), train, test)
    single = ndcg(EASERecommender().fit(train).score_users(np.arange(train.shape[0])), train, test)
    print(f"hybrid {got:.4f} (weights {weights}), EASE alone {single:.4f}")
    assert got > 10 * random_ndcg and got > single - 0.01
    # The same training data and members read the learned weights back from the cache.
    again = HybridRecommender(members, seed=3, passes=1, cache_dir=tmp_path).fit(train)
    assert again.validation_.cached and again.validation_.weights == weights
    np.testing.assert_allclose(again.score_users(np.arange(5)), hybrid.score_users(np.arange(5)))


def test_ease_solves_its_closed_form() -> None:
    x = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 0, 1, 0], [1, 1, 1, 0], [0, 0, 1, 1], [0, 1, 0, 1]], float))
    b = EASERecommender(l2=2.0).fit(x).weights_
    gram = (x.T @ x).toarray() + 2.0 * np.eye(4)
    # EASE minimises ‖X − XB‖² + λ‖B‖² with diag(B) = 0: its KKT conditions say (XᵀX + λI)B − XᵀX is diagonal.
    assert np.allclose(np.diag(b), 0.0)
    residual = gram @ b - (x.T @ x).toarray()
    assert np.allclose(residual - np.diag(np.diag(residual)), 0.0)
    scores = EASERecommender(l2=2.0).fit(x).score_users(np.array([0]), mask_seen=False)
    np.testing.assert_allclose(scores, x[[0]].toarray() @ b)


def test_user_knn_by_hand() -> None:
    x = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 1], [1, 1, 1]], float))
    model = UserKNNRecommender(n_neighbours=1, shrinkage=0.0).fit(x)
    # user norms √2, √2, √3; overlaps (0,1)=1, (0,2)=2, (1,2)=2 → cos 1/2, 2/√6, 2/√6: everyone's best is
    # another user; user 0's best neighbour is user 2, who rated item 2 → score 2/√6 for item 2 only.
    scores = model.score_users(np.array([0]), mask_seen=False)
    np.testing.assert_allclose(scores, [[2 / np.sqrt(6)] * 3])
    masked = model.score_users(np.array([0]))
    assert np.isneginf(masked[0, :2]).all() and masked[0, 2] == pytest.approx(2 / np.sqrt(6))


def test_normalise_rows_ignores_masked_items() -> None:
    scaled, span = normalise_rows(np.array([[2.0, -np.inf, 4.0, 3.0], [1.0, 1.0, 1.0, 1.0]]))
    np.testing.assert_allclose(scaled, [[0.0, 0.0, 1.0, 0.5], [0.0, 0.0, 0.0, 0.0]])
    np.testing.assert_allclose(span, [2.0, 0.0])


def test_scores_for_a_subset_of_users_equal_the_full_rows(split, content) -> None:
    train, _ = split
    users = np.array([5, 0, 17])
    for model in (UserKNNRecommender().fit(train), ContentRecommender(content, "keywords").fit(train)):
        full = model.score_users(np.arange(train.shape[0]))
        np.testing.assert_allclose(model.score_users(users), full[users])
