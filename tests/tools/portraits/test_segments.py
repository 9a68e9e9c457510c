"""The one segmenter on the real MovieLens-100k shop: index-wide model, plan-time split, names, age bands."""

from __future__ import annotations

import numpy as np
import pytest

from tools.audience import AudienceFilter, AudienceQuery, ProfilesTool
from tools.portraits import PortraitStore, split_audience
from tools.portraits import segments as segments_module
from tools.portraits.building import build_portraits, shop_genres
from tools.portraits.portrait import Portrait
from tools.portraits.segments import (
    AGE_BANDS,
    MIN_MEMBERS_PER_SEGMENT,
    SegmentColumns,
    SegmentModel,
    _raw_features,
    _standardised,
    age_band,
    cluster,
    planning_sample,
    profile_segments,
)
from tools.shop import Shop

BANDS = {label for _, label in AGE_BANDS}


@pytest.fixture(scope="module")
def portraits(shop: Shop) -> list[Portrait]:
    return build_portraits(shop)


@pytest.fixture(scope="module")
def tool(store: PortraitStore) -> ProfilesTool:
    return ProfilesTool(store)


@pytest.mark.parametrize(
    ("age", "band"),
    [(7, "under 18"), (17.5, "under 18"), (18, "18–24"), (24.5, "18–24"), (29, "25–34"), (54, "45–54"),
     (55, "55–64"), (60, "55–64"), (64.5, "55–64"), (65, "65+"), (73, "65+")],
)  # fmt: skip
def test_age_bands_cover_every_age_including_median_halves(age: float, band: str) -> None:
    assert age_band(age) == band


@pytest.mark.parametrize(("k", "min_size"), [(8, MIN_MEMBERS_PER_SEGMENT), (6, 150), (5, 180), (3, 2000)])
def test_cluster_gives_at_most_k_segments_of_at_least_min_size_largest_first(
    portraits: list[Portrait], shop: Shop, k: int, min_size: int
) -> None:
    columns = SegmentColumns.from_portraits(portraits, shop_genres(shop))
    names, mean, scale = _standardised(columns)
    points = (_raw_features(columns, names) - mean) / scale
    labels, centres = cluster(points, k, min_size, seed=42)
    sizes = np.bincount(labels)
    assert len(sizes) == len(centres) <= max(1, min(k, len(points) // min_size))
    assert sizes.sum() == len(points) and list(sizes) == sorted(sizes, reverse=True)
    if len(points) >= min_size:
        assert sizes.min() >= min_size
    else:
        assert len(sizes) == 1


def test_index_model_names_are_distinct_with_marketing_age_bands(portraits: list[Portrait], shop: Shop) -> None:
    model = SegmentModel.fit(portraits, shop_genres(shop), seed=42)
    assert len(model.names) == 8 and len(set(model.names)) == 8
    assert min(model.sizes) >= MIN_MEMBERS_PER_SEGMENT and sum(model.sizes) == len(portraits)
    assert all(name.rsplit(", ", 1)[1] in BANDS for name in model.names)


def test_identical_segments_still_get_distinct_names(portraits: list[Portrait], shop: Shop) -> None:
    lapsed = [p for p in portraits if p.lifecycle == "lapsed"][:40]
    members = SegmentColumns.from_portraits(lapsed, shop_genres(shop))
    profiles = profile_segments([members, members], {g: 0.05 for g in shop_genres(shop)})
    first, second = (p.name for p in profiles)
    assert second == f"{first} (2)" and ", lapsed " in first
    assert profiles[0].lifecycle_mix == {"lapsed": 40} and profiles[0].median_age == profiles[1].median_age


def test_split_audience_honours_max_segments_and_min_size(tool: ProfilesTool, shop: Shop) -> None:
    hits = tool.retrieve(AudienceQuery(text="film lovers", limit=5000, derive_filter=False)).portraits
    ids, metas = [h.customer_id for h in hits], [h.metadata for h in hits]
    for max_segments, min_size in [(6, 15), (4, 200), (3, 15)]:
        parts = split_audience(shop, ids, metas, max_segments, min_size, seed=7)
        sizes = [len(p.customer_ids) for p in parts]
        assert 1 <= len(parts) <= max_segments and min(sizes) >= min_size
        assert sizes == sorted(sizes, reverse=True) and sorted(c for p in parts for c in p.customer_ids) == sorted(ids)
        assert len({p.profile.name for p in parts}) == len(parts)
    few = split_audience(shop, ids[:40], metas[:40], 5, 15, seed=7)
    assert len(few) <= 2 and all(len(p.customer_ids) >= 15 for p in few)
    tiny = split_audience(shop, ids[:9], metas[:9], 5, 15, seed=7)
    assert len(tiny) == 1 and tiny[0].customer_ids == ids[:9]


def test_split_audience_names_by_the_shop_wide_taste_and_the_same_age_bands(tool: ProfilesTool, shop: Shop) -> None:
    query = AudienceQuery(text="x", filter=AudienceFilter(genres=["Sci-Fi"], lifecycle=["lapsed"]), limit=2000,
                          derive_filter=False)  # fmt: skip
    hits = tool.retrieve(query).portraits
    parts = split_audience(shop, [h.customer_id for h in hits], [h.metadata for h in hits], 3, 15, seed=7)
    assert len({p.profile.name for p in parts}) == len(parts) > 1
    for part in parts:
        assert "Sci-Fi" in part.profile.loves and part.profile.name.startswith(" & ".join(part.profile.loves))
        assert ", lapsed " in part.profile.name and part.profile.lifecycle_mix == {"lapsed": len(part.customer_ids)}
        assert age_band(part.profile.median_age or 0) in part.profile.name


def test_the_planning_sample_is_the_smallest_ids_and_stays_as_the_audience_grows(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert planning_sample(["c", "a", "b"]).tolist() == [0, 1, 2]  # small: the whole audience, in its order
    monkeypatch.setattr(segments_module, "PLANNING_SAMPLE", 3)
    ids = ["c_9", "c_2", "c_7", "c_1", "c_5"]
    assert [ids[i] for i in planning_sample(ids)] == ["c_1", "c_2", "c_5"]
    grown = ["c_8", *ids, "c_6"]  # ids that sort after the sample do not change it
    assert [grown[i] for i in planning_sample(grown)] == ["c_1", "c_2", "c_5"]


def test_a_large_audience_is_fitted_and_named_on_its_sample_and_every_customer_assigned(
        tool: ProfilesTool, shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(segments_module, "PLANNING_SAMPLE", 300)
    hits = tool.retrieve(AudienceQuery(text="film lovers", limit=5000, derive_filter=False)).portraits
    by_id = sorted(((h.customer_id, h.metadata) for h in hits), key=lambda hit: hit[0])
    ids, metas = [i for i, _ in by_id], [m for _, m in by_id]
    smaller = split_audience(shop, ids[:600][::-1], metas[:600][::-1], 3, 15, seed=7)  # any order
    larger = split_audience(shop, ids, metas, 3, 15, seed=7)
    assert len(ids) > 600 and len(larger) == 3
    assert [p.profile for p in smaller] == [p.profile for p in larger]  # the same sample: the same segments
    assert [p.sample_ids for p in smaller] == [p.sample_ids for p in larger]
    assert sorted(c for p in larger for c in p.sample_ids) == ids[:300]
    assert sorted(c for p in larger for c in p.customer_ids) == ids  # everyone assigned
    for part in larger:
        assert set(part.sample_ids) <= set(part.customer_ids) and len(part.customer_ids) > len(part.sample_ids)
        assert sum(part.lifecycle_mix.values()) == len(part.customer_ids)
