"""Fine-tuned headline encoders: cross-fitting, saving and reloading, and a model that rates with them."""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest

from agent.settings import Settings
from tools.headline_encoder import CrossFitEncoders, FineTuneConfig, cross_fit
from tools.headline_features import STYLE_FEATURES, style_matrix
from tools.headlines import WORDING_FACTOR, HeadlineModel, load_arms
from tools.within_test_model import within_test_log_likelihood

SMALL = FineTuneConfig(folds=2, epochs=3, learning_rate=1e-4, head_learning_rate=5e-2, tests_per_batch=4)


@pytest.fixture(scope="module")
def fitted(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> tuple[pd.DataFrame, CrossFitEncoders, np.ndarray]:
    """Two encoders cross-fitted on 16 real Upworthy tests, the arms and their out-of-fold scores."""
    arms, _ = load_arms(settings)
    arms = arms[arms["clickability_test_id"].isin(arms["clickability_test_id"].unique()[:16])].reset_index(drop=True)
    steps: list[tuple[int, int]] = []
    encoders, oof = cross_fit(
        arms, tmp_path_factory.mktemp("enc") / "encoders", settings, SMALL, lambda d, t: steps.append((d, t))
    )
    assert steps and steps[-1][0] == steps[-1][1] == len(steps)  # progress reaches its total, one call per step
    return arms, encoders, oof


def _log_lik(arms: pd.DataFrame, score: np.ndarray, weight: float) -> float:
    x = score[:, None]
    clicks, impressions = arms["clicks"].to_numpy(float), arms["impressions"].to_numpy(float)
    return within_test_log_likelihood(
        np.array([weight]), x, clicks, impressions, arms["clickability_test_id"].to_numpy()
    )[0]


def test_reloaded_encoders_reproduce_the_out_of_fold_scores(fitted, settings: Settings) -> None:
    arms, encoders, oof = fitted
    assert all((encoders.folder / f"fold_{k}" / "head.npy").is_file() for k in range(2))
    reloaded = CrossFitEncoders(encoders.folder, 2).scorers(settings)
    from sklearn.model_selection import GroupKFold

    for k, (_, held) in enumerate(GroupKFold(2).split(arms, groups=arms["clickability_test_id"])):
        again = reloaded[k].score(arms["headline"].iloc[held].tolist())
        np.testing.assert_allclose(again, oof[held], atol=0.02)  # saved in half precision
    assert np.ptp(oof) > 0  # the heads moved away from zero


def test_fine_tuning_fits_its_training_tests(fitted, settings: Settings) -> None:
    arms, encoders, _ = fitted
    from sklearn.model_selection import GroupKFold

    _, held_by_fold_1 = list(GroupKFold(2).split(arms, groups=arms["clickability_test_id"]))[1]
    trained_on = arms.iloc[held_by_fold_1].reset_index(drop=True)  # fold 0's encoder trained on these tests
    score = encoders.scorers(settings)[0].score(trained_on["headline"].tolist())
    assert _log_lik(trained_on, score, 1.0) > _log_lik(trained_on, score, 0.0)


def test_model_on_wording_scores_rates_with_intervals_and_pickles(fitted, settings: Settings, tmp_path) -> None:
    arms, encoders, oof = fitted
    x = np.column_stack([style_matrix(arms["headline"].tolist()), oof])
    model = HeadlineModel.fit(x, arms, 10.0, encoders)
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    loaded = joblib.load(path)
    texts = ["You Won't Believe What This Teacher Did For Her Students", "Teacher helps students."]
    for rating in loaded.rate(texts, settings):
        assert 0 < rating.low < rating.index < rating.high and len(rating.factors) == 3
    assert len(STYLE_FEATURES) + 1 == x.shape[1]
    assert any(WORDING_FACTOR in f for r in loaded.rate(texts * 3, settings) for f in r.factors) or np.allclose(
        model.model.coef[-1], 0, atol=1e-6
    )
    np.testing.assert_allclose(loaded.log_index(texts, settings), model.log_index(texts, settings))


def test_too_few_tests_is_a_clear_error(settings: Settings, tmp_path) -> None:
    arms, _ = load_arms(settings)
    one = arms[arms["clickability_test_id"] == arms["clickability_test_id"].iloc[0]]
    with pytest.raises(ValueError, match="at least 2 A/B tests"):
        cross_fit(one, tmp_path / "enc", settings, SMALL)
