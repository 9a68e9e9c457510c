"""The headline embedding cache: plans saving it at the same time each leave a whole cache, and neither fails."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

import tools.effect.headlines.features as features
from agent.settings import Settings


def test_two_writers_saving_at_once_both_succeed(monkeypatch, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    monkeypatch.setattr(features, "encode", lambda texts, s: np.ones((len(texts), 384), dtype=np.float32))
    both_written = threading.Barrier(2, timeout=60)
    real_savez = np.savez

    def savez_then_wait(file, **arrays):  # both writers have written their file before either renames it
        real_savez(file, **arrays)
        both_written.wait()

    monkeypatch.setattr(features.np, "savez", savez_then_wait)
    errors: list[BaseException] = []

    def write(text: str) -> None:
        try:
            features.embed_cached([text], settings)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(t,)) for t in ("A headline", "Another headline")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with np.load(settings.models_dir / "headlines" / features.CACHE_FILE) as cache:
        assert len(cache["texts"]) == 1 and cache["vectors"].shape == (1, 384)
    assert not list((settings.models_dir / "headlines").glob("*.tmp.npz"))
