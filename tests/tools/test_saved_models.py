"""The one rule for saved models: anything this release cannot use reads as None with a logged reason."""

from __future__ import annotations

import io
import logging
import pickle
from dataclasses import dataclass

import joblib
import numpy as np
import pytest
import sklearn
from sklearn.linear_model import LogisticRegression

from tools.effect.click_model import ClickModel
from tools.saved_models import load_saved, save_model


@dataclass
class Fitted:
    """A small model: a fitted regression and a card."""

    regression: LogisticRegression
    card: dict[str, str]


def _fitted() -> Fitted:
    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    return Fitted(LogisticRegression().fit(x, [0, 0, 1, 1]), {"name": "toy"})


@pytest.fixture
def warnings_of_load(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="tools.saved_models")
    return caplog


def test_a_saved_model_loads_back(tmp_path, warnings_of_load) -> None:
    model, path = _fitted(), tmp_path / "models" / "toy.joblib"
    save_model(model, path)
    loaded = load_saved(path, Fitted)
    assert isinstance(loaded, Fitted) and loaded.card == {"name": "toy"}
    x = np.array([[0.5], [2.5]])
    np.testing.assert_allclose(loaded.regression.predict_proba(x), model.regression.predict_proba(x))
    assert warnings_of_load.records == []
    assert [p.name for p in path.parent.iterdir()] == ["toy.joblib"]  # no temporary file left behind


def test_a_missing_file_is_none_without_a_warning(tmp_path, warnings_of_load) -> None:
    assert load_saved(tmp_path / "none.joblib", Fitted) is None
    assert warnings_of_load.records == []


def test_a_class_under_a_module_path_that_moved_is_none_with_the_reason(tmp_path, warnings_of_load) -> None:
    path = tmp_path / "click_model.joblib"
    path.write_bytes(b"ctools.click_model\nClickModel\n)\x81}b.")  # the previous release's module path
    with pytest.raises(ModuleNotFoundError):
        joblib.load(path)
    assert load_saved(path, ClickModel) is None
    (record,) = warnings_of_load.records
    assert record.levelno == logging.WARNING and str(path) in record.getMessage()
    assert "ModuleNotFoundError" in record.getMessage() and "retraining" in record.getMessage()


def test_a_class_gone_from_its_module_is_none(tmp_path, warnings_of_load) -> None:
    path = tmp_path / "click_model.joblib"
    path.write_bytes(b"ctools.effect.click_model\nOldClickModel\n)\x81}b.")
    assert load_saved(path, ClickModel) is None
    assert "AttributeError" in warnings_of_load.text


def test_a_real_model_pickled_under_old_paths_is_none(tmp_path, warnings_of_load, save_as_previous_release) -> None:
    from tools.effect.headlines.within_test import WithinTestPoisson

    path = tmp_path / "model.joblib"
    save_as_previous_release(WithinTestPoisson(penalty=2.0), path)
    assert b"ctools.within_test_model\n" in path.read_bytes()
    assert load_saved(path, WithinTestPoisson) is None
    assert "No module named 'tools.within_test_model'" in warnings_of_load.text


def test_a_truncated_or_garbled_file_is_none(tmp_path, warnings_of_load) -> None:
    path = tmp_path / "toy.joblib"
    save_model(_fitted(), path)
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    assert load_saved(path, Fitted) is None
    path.write_bytes(b"not a pickle at all")
    assert load_saved(path, Fitted) is None
    assert len(warnings_of_load.records) == 2


def test_another_type_is_none(tmp_path, warnings_of_load) -> None:
    path = tmp_path / "toy.joblib"
    save_model({"regression": None}, path)
    assert load_saved(path, Fitted) is None
    assert "holds a dict, not a Fitted" in warnings_of_load.text


def test_a_dataclass_saved_before_a_field_existed_is_none(tmp_path, warnings_of_load) -> None:
    path = tmp_path / "toy.joblib"
    old = _fitted()
    del old.card  # saved by a release whose Fitted had no card
    save_model(old, path)
    assert load_saved(path, Fitted) is None
    assert "predates the fields ['card']" in warnings_of_load.text


def test_an_estimator_pickled_by_another_scikit_learn_is_none(tmp_path, warnings_of_load) -> None:
    buffer = io.BytesIO()
    joblib.dump(_fitted(), buffer, protocol=0)
    version = f"V{sklearn.__version__}\n".encode()
    assert version in buffer.getvalue()
    path = tmp_path / "toy.joblib"
    path.write_bytes(buffer.getvalue().replace(version, b"V0.20.0\n"))
    assert load_saved(path, Fitted) is None
    assert "InconsistentVersionWarning" in warnings_of_load.text


def test_a_failed_save_keeps_the_previous_file(tmp_path) -> None:
    path = tmp_path / "toy.joblib"
    save_model(_fitted(), path)
    before = path.read_bytes()
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        save_model(lambda: None, path)  # a lambda cannot be pickled
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["toy.joblib"]
