"""A hybrid recommender: per-customer normalised scores of several models, mixed with learned weights.

Weights are learned on a validation split carved from the data the hybrid is fitted on (never from a test
split): the interactions are split 75/25 per product exactly like the Recommenders benchmark's
``python_stratified_split``, every member is fitted on the 75 % and scores the customers, each customer's
scores of a member are min-max normalised over the products they have not seen, and coordinate search over a
small grid picks the weights with the best nDCG@10 on the held-out 25 %. The members are then refitted on all
the data. Learned weights can be cached in a folder, keyed by the data and the members' settings.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np
import scipy.sparse as sp

from agent.settings import Settings
from tools.recommend.content import CONTENT_KINDS, ContentRecommender, ItemContent
from tools.recommend.factor_models import ALSRecommender
from tools.recommend.metrics import ndcg_at_k, stratified_split_mask, to_matrix
from tools.recommend.recommenders import (
    EASERecommender,
    ItemKNNRecommender,
    NeighbourExplainer,
    PopularityRecommender,
    Recommender,
    UserKNNRecommender,
    mask_seen_items,
    top_k,
)

WEIGHT_GRID = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0)


def normalise_rows(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Min-max normalise each row over its finite entries (``-inf`` → 0); return it and the row ranges."""
    finite = np.isfinite(scores)
    low = np.where(finite, scores, np.inf).min(axis=1, keepdims=True)
    high = np.where(finite, scores, -np.inf).max(axis=1, keepdims=True)
    span = np.where(high > low, high - low, 0.0)
    scaled = np.divide(scores - low, span, out=np.zeros_like(scores), where=finite & (span > 0))
    return scaled, span.ravel()


@dataclass(frozen=True)
class HybridValidation:
    """What weight learning saw on the validation split.

    Attributes:
        weights: Learned weight of every member (0 = not used).
        member_ndcg: Validation nDCG@10 of every member alone.
        hybrid_ndcg: Validation nDCG@10 of the weighted mix.
        evaluations: Weight vectors tried.
        cached: The weights came from the cache (the other numbers are those of the run that learned them).
    """

    weights: dict[str, float]
    member_ndcg: dict[str, float]
    hybrid_ndcg: float
    evaluations: int
    cached: bool = False


def _describe(member: Recommender) -> str:
    """Return a stable description of a member's settings (for the cache key)."""
    simple = {k: v for k, v in sorted(vars(member).items()) if isinstance(v, int | float | str | dict | tuple)}
    texts = getattr(getattr(member, "content", None), "texts", None)
    if texts is not None:
        simple["texts"] = hashlib.sha256("\n".join(texts).encode()).hexdigest()
    return f"{member.name}:{json.dumps(simple, sort_keys=True, default=str)}"


