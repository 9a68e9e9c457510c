"""Off-policy evaluation: the value of a recommendation policy estimated from another policy's logs.

Estimators (each returns a point estimate; :func:`estimate_all` adds a bootstrap confidence interval):

* DM — mean over logged rounds of Σ_a π_e(a | x, slot) q̂(x, a, slot);
* IPW — mean of w·r with the importance weight w = π_e(a_i | slot_i) / π_b(a_i | x_i, slot_i);
* SNIPW — IPW divided by the mean weight;
* DR — DM plus the weighted residual w·(r − q̂(x, a_i, slot_i)); SNDR divides that term by the mean weight;
* Switch-DR — DR that drops the residual where w > λ; DR-os — DR with the shrunk weight λw / (w² + λ);
  λ of both is chosen by SLOPE (Su et al. 2020; Tucker & Lee 2021) from a candidate list.

obp (zr-obp) implements all of this but requires python<3.11 and cannot be installed here, so the estimators,
the cross-fitted reward model and SLOPE are written by hand after obp 0.5.7's definitions (obp.ope.estimators,
obp.ope.regression_model, obp.ope.estimators_tuning); tests check them on cases with known answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import KFold

from tools.effect.bandit.logs import BanditLog

ESTIMATORS = ("dm", "ipw", "snipw", "dr", "sndr", "switch-dr", "dr-os")
# Candidate λ for Switch-DR and DR-os: the list obp's own OBD/benchmark scripts pass to the *Tuning estimators.
LAMBDAS = (10.0, 50.0, 100.0, 500.0, 1e3, 5e3, 1e4, 5e4, 1e5, 5e5, np.inf)
SLOPE_DELTA = 0.1  # obp's default confidence level of the SLOPE intervals
SLOPE_C = np.sqrt(6) - 1  # SLOPE++ constant, as in obp


@dataclass(frozen=True)
class RoundTerms:
    """Per-round quantities every estimator is a function of.

    Attributes:
        reward: Observed reward r_i.
        weight: Importance weight w_i = π_e(a_i | slot_i) / π_b(a_i | x_i, slot_i).
        dm: Σ_a π_e(a | slot_i) q̂(x_i, a, slot_i), the model's value of the evaluation policy in round i.
        residual: r_i − q̂(x_i, a_i, slot_i) (zeros when there is no reward model).
    """

    reward: np.ndarray
    weight: np.ndarray
    dm: np.ndarray
    residual: np.ndarray

    @classmethod
    def build(
        cls,
        reward: np.ndarray,
        action: np.ndarray,
        position: np.ndarray,
        pscore: np.ndarray,
        action_dist: np.ndarray,
        q_hat: np.ndarray | None = None,
    ) -> RoundTerms:
        """Compute the terms from logged data.

        Args:
            reward: Rewards, shape (n,).
            action: Logged actions, shape (n,).
            position: Logged slots (0-based), shape (n,).
            pscore: Logging probabilities of the logged (action, slot), shape (n,).
            action_dist: Evaluation policy, (n_actions, len_list) for a context-free policy or
                (n, n_actions, len_list) per round; each slot's column sums to 1.
            q_hat: Reward model predictions (n, n_actions, len_list), or None (DM terms are then 0).
        """
        n = reward.shape[0]
        rows = np.arange(n)
        pi = action_dist[:, position].T if action_dist.ndim == 2 else action_dist[rows, :, position]  # (n, A)
        if not np.allclose(pi.sum(axis=1), 1.0, atol=1e-6):
            raise ValueError("action_dist must be a probability distribution over actions in every slot")
        if (pscore <= 0).any():
            raise ValueError("pscore must be positive: the logging policy never showed some logged action")
        weight = pi[rows, action] / pscore
        if q_hat is None:
            return cls(reward.astype(np.float64), weight, np.zeros(n), np.zeros(n))
        q_slot = q_hat[rows, :, position]
        return cls(reward.astype(np.float64), weight, (pi * q_slot).sum(axis=1), reward - q_slot[rows, action])

    def take(self, rows: np.ndarray) -> RoundTerms:
        """Return the terms of a subset (or bootstrap resample) of rounds."""
        return RoundTerms(self.reward[rows], self.weight[rows], self.dm[rows], self.residual[rows])


def dr_round_rewards(terms: RoundTerms, shrunk_weight: np.ndarray) -> np.ndarray:
    """Return DM + shrunk_weight × residual per round (the DR family)."""
    return terms.dm + shrunk_weight * terms.residual


def switch_weight(weight: np.ndarray, lam: float) -> np.ndarray:
    """Return Switch-DR's weight: w where w ≤ λ, else 0."""
    return np.where(weight <= lam, weight, 0.0)


def shrink_weight(weight: np.ndarray, lam: float) -> np.ndarray:
    """Return DR-os's optimistically shrunk weight λw / (w² + λ) (w itself for λ = ∞)."""
    return weight if np.isinf(lam) else lam * weight / (weight**2 + lam)


