"""A click model saved by the previous release (classes under ``tools.click_model``) is retrained, then reused."""

from __future__ import annotations

import json
import logging

import joblib
import numpy as np
import pytest

from agent.settings import Settings
from tools.effect.click_features import HistoryStats
from tools.effect.click_model import ClickModel
from tools.shop import Shop


def test_click_model_of_the_previous_release_is_retrained_and_saved(
    shop: Shop, settings: Settings, tmp_path, save_as_previous_release, caplog, monkeypatch
) -> None:
    local = settings.model_copy(update={"home": tmp_path})
    path = local.models_dir / "effect" / "click_model.joblib"
    trained = ClickModel.load_or_train(shop, local)  # nothing saved yet: trains and saves
    save_as_previous_release(trained, path)
    with pytest.raises(ModuleNotFoundError, match=r"tools\.click_model"):
        joblib.load(path)  # what an upgrade finds on disk

    train = ClickModel.train.__func__
    trainings: list[int] = []

    def counted(cls: type[ClickModel], shop: Shop, settings: Settings) -> ClickModel:
        trainings.append(len(shop.interactions))
        return train(cls, shop, settings)

    monkeypatch.setattr(ClickModel, "train", classmethod(counted))
    with caplog.at_level(logging.WARNING, logger="tools.saved_models"):
        model = ClickModel.load_or_train(shop, local)
    assert trainings == [len(shop.interactions)]  # retrained, not a traceback
    assert f"saved model {path} cannot be read" in caplog.text and "retraining" in caplog.text
    x = HistoryStats.from_history(shop, shop.interactions).features(np.arange(20), np.arange(20))
    p = model.predict_proba(x)
    assert p.shape == (20,) and ((p > 0) & (p < 1)).all()
    assert model.card["data"] == trained.card["data"] and model.card["metrics"]["auc"] > 0.5
    assert isinstance(joblib.load(path), ClickModel)  # overwritten in the current layout
    assert json.loads((path.parent / "model_card.json").read_text())["metrics"] == model.card["metrics"]

    again = ClickModel.load_or_train(shop, local)  # a plain load now
    assert trainings == [len(shop.interactions)]
    np.testing.assert_allclose(again.predict_proba(x), p)
