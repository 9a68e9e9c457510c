"""Off-policy estimators on small cases with known answers, and on the real Open Bandit sample."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from tools.effect.bandit.estimators import (
    LAMBDAS,
    RoundTerms,
    cross_fit_rewards,
    estimate_all,
    point_estimates,
    slope_select,
    switch_weight,
)
from tools.effect.bandit.logs import bts_action_dist, load_bandit_log, load_bts_prior, on_policy_value
from tools.effect.bandit.ope_benchmark import evaluate_estimators_on_obd

N_ACTIONS = 4
# Rewards of 8 rounds per action under a uniform logging policy (each action logged exactly 8 times).
REWARDS = {0: [1, 0, 0, 1, 0, 0, 0, 0], 1: [1, 1, 1, 0, 1, 1, 0, 1], 2: [0] * 8, 3: [1, 0, 1, 0, 1, 0, 1, 0]}


def uniform_log() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    action = np.repeat(np.arange(N_ACTIONS), 8)
    reward = np.concatenate([REWARDS[a] for a in range(N_ACTIONS)]).astype(float)
    return action, reward, np.zeros_like(action), np.full(action.size, 1 / N_ACTIONS)


def always(action: int) -> np.ndarray:
    dist = np.zeros((N_ACTIONS, 1))
    dist[action, 0] = 1.0
    return dist


def test_ipw_of_the_logging_policy_is_the_on_policy_mean() -> None:
    action, reward, position, pscore = uniform_log()
    terms = RoundTerms.build(reward, action, position, pscore, np.full((N_ACTIONS, 1), 1 / N_ACTIONS))
    est = point_estimates(terms, {"switch-dr": np.inf, "dr-os": np.inf})
    assert np.allclose(terms.weight, 1.0)
    assert est["ipw"] == pytest.approx(reward.mean()) and est["snipw"] == pytest.approx(reward.mean())


@pytest.mark.parametrize("target", range(N_ACTIONS))
def test_estimators_of_a_deterministic_policy(target: int) -> None:
    action, reward, position, pscore = uniform_log()
    truth = float(np.mean(REWARDS[target]))
    exact = np.tile(np.array([np.mean(REWARDS[a]) for a in range(N_ACTIONS)])[None, :, None], (action.size, 1, 1))
    perfect = point_estimates(RoundTerms.build(reward, action, position, pscore, always(target), exact),
                              {"switch-dr": np.inf, "dr-os": np.inf})  # fmt: skip
    for name in ("dm", "ipw", "snipw", "dr", "sndr", "switch-dr", "dr-os"):
        assert perfect[name] == pytest.approx(truth), name
    # A wrong reward model (0.5 everywhere): DM is off, DR's correction restores the IPW value exactly.
    off = np.full_like(exact, 0.5)
    wrong = point_estimates(RoundTerms.build(reward, action, position, pscore, always(target), off),
                            {"switch-dr": 0.0, "dr-os": np.inf})  # fmt: skip
    assert wrong["dm"] == pytest.approx(0.5)
    assert wrong["dr"] == pytest.approx(truth) and wrong["dr-os"] == pytest.approx(truth)
    assert wrong["switch-dr"] == pytest.approx(0.5)  # λ = 0 switches every round to the model


def test_switch_and_shrinkage_limits() -> None:
    weight = np.array([0.5, 2.0, 10.0])
    assert switch_weight(weight, 2.0).tolist() == [0.5, 2.0, 0.0]
    action, reward, position, pscore = uniform_log()
    q = np.full((action.size, N_ACTIONS, 1), 0.3)
    terms = RoundTerms.build(reward, action, position, pscore, always(1), q)
    tiny = point_estimates(terms, {"switch-dr": 1e-9, "dr-os": 1e-12})
    assert tiny["switch-dr"] == pytest.approx(tiny["dm"]) and tiny["dr-os"] == pytest.approx(tiny["dm"], abs=1e-9)
    assert slope_select(terms, switch_weight) in LAMBDAS


def test_inputs_are_checked() -> None:
    action, reward, position, pscore = uniform_log()
    with pytest.raises(ValueError, match="probability distribution"):
        RoundTerms.build(reward, action, position, pscore, np.full((N_ACTIONS, 1), 0.5))
    with pytest.raises(ValueError, match="pscore must be positive"):
        RoundTerms.build(reward, action, position, np.zeros_like(pscore), always(0))


def test_interval_contains_the_estimate() -> None:
    action, reward, position, pscore = uniform_log()
    q = np.full((action.size, N_ACTIONS, 1), 0.4)
    result = estimate_all(RoundTerms.build(reward, action, position, pscore, always(3), q), n_bootstrap=200)
    for name, row in result.items():
        assert row["low"] <= row["value"] <= row["high"], name
    assert result["ipw"]["low"] < result["ipw"]["high"]


def test_bts_action_dist_follows_the_prior() -> None:
    alpha, beta = np.array([900.0, 1.0, 1.0, 1.0]), np.array([100.0, 999.0, 999.0, 999.0])
    dist = bts_action_dist(alpha, beta, len_list=2, n_sim=2000, seed=0)
    assert dist.shape == (4, 2) and np.allclose(dist.sum(axis=0), 1.0)
    assert dist[0, 0] == 1.0 and dist[0, 1] == 0.0  # item 0's draws (≈ 0.9) always beat the others' (≈ 0.001)


def test_real_obd_log_and_prior(settings) -> None:
    log = load_bandit_log(settings, "random", "all")
    assert log.n_rounds == 10_000 and log.n_actions == 80 and log.len_list == 3
    assert np.allclose(log.pscore, 1 / 80) and set(np.unique(log.position)) == {0, 1, 2}
    boot = log.bootstrap(3)
    rows = np.random.RandomState(3).choice(np.arange(10_000), size=10_000, replace=True)
    assert np.array_equal(boot.action, log.action[rows])
    alpha, beta = load_bts_prior(settings, "all")
    assert alpha.shape == beta.shape == (80,) and (alpha > 0).all()
    assert on_policy_value(settings, "bts", "all") == pytest.approx(0.0042)  # 42 clicks in 10,000 BTS rounds


def test_cross_fitted_rewards_on_real_logs(settings) -> None:
    log = load_bandit_log(settings, "random", "all")
    q = cross_fit_rewards(log, LogisticRegression(C=0.01, max_iter=2000), n_folds=3, seed=0)
    assert q.shape == (10_000, 80, 3) and ((q > 0) & (q < 0.05)).all()
    assert q.mean() == pytest.approx(log.reward.mean(), rel=0.3)


def test_obd_experiment_runs_on_real_data(settings) -> None:
    result = evaluate_estimators_on_obd(settings, n_runs=2, n_sim=20_000, n_bootstrap=50, reward_c=0.01)
    assert result["ground_truth"] == pytest.approx(0.0042)
    log = load_bandit_log(settings, "random", "all")
    alpha, beta = load_bts_prior(settings, "all")
    dist = bts_action_dist(alpha, beta, 3, n_sim=20_000, seed=12345)
    by_hand = np.mean(dist[log.action, log.position] / log.pscore * log.reward)
    assert result["full_log_estimates"]["ipw"]["value"] == pytest.approx(by_hand)
    for row in result["relative_error"].values():
        assert np.isfinite(row["mean"]) and row["mean"] >= 0
