"""A headline model saved by the previous release (``tools.headline_model`` …) is retrained, then reused.

Training the deployable model takes minutes of CPU, so ``train_headline_model`` is replaced by the small real model
of ``small_headline_model`` (150 Upworthy tests); what is tested is the loader's decision to retrain and save.
"""

from __future__ import annotations

import copy
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest

from agent.settings import Settings
from tools.effect.headlines import training
from tools.effect.headlines.encoder import HEAD_FILE, CrossFitEncoders
from tools.effect.headlines.features import CACHE_FILE
from tools.effect.headlines.model import HeadlineModel
from tools.effect.headlines.training import DEFAULT_FINE_TUNE, headline_ctr_model


@pytest.fixture
def local(small_headline_model: tuple[HeadlineModel, Settings], tmp_path: Path) -> Settings:
    """A fresh home holding only the embedding cache of the small model's settings."""
    _, settings = small_headline_model
    (tmp_path / "models" / "headlines").mkdir(parents=True)
    shutil.copy(settings.models_dir / "headlines" / CACHE_FILE, tmp_path / "models" / "headlines" / CACHE_FILE)
    return settings.model_copy(update={"home": tmp_path})


@pytest.fixture
def trainings(small_headline_model, monkeypatch) -> list[dict[str, Any]]:
    """Replace training by a copy of the small real model; return the keyword arguments of every call."""
    model, _ = small_headline_model
    calls: list[dict[str, Any]] = []

    def small_training(settings: Settings, **kwargs: Any) -> HeadlineModel:
        calls.append(kwargs)
        trained = copy.deepcopy(model)
        trained.card = {"model": "150 Upworthy tests", "data": {"tests_used": 150}}
        return trained

    monkeypatch.setattr(training, "train_headline_model", small_training)
    return calls


def test_headline_model_of_the_previous_release_is_retrained_and_saved(
    local: Settings,
    trainings: list[dict[str, Any]],
    small_headline_model,
    save_as_previous_release: Callable[[object, Path], None],
    caplog,
) -> None:
    small, _ = small_headline_model
    path = local.models_dir / "headlines" / "headline_model.joblib"
    old = copy.deepcopy(small)
    old.card = {"data": {"fingerprint": training._data_fingerprint(local, None)}}  # the same data: only the layout
    save_as_previous_release(old, path)
    with pytest.raises(ModuleNotFoundError, match=r"tools\.headline_model"):
        joblib.load(path)  # what an upgrade finds on disk

    with caplog.at_level(logging.WARNING, logger="tools.saved_models"):
        model = headline_ctr_model(local)
    assert len(trainings) == 1 and trainings[0]["fine_tune"] is None
    assert f"saved model {path} cannot be read" in caplog.text
    texts = small.examples.texts[:3] if small.examples is not None else []
    np.testing.assert_allclose(model.log_index(texts, local), small.log_index(texts, local))
    assert all(0 < r.low < r.index < r.high for r in model.rate(texts, local))
    assert isinstance(joblib.load(path), HeadlineModel)  # overwritten in the current layout

    again = headline_ctr_model(local)  # a plain load now
    assert len(trainings) == 1 and again.card == model.card


def test_fine_tuned_model_whose_encoders_were_not_saved_whole_is_retrained(
    local: Settings, trainings: list[dict[str, Any]], small_headline_model
) -> None:
    small, _ = small_headline_model
    tuned = local.model_copy(update={"headline_fine_tune": True})
    folder = tuned.models_dir / "headlines"
    saved = copy.deepcopy(small)
    saved.encoders = CrossFitEncoders(folder / "encoders", 2)
    saved.card = {"data": {"fingerprint": training._data_fingerprint(tuned, DEFAULT_FINE_TUNE)}}
    joblib.dump(saved, folder / "headline_model.joblib")
    for k in range(2):
        (folder / "encoders" / f"fold_{k}").mkdir(parents=True)
    np.save(folder / "encoders" / "fold_0" / HEAD_FILE, np.zeros(3))  # fold_1 was cut off before its head

    headline_ctr_model(tuned)
    assert len(trainings) == 1 and trainings[0]["fine_tune"] == DEFAULT_FINE_TUNE
    assert trainings[0]["encoder_dir"] == folder / "encoders"