def slope_select(terms: RoundTerms, shrink: Callable[[np.ndarray, float], np.ndarray], lambdas=LAMBDAS) -> float:
    """Choose λ by SLOPE: the widest-to-narrowest walk that stops at the first inconsistent estimate.

    Each candidate's estimate θ_k gets a one-sided Student-t half-width c_k (level ``SLOPE_DELTA``).
    Candidates are visited from the widest interval to the narrowest; a candidate is accepted while
    |θ_j − θ_k| ≤ c_k + C·c_j for every accepted j; the last accepted one is returned.
    """
    theta, width = [], []
    for lam in lambdas:
        rounds = dr_round_rewards(terms, shrink(terms.weight, lam))
        n = rounds.size
        theta.append(rounds.mean())
        width.append(np.sqrt(rounds.var() / (n - 1)) * stats.t(n - 1).ppf(1.0 - SLOPE_DELTA))
    order = np.argsort(width, kind="stable")[::-1]
    accepted: list[int] = []
    for k in order:
        if accepted and not all(abs(theta[j] - theta[k]) <= width[k] + SLOPE_C * width[j] for j in accepted):
            break
        accepted.append(int(k))
    return float(lambdas[accepted[-1]])


def point_estimates(terms: RoundTerms, lambdas: dict[str, float]) -> dict[str, float]:
    """Return every estimator's value on ``terms`` (``lambdas``: the λ of switch-dr and dr-os)."""
    w, r, mean_w = terms.weight, terms.reward, terms.weight.mean()
    return {
        "dm": float(terms.dm.mean()),
        "ipw": float((w * r).mean()),
        "snipw": float((w * r).mean() / mean_w),
        "dr": float(dr_round_rewards(terms, w).mean()),
        "sndr": float(dr_round_rewards(terms, w / mean_w).mean()),
        "switch-dr": float(dr_round_rewards(terms, switch_weight(w, lambdas["switch-dr"])).mean()),
        "dr-os": float(dr_round_rewards(terms, shrink_weight(w, lambdas["dr-os"])).mean()),
    }


def tuned_lambdas(terms: RoundTerms) -> dict[str, float]:
    """Return the SLOPE-chosen λ of Switch-DR and DR-os."""
    return {"switch-dr": slope_select(terms, switch_weight), "dr-os": slope_select(terms, shrink_weight)}


def estimate_all(
    terms: RoundTerms, n_bootstrap: int = 1000, level: float = 0.95, seed: int = 12345
) -> dict[str, dict[str, float]]:
    """Estimate the policy value with every estimator, each with a percentile bootstrap interval.

    The rounds are resampled with replacement; the reward model and the tuned λ stay fixed (as obp does).

    Returns:
        ``{estimator: {"value", "low", "high"}}`` plus ``"lambda"`` for switch-dr and dr-os.
    """
    lambdas = tuned_lambdas(terms)
    point = point_estimates(terms, lambdas)
    rng = np.random.default_rng(seed)
    n = terms.reward.size
    boot = [point_estimates(terms.take(rng.integers(0, n, n)), lambdas) for _ in range(n_bootstrap)]
    tail = 100 * (1 - level) / 2
    out: dict[str, dict[str, float]] = {}
    for name in ESTIMATORS:
        low, high = np.percentile([b[name] for b in boot], [tail, 100 - tail])
        out[name] = {"value": point[name], "low": float(low), "high": float(high)}
        if name in lambdas:
            out[name]["lambda"] = lambdas[name]
    return out


def reward_features(log: BanditLog, action: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Return obp's regression features of rounds ``rows`` shown ``action``: user context then item context."""
    return np.column_stack([log.context[rows], log.action_context[action]])


def cross_fit_rewards(log: BanditLog, base_model: BaseEstimator, n_folds: int = 3, seed: int = 12345) -> np.ndarray:
    """Estimate q̂(x, a, slot) for every logged round, every action and slot, by K-fold cross-fitting.

    As obp's ``RegressionModel.fit_predict``: one classifier per slot on [user context, item context of the shown
    item]; each fold's rounds are predicted by the models fitted on the other folds (shuffled ``KFold``).

    Returns:
        Array (n_rounds, n_actions, len_list) of predicted click probabilities.
    """
    n, n_actions, len_list = log.n_rounds, log.n_actions, log.len_list
    q_hat = np.zeros((n, n_actions, len_list))
    for train, test in KFold(n_splits=n_folds, shuffle=True, random_state=seed).split(np.arange(n)):
        for slot in range(len_list):
            fit_rows = train[log.position[train] == slot]
            if np.unique(log.reward[fit_rows]).size < 2:
                raise ValueError(f"slot {slot} of a training fold has no click (or no miss): cannot fit a reward model")
            model = clone(base_model).fit(reward_features(log, log.action[fit_rows], fit_rows), log.reward[fit_rows])
            every = np.repeat(np.arange(n_actions), test.size)
            x = reward_features(log, every, np.tile(test, n_actions))
            q_hat[test, :, slot] = model.predict_proba(x)[:, 1].reshape(n_actions, test.size).T
    return q_hat
