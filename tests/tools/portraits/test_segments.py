"""The one segmenter on the real MovieLens-100k shop: index-wide model, plan-time split, names, age bands."""

from __future__ import annotations

import numpy as np
import pytest

from tools.audience import AudienceFilter, AudienceQuery, ProfilesTool
from tools.portraits import PortraitStore, split_audience
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


def test_minibatch_cluster_is_deterministic_and_keeps_every_row(portraits: list[Portrait], shop: Shop) -> None:
    columns = SegmentColumns.from_portraits(portraits, shop_genres(shop))
    names, mean, scale = _standardised(columns)
    points = (_raw_features(columns, names) - mean) / scale
    labels, centres = cluster(points, 4, MIN_MEMBERS_PER_SEGMENT, seed=42, minibatch=True)
    again, _ = cluster(points, 4, MIN_MEMBERS_PER_SEGMENT, seed=42, minibatch=True)
    sizes = np.bincount(labels)
    assert np.array_equal(labels, again) and len(sizes) == len(centres) >= 2
    assert sizes.sum() == len(points) and sizes.min() >= MIN_MEMBERS_PER_SEGMENT
    assert list(sizes) == sorted(sizes, reverse=True)


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
