"""An uplift model saved by the previous release (classes under ``tools.uplift``) is retrained, then reused."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import joblib
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from agent.settings import Settings
from tools.effect.uplift import model as uplift
from tools.effect.uplift.model import DEV_FILE, UpliftModel, load_or_train_uplift, read_experiment


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Gradient boosting on a few thousand rows: OpenMP threads on a busy machine cost more than they save."""
    with threadpool_limits(limits=1):
        yield


def test_uplift_model_of_the_previous_release_is_retrained_and_saved(
    settings: Settings, tmp_path, save_as_previous_release, caplog, monkeypatch
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    rows = pd.read_csv(settings.shared_data_dir / DEV_FILE).iloc[:4000]  # real rows, a subset to stay fast
    rows.to_csv(shared / DEV_FILE, index=False)
    local = settings.model_copy(update={"home": tmp_path / "home", "shared_data_dir": shared})
    path = local.models_dir / "uplift" / "uplift_model.joblib"
    trainings: list[Settings] = []
    train = uplift.train_uplift

    def counted(settings: Settings) -> UpliftModel:
        trainings.append(settings)
        return train(settings)

    monkeypatch.setattr(uplift, "train_uplift", counted)
    save_as_previous_release(load_or_train_uplift(local), path)  # nothing saved yet: trains
    with pytest.raises(ModuleNotFoundError, match=r"tools\.uplift"):
        joblib.load(path)  # what an upgrade finds on disk

    with caplog.at_level(logging.WARNING, logger="tools.saved_models"):
        model = load_or_train_uplift(local)
    assert len(trainings) == 2 and f"saved model {path} cannot be read" in caplog.text
    data = read_experiment(shared / DEV_FILE)
    p = model.visit_probabilities(data.iloc[:50])
    assert p.shape == (50, 3) and ((p > 0) & (p < 1)).all().all()
    assert isinstance(joblib.load(path), UpliftModel)  # overwritten in the current layout

    again = load_or_train_uplift(local)  # a plain load now
    assert len(trainings) == 2 and again.card == model.card