class HybridRecommender:
    """Weighted mix of normalised member scores, weights learned on a validation split of the training data."""

    name = "hybrid"

    def __init__(
        self,
        members: list[Recommender],
        seed: int = 42,
        validation_ratio: float = 0.75,
        grid: tuple[float, ...] = WEIGHT_GRID,
        passes: int = 2,
        k: int = 10,
        cache_dir: Path | None = None,
    ) -> None:
        """Configure the hybrid.

        Args:
            members: Models to mix (distinct names).
            seed: Seed of the validation split.
            validation_ratio: Share of every product's interactions kept for fitting during weight learning.
            grid: Weights tried for each member.
            passes: Coordinate-search sweeps over the members.
            k: Cut-off of the validation nDCG.
            cache_dir: Folder where learned weights are cached; None: always learn.
        """
        names = [m.name for m in members]
        if len(set(names)) != len(names) or not names:
            raise ValueError(f"members need distinct names, got {names}")
        self.members = members
        self.seed, self.validation_ratio, self.grid, self.passes, self.k = seed, validation_ratio, grid, passes, k
        self.cache_dir = cache_dir

    def _cache_file(self, matrix: sp.csr_matrix) -> Path | None:
        if self.cache_dir is None:
            return None
        digest = hashlib.sha256()
        for part in (matrix.indptr, matrix.indices, np.asarray(matrix.shape)):
            digest.update(np.ascontiguousarray(part, dtype=np.int64).tobytes())
        settings = [self.seed, self.validation_ratio, list(self.grid), self.passes, self.k]
        digest.update(json.dumps([settings, [_describe(m) for m in self.members]]).encode())
        return self.cache_dir / f"hybrid-{digest.hexdigest()[:20]}.json"

    def fit(self, matrix: sp.csr_matrix) -> Self:
        """Learn the weights (or read them from the cache), then fit the used members on all of ``matrix``."""
        matrix = sp.csr_matrix(matrix, dtype=np.float64)
        path = self._cache_file(matrix)
        if path is not None and path.is_file():
            stored = json.loads(path.read_text())
            self.validation_ = HybridValidation(**{**stored, "cached": True})
        else:
            self.validation_ = self.learn_weights(matrix)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps({**vars(self.validation_), "cached": False}, indent=1))
        self.weights_ = {m.name: self.validation_.weights[m.name] for m in self.members}
        self.used_ = [m.fit(matrix) for m in self.members if self.weights_[m.name] > 0]
        self.matrix_ = matrix
        return self

    def learn_weights(self, matrix: sp.csr_matrix) -> HybridValidation:
        """Carve a validation split from ``matrix`` and search the member weights on it."""
        coo = matrix.tocoo()
        keep = stratified_split_mask(coo.col, self.validation_ratio, self.seed)
        fit = to_matrix(coo.row[keep], coo.col[keep], matrix.shape)
        held = to_matrix(coo.row[~keep], coo.col[~keep], matrix.shape)
        users = np.flatnonzero(np.diff(held.indptr) > 0)
        truth, unknown_items = held[users], np.diff(fit.tocsc().indptr) == 0
        scores = {}
        for member in self.members:
            normalised, _ = normalise_rows(member.fit(fit).score_users(users, mask_seen=True))
            normalised[:, unknown_items] = 0.0
            scores[member.name] = normalised
        seen = fit[users]

        def quality(weights: dict[str, float]) -> float:
            mixed = sum(w * scores[n] for n, w in weights.items() if w > 0)
            mixed = mask_seen_items(np.asarray(mixed, dtype=np.float64), seen)
            mixed[:, unknown_items] = -np.inf
            return ndcg_at_k(top_k(mixed, self.k), truth)

        alone = {n: quality({n: 1.0}) for n in scores}
        best = max(alone, key=alone.__getitem__)
        weights = {n: float(n == best) for n in scores}
        current, tried = alone[best], len(alone)
        for _ in range(self.passes):
            for name in scores:
                for value in self.grid:
                    trial = {**weights, name: value}
                    if value == weights[name] or not any(trial.values()):
                        continue
                    tried += 1
                    result = quality(trial)
                    if result > current + 1e-9:
                        current, weights = result, trial
        return HybridValidation(weights, alone, current, tried)

    def score_users(self, user_idx: np.ndarray, mask_seen: bool = True) -> np.ndarray:
        """Return the weighted sum of the members' normalised scores (seen items ``-inf`` if ``mask_seen``)."""
        user_idx = np.asarray(user_idx)
        total = np.zeros((user_idx.size, self.matrix_.shape[1]))
        for member in self.used_:
            normalised, _ = normalise_rows(member.score_users(user_idx, mask_seen))
            total += self.weights_[member.name] * normalised
        return mask_seen_items(total, self.matrix_[user_idx]) if mask_seen else total

    def item_contributions(
        self, user_idx: np.ndarray, row_weights: np.ndarray, evidence: sp.csr_matrix, items: np.ndarray
    ) -> np.ndarray:
        """Sum the explainable members' contributions, each scaled as in the mix (weight / the user's range)."""
        user_idx = np.asarray(user_idx)
        total = np.zeros((self.matrix_.shape[1], np.asarray(items).size))
        for member in self.used_:
            if not isinstance(member, NeighbourExplainer):
                continue
            _, span = normalise_rows(member.score_users(user_idx, mask_seen=True))
            scale = np.divide(self.weights_[member.name], span, out=np.zeros(span.size), where=span > 0)
            total += member.item_contributions(user_idx, row_weights * scale, evidence, items)
        return total


def default_hybrid(content: ItemContent, settings: Settings) -> HybridRecommender:
    """Return the hybrid the tool uses: popularity, item/user-kNN, EASE, ALS and the three content views."""
    members: list[Recommender] = [
        PopularityRecommender(), ItemKNNRecommender(), UserKNNRecommender(), EASERecommender(),
        ALSRecommender(seed=settings.seed), *(ContentRecommender(content, kind) for kind in CONTENT_KINDS),
    ]  # fmt: skip
    return HybridRecommender(members, seed=settings.seed, cache_dir=settings.models_dir / "recommend")


def find_content(model: Recommender) -> ItemContent | None:
    """Return the content views a (hybrid) model already built, so the tool does not rebuild them."""
    if isinstance(getattr(model, "content", None), ItemContent):
        return model.content  # type: ignore[attr-defined]
    for member in getattr(model, "members", []):
        if isinstance(getattr(member, "content", None), ItemContent):
            return member.content
    return None
