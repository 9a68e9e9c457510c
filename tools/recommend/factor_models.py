"""Matrix-factorisation recommenders (ALS and BPR from the ``implicit`` package, on the CPU).

Same interface as the models of :mod:`tools.recommend.recommenders` (``fit(matrix)``, ``score_users(user_idx,
mask_seen)``): the score of a customer for a product is the dot product of their latent factors.
"""

from __future__ import annotations

import os
from typing import Self

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from tools.recommend.recommenders import mask_seen_items

#: Threads for the ``implicit`` models: the machine's cores, at most 4 (ALS gains little beyond that here).
IMPLICIT_THREADS = max(1, min(4, os.cpu_count() or 1))


class _ImplicitFactors:
    """Shared fitting and scoring of the ``implicit`` matrix-factorisation models (CPU)."""

    name = "factors"

    def _model(self) -> object:
        raise NotImplementedError

    def fit(self, matrix: sp.csr_matrix) -> Self:
        """Fit the factor model; BLAS is kept single-threaded as ``implicit`` recommends."""
        self.matrix_ = sp.csr_matrix(matrix, dtype=np.float32)
        with threadpool_limits(1, "blas"):
            model = self._model()
            model.fit(self.matrix_, show_progress=False)  # type: ignore[attr-defined]
        self.user_factors_ = np.asarray(model.user_factors)  # type: ignore[attr-defined]
        self.item_factors_ = np.asarray(model.item_factors)  # type: ignore[attr-defined]
        return self

    def score_users(self, user_idx: np.ndarray, mask_seen: bool = True) -> np.ndarray:
        """Return the dot products of the users' and all items' factors."""
        user_idx = np.asarray(user_idx)
        scores = (self.user_factors_[user_idx] @ self.item_factors_.T).astype(np.float64)
        return mask_seen_items(scores, self.matrix_[user_idx]) if mask_seen else scores


class ALSRecommender(_ImplicitFactors):
    """Implicit-feedback ALS (Hu, Koren & Volinsky 2008) from the ``implicit`` package."""

    name = "als"

    def __init__(
        self, factors: int = 16, regularization: float = 0.1, alpha: float = 1.0, iterations: int = 15, seed: int = 42
    ) -> None:
        """Configure the model (defaults: best factor count on a validation split carved from train).

        Args:
            factors: Latent dimensions.
            regularization: L2 penalty.
            alpha: Confidence scaling of observed entries.
            iterations: ALS sweeps.
            seed: Random seed of the initial factors.
        """
        self.params = {"factors": factors, "regularization": regularization, "alpha": alpha, "iterations": iterations}
        self.seed = seed

    def _model(self) -> object:
        from implicit.cpu.als import AlternatingLeastSquares

        return AlternatingLeastSquares(**self.params, random_state=self.seed, num_threads=IMPLICIT_THREADS)


class BPRRecommender(_ImplicitFactors):
    """Bayesian personalised ranking (Rendle et al. 2009) from the ``implicit`` package.

    ``implicit`` draws negative items in proportion to their popularity (benfred/implicit#255), unlike the
    uniform sampling of the paper and of Cornac's BPR used in the Recommenders benchmark, which costs it
    accuracy on MovieLens. It runs on one thread: its Hogwild updates are not reproducible across threads.
    """

    name = "bpr"

    def __init__(
        self,
        factors: int = 64,
        learning_rate: float = 0.01,
        regularization: float = 0.01,
        iterations: int = 50,
        seed: int = 42,
    ) -> None:
        """Configure the model (50 epochs were best on a validation split carved from train; more overfit).

        Args:
            factors: Latent dimensions.
            learning_rate: SGD step.
            regularization: L2 penalty.
            iterations: Epochs over the observed entries.
            seed: Random seed of the initialisation and sampling.
        """
        self.params = {
            "factors": factors,
            "learning_rate": learning_rate,
            "regularization": regularization,
            "iterations": iterations,
        }
        self.seed = seed

    def _model(self) -> object:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        return BayesianPersonalizedRanking(
            **self.params, random_state=self.seed, num_threads=1, verify_negative_samples=True
        )
