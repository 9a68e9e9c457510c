"""Fixtures of the tool tests: model files as the previous release (flat ``tools/`` modules) saved them."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import joblib
import pytest

# Where the previous release's classes lived (those modules no longer exist).
PREVIOUS_MODULES = {
    "tools.effect.click_model": "tools.click_model",
    "tools.effect.headlines.model": "tools.headline_model",
    "tools.effect.headlines.within_test": "tools.within_test_model",
    "tools.effect.headlines.evidence": "tools.headline_evidence",
    "tools.effect.headlines.encoder": "tools.headline_encoder",
    "tools.effect.uplift.model": "tools.uplift",
}


def dump_as_previous_release(model: object, path: Path) -> None:
    """Write ``model`` with joblib as the previous release did: its classes under their old module paths.

    The pickle is written with protocol 0, where a class is the text line ``c<module>\\n<name>\\n``, so the module
    paths can be swapped in the bytes. Fails if ``model`` holds no class of a moved module.
    """
    buffer = io.BytesIO()
    joblib.dump(model, buffer, protocol=0)
    data, swapped = buffer.getvalue(), 0
    for current, previous in PREVIOUS_MODULES.items():
        line = f"c{current}\n".encode()
        swapped += data.count(line)
        data = data.replace(line, f"c{previous}\n".encode())
    assert swapped, f"{type(model).__qualname__} holds no class of a moved module"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@pytest.fixture
def save_as_previous_release() -> Callable[[object, Path], None]:
    """Return :func:`dump_as_previous_release`."""
    return dump_as_previous_release
