"""Saved models: one rule for reading a trained model back from disk, and one for writing it.

A model file written by another release may name classes under module paths that have since moved (``tools.
click_model`` became ``tools.effect.click_model``), be cut short, or come from another scikit-learn. Reading it
then fails in many ways (``ModuleNotFoundError``, ``AttributeError``, ``UnpicklingError``, ``EOFError``, …).
:func:`load_saved` turns every such failure into ``None`` plus one logged line, so the caller retrains and saves
with :func:`save_model`; the next start is a plain load. Errors of training itself are never caught here.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pickle
import tempfile
import warnings
from pathlib import Path
from typing import TypeVar

import joblib
from sklearn.exceptions import InconsistentVersionWarning

log = logging.getLogger(__name__)

T = TypeVar("T")

# What reading a pickle written by another layout or version can raise (ModuleNotFoundError is an ImportError;
# TypeError and KeyError come from a class whose state changed shape, ValueError from numpy/joblib formats).
UNREADABLE: tuple[type[Exception], ...] = (
    ImportError,
    AttributeError,
    pickle.UnpicklingError,
    EOFError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    InconsistentVersionWarning,
)


def load_saved(path: Path, expected: type[T]) -> T | None:
    """Return the model saved at ``path`` if this release can use it, else ``None`` (the caller retrains).

    ``None`` when the file is missing, cannot be unpickled (classes under module paths that moved, a truncated
    file, estimators pickled by another scikit-learn), holds something other than an ``expected``, or is a
    dataclass saved before some of its fields existed. Every
    ``None`` but a missing file logs one warning naming the file and the reason.

    Args:
        path: A file written by :func:`save_model` (or ``joblib.dump``/``pickle.dump``).
        expected: The class the model must be an instance of.

    Returns:
        The loaded model, or ``None``.
    """
    if not path.is_file():
        log.info("no saved model at %s: training one", path)
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", InconsistentVersionWarning)
            loaded = joblib.load(path)
    except UNREADABLE as exc:
        log.warning("saved model %s cannot be read by this release (%s: %s): retraining", path,
                    type(exc).__name__, exc)  # fmt: skip
        return None
    if not isinstance(loaded, expected):
        log.warning("saved model %s holds a %s, not a %s: retraining", path, type(loaded).__qualname__,
                    expected.__qualname__)  # fmt: skip
        return None
    fields = dataclasses.fields(loaded) if dataclasses.is_dataclass(loaded) else ()
    missing = [f.name for f in fields if not hasattr(loaded, f.name)]
    if missing:
        log.warning("saved model %s predates the fields %s of %s: retraining", path, missing, expected.__qualname__)
        return None
    return loaded


def save_model(model: object, path: Path) -> None:
    """Write ``model`` to ``path`` with joblib, atomically: a crash mid-write leaves the previous file whole.

    Args:
        model: The trained model (any picklable object).
        path: Destination; its folder is created.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        joblib.dump(model, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
