"""Fine-tuned headline encoders: cross-fitting, saving and reloading, and a model that rates with them."""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest

from agent.settings import Settings
from tools.effect.headlines.encoder import CrossFitEncoders, FineTuneConfig, cross_fit
from tools.effect.headlines.evidence import ProvenExamples
from tools.effect.headlines.features import embed_cached
from tools.effect.headlines.model import WORDING_FACTOR, HeadlineModel
from tools.effect.headlines.training import load_arms
from tools.effect.headlines.within_test import within_test_log_likelihood

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


def test_model_on_wording_scores_rates_with_evidence_and_pickles(fitted, settings: Settings, tmp_path) -> None:
    arms, encoders, oof = fitted
    model = HeadlineModel.fit(oof[:, None], arms, 10.0, encoders)
    model.examples = ProvenExamples.from_arms(arms, embed_cached(arms["headline"].tolist(), settings))
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    loaded = joblib.load(path)
    texts = ["You Won't Believe What This Teacher Did For Her Students", arms["headline"].iloc[0]]
    for rating in loaded.rate(texts, settings):
        assert 0 < rating.low < rating.index < rating.high
        assert len(rating.factors) == 1 and WORDING_FACTOR in rating.factors[0]  # one feature: the wording score
        assert len(rating.evidence) == 2 and all(e.startswith("closest tested headline") for e in rating.evidence)
        assert f'"{rating.headline}"' not in " ".join(rating.evidence)  # a tested headline is not its own evidence
    np.testing.assert_allclose(loaded.log_index(texts, settings), model.log_index(texts, settings))


def test_evidence_quotes_observed_lift(settings: Settings, tmp_path) -> None:
    local = settings.model_copy(update={"home": tmp_path})  # its own embedding cache
    arms = pd.DataFrame({"clickability_test_id": ["t", "t", "u", "u"], "impressions": [1000, 1000, 500, 1500],
                         "headline": ["Cats Adopt A Dog", "A Dog Is Adopted", "Rain Ends Drought", "Drought Over"],
                         "clicks": [30, 10, 10, 10]})  # fmt: skip
    examples = ProvenExamples.from_arms(arms, embed_cached(arms["headline"].tolist(), local))
    # each arm's CTR against its test's pooled CTR: t pools 2%, u pools 1%
    np.testing.assert_allclose(examples.lift, [0.5, -0.5, 1.0, -1 / 3])
    (phrases,) = examples.closest(["Cats Adopt A Dog"], embed_cached(["Cats Adopt A Dog"], local), k=1)
    assert phrases[0].startswith('closest tested headline: "A Dog Is Adopted" (CTR -50%')


def test_too_few_tests_is_a_clear_error(settings: Settings, tmp_path) -> None:
    arms, _ = load_arms(settings)
    one = arms[arms["clickability_test_id"] == arms["clickability_test_id"].iloc[0]]
    with pytest.raises(ValueError, match="at least 2 A/B tests"):
        cross_fit(one, tmp_path / "enc", settings, SMALL)


def test_frozen_model_keeps_model_factors_and_observed_evidence_apart(fitted, settings: Settings) -> None:
    from tools.effect.headlines.features import headline_matrix

    arms, _, _ = fitted
    model = HeadlineModel.fit(headline_matrix(arms["headline"].tolist(), settings), arms, 1e4)
    model.examples = ProvenExamples.from_arms(arms, embed_cached(arms["headline"].tolist(), settings))
    (rating,) = model.rate(["Why This Mayor Gave Her Salary To The Town Library"], settings)
    assert len(rating.factors) == 3 and all("click-through vs an average headline" in f for f in rating.factors)
    assert len(rating.evidence) == 2 and all(e.startswith("closest tested headline") for e in rating.evidence)
