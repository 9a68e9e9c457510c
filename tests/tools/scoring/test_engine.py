"""Shards and the engine choice, without Ray (tests/tools/scoring/test_ray.py runs the shards on a Ray cluster)."""

from __future__ import annotations

import pandas as pd
import pytest

from agent.settings import Settings
from tools.scoring import LocalScorer, RayScorer, scorer_from_settings, shards


def test_shards_cover_every_customer_once_in_order() -> None:
    ids = [f"c{n}" for n in range(1003)]
    parts = shards(ids, 250)
    assert [len(p) for p in parts] == [250, 250, 250, 250, 3]
    assert [c for p in parts for c in p] == ids
    assert shards([], 10) == []
    with pytest.raises(ValueError, match="positive"):
        shards(ids, 0)


def test_the_local_scorer_runs_each_shard_and_reports_progress() -> None:
    seen: list[list[str]] = []
    progress: list[tuple[int, int]] = []

    def lengths(model: int, shard: list[str]) -> pd.DataFrame:
        seen.append(shard)
        return pd.DataFrame({"customer_id": shard, "value": [model * len(c) for c in shard]})

    ids = ["a", "bb", "ccc", "dddd", "e"]
    table = LocalScorer(shard_size=2).run(lengths, 3, ids, lambda done, total: progress.append((done, total)))
    assert seen == [["a", "bb"], ["ccc", "dddd"], ["e"]]
    assert table["value"].tolist() == [3, 6, 9, 12, 3]
    assert progress == [(2, 5), (4, 5), (5, 5)]


def test_the_engine_setting_picks_the_scorer(settings: Settings) -> None:
    assert isinstance(scorer_from_settings(settings), LocalScorer)
    ray = scorer_from_settings(settings.model_copy(update={"engine": "ray", "ray_address": "ray://head:10001"}), 64)
    assert isinstance(ray, RayScorer) and ray.address == "ray://head:10001" and ray.shard_size == 64
    local_ray = scorer_from_settings(Settings(home=settings.home, engine="ray"))
    assert isinstance(local_ray, RayScorer) and local_ray.address is None and local_ray.num_cpus == 2
