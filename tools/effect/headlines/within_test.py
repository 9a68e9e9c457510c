"""A click model fitted on A/B-test counts within each test: the conditional (fixed-effect) Poisson likelihood.

In a test, arm j got n_j impressions and c_j clicks. If clicks are Poisson with rate n_j·exp(α_test + x_j·β),
then given the test's total clicks C the clicks split multinomially with probabilities ∝ n_j·exp(x_j·β): the
test's own level α_test cancels, so only differences between arms of one test inform β, and every impression
counts (counts, not ratios). β is fitted by ridge-penalised maximum likelihood (L-BFGS); its approximate
posterior covariance (inverse penalised Hessian, Laplace) gives intervals for x·β.

Hand-written because scikit-learn has no conditional likelihood (a GLM with test dummies would shrink the test
effects with the same penalty) and statsmodels, not a dependency, has no ridge-penalised conditional Poisson.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize


def _group_index(groups: np.ndarray) -> tuple[np.ndarray, int]:
    codes = np.unique(np.asarray(groups), return_inverse=True)[1]
    return codes, int(codes.max()) + 1 if codes.size else 0


def within_test_log_likelihood(
    beta: np.ndarray, x: np.ndarray, clicks: np.ndarray, impressions: np.ndarray, groups: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """Return the conditional log-likelihood, its gradient, and each arm's within-test click share.

    Args:
        beta: Coefficients (features,).
        x: Features of each arm (arms × features).
        clicks: Clicks per arm.
        impressions: Impressions per arm (> 0).
        groups: Test id per arm.
    """
    codes, n_groups = _group_index(groups)
    eta = x @ beta + np.log(impressions)
    top = np.full(n_groups, -np.inf)
    np.maximum.at(top, codes, eta)
    scaled = np.exp(eta - top[codes])
    total = np.bincount(codes, weights=scaled, minlength=n_groups)
    share = scaled / total[codes]
    group_clicks = np.bincount(codes, weights=clicks, minlength=n_groups)
    ll = float(clicks @ eta - group_clicks @ (np.log(total) + top))
    return ll, x.T @ (clicks - group_clicks[codes] * share), share


@dataclass
class WithinTestPoisson:
    """Ridge-penalised conditional Poisson model of clicks across the arms of A/B tests.

    Attributes:
        penalty: λ of the penalty λ·‖β‖².
        coef: Fitted β (set by :meth:`fit`).
        covariance: Approximate posterior covariance of β: inverse of the penalised Hessian.
    """

    penalty: float = 1e4
    coef: np.ndarray | None = None
    covariance: np.ndarray | None = None

    def fit(self, x: np.ndarray, clicks: np.ndarray, impressions: np.ndarray, groups: np.ndarray) -> WithinTestPoisson:
        """Fit β on arms grouped by test; tests with one arm carry no information and may be included.

        Raises:
            ValueError: Shapes disagree, impressions are not positive, or there are no clicks.
            RuntimeError: The optimiser did not converge.
        """
        x, clicks, impressions = np.asarray(x, float), np.asarray(clicks, float), np.asarray(impressions, float)
        if not x.shape[0] == clicks.size == impressions.size == len(groups):
            raise ValueError("x, clicks, impressions and groups must describe the same arms")
        if (impressions <= 0).any() or (clicks < 0).any() or clicks.sum() == 0:
            raise ValueError("impressions must be positive and clicks non-negative, with at least one click")

        def objective(beta: np.ndarray) -> tuple[float, np.ndarray]:
            ll, grad, _ = within_test_log_likelihood(beta, x, clicks, impressions, groups)
            return -ll + self.penalty * beta @ beta, -grad + 2 * self.penalty * beta

        result = minimize(objective, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": 5000})
        if not result.success:
            raise RuntimeError(f"within-test Poisson fit did not converge: {result.message}")
        self.coef = result.x
        hessian = self._hessian(x, clicks, impressions, groups)
        self.covariance = np.linalg.inv(hessian + 2 * self.penalty * np.eye(x.shape[1]))
        return self

    def _hessian(self, x: np.ndarray, clicks: np.ndarray, impressions: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """Return the Hessian of the negative log-likelihood at ``coef``: Σ_tests C·Cov_share(x)."""
        assert self.coef is not None
        _, _, share = within_test_log_likelihood(self.coef, x, clicks, impressions, groups)
        codes, n_groups = _group_index(groups)
        group_clicks = np.bincount(codes, weights=clicks, minlength=n_groups)[codes]
        mean = np.zeros((n_groups, x.shape[1]))
        np.add.at(mean, codes, share[:, None] * x)
        centred = x - mean[codes]
        return (centred * (group_clicks * share)[:, None]).T @ centred

    def score(self, x: np.ndarray) -> np.ndarray:
        """Return x·β, the log of the relative click-through rate (comparable within any set of headlines)."""
        if self.coef is None:
            raise RuntimeError("the model is not fitted")
        return np.asarray(x, float) @ self.coef

    def score_sd(self, x: np.ndarray) -> np.ndarray:
        """Return the approximate posterior standard deviation of x·β per row."""
        if self.covariance is None:
            raise RuntimeError("the model is not fitted")
        x = np.asarray(x, float)
        return np.sqrt(np.einsum("ij,jk,ik->i", x, self.covariance, x))
