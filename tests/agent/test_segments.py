"""A plan's segments from real retrieved audiences (MovieLens-100k index built once per session)."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest

from agent.segments import MIN_SEGMENT_SIZE, _share_words, form_segments
from tools.audience import AudienceFilter, AudienceQuery, ProfilesTool
from tools.portraits import PortraitStore
from tools.portraits import segments as segments_module
from tools.portraits.memory_index import _known_values
from tools.portraits.segments import AGE_BANDS
from tools.shop import Shop


@pytest.fixture(scope="module")
def tool(store: PortraitStore) -> ProfilesTool:
    return ProfilesTool(store)


def audience(tool: ProfilesTool, **conditions: Any) -> tuple[list[str], list[dict[str, Any]]]:
    query = AudienceQuery(text="film lovers", filter=AudienceFilter(**conditions), limit=5000, derive_filter=False)
    hits = tool.retrieve(query).portraits
    return [h.customer_id for h in hits], [h.metadata for h in hits]


def test_a_segment_of_60_year_olds_is_named_with_the_marketing_band_55_to_64(tool: ProfilesTool, shop: Shop) -> None:
    ids, metas = audience(tool, age_min=60, age_max=60)
    assert ids and all(m["age"] == 60 for m in metas)
    (segment,) = form_segments(ids, metas, shop, max_segments=3, seed=7)
    assert segment.median_age == 60 and segment.name.endswith(", 55–64") and "55+" not in segment.name
    ids, metas = audience(tool, age_min=55, age_max=64)
    segments = form_segments(ids, metas, shop, max_segments=3, seed=7)
    assert all(s.name.endswith(", 55–64") for s in segments)


def test_segments_honour_max_segments_and_the_minimum_size(tool: ProfilesTool, shop: Shop) -> None:
    ids, metas = audience(tool)
    for max_segments in (1, 4, 8):
        segments = form_segments(ids, metas, shop, max_segments=max_segments, seed=7)
        sizes = [s.size for s in segments]
        assert 1 <= len(segments) <= max_segments and min(sizes) >= MIN_SEGMENT_SIZE
        assert sizes == sorted(sizes, reverse=True) and [s.segment_id for s in segments] == [
            f"S{i}" for i in range(1, len(segments) + 1)
        ]
        assert sorted(c for s in segments for c in s.customer_ids) == sorted(ids)
        assert all(s.size == len(s.customer_ids) == sum(s.lifecycle_mix.values()) for s in segments)
    few = form_segments(ids[: 2 * MIN_SEGMENT_SIZE + 5], metas[: 2 * MIN_SEGMENT_SIZE + 5], shop, 5, seed=7)
    assert len(few) <= 2 and all(s.size >= MIN_SEGMENT_SIZE for s in few)


def test_names_within_a_plan_are_distinct_and_descriptions_state_the_facts(tool: ProfilesTool, shop: Shop) -> None:
    bands = "|".join(label for _, label in AGE_BANDS)
    for conditions in ({"lifecycle": ["lapsed"], "genres": ["Sci-Fi"]}, {"genres": ["Drama"]}, {}):
        ids, metas = audience(tool, **conditions)
        segments = form_segments(ids, metas, shop, max_segments=6, seed=7)
        assert len({s.name for s in segments}) == len(segments) > 1
        for s in segments:
            assert re.search(rf", ({bands})(, |$| \()", s.name), s.name
            stage, count = max(s.lifecycle_mix.items(), key=lambda item: item[1])
            assert s.description.startswith(f"{s.size} customers; {count} of them {stage}; ")
            assert f"median age {s.median_age:.0f}" in s.description
            assert f"watch more {', '.join(s.top_genres) or 'of everything'} than the average customer" in s.description
            assert s.name.startswith(f"{' & '.join(s.top_genres)} lovers" if s.top_genres else "broad tastes")


def test_the_whole_audience_table_segments_as_its_rows_as_dicts_do(tool: ProfilesTool, shop: Shop) -> None:
    table = tool.retrieve_all(AudienceQuery(text="film lovers", filter=AudienceFilter(lifecycle=["lapsed"])))
    dicts = [_known_values(row) for row in table.metadata.to_dict("records")]  # as a hit's metadata reads
    assert len(table.customer_ids) > 4 * MIN_SEGMENT_SIZE and all(d["lifecycle"] == "lapsed" for d in dicts)
    columns = form_segments(table.customer_ids, table.metadata, shop, max_segments=4, seed=7)
    assert len(columns) > 1 and columns == form_segments(table.customer_ids, dicts, shop, max_segments=4, seed=7)


def test_an_audience_with_a_repeated_customer_or_no_lifecycle_is_refused(tool: ProfilesTool, shop: Shop) -> None:
    ids, metas = audience(tool)
    with pytest.raises(ValueError, match="more than once"):
        form_segments([*ids[:20], ids[0]], [*metas[:20], metas[0]], shop, max_segments=2, seed=7)
    with pytest.raises(ValueError, match="lifecycle"):
        form_segments(ids[:20], [{k: v for k, v in m.items() if k != "lifecycle"} for m in metas[:20]], shop, 2, 7)


def test_segments_of_an_audience_above_the_planning_sample_state_its_shares_not_head_counts(
        tool: ProfilesTool, shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(segments_module, "PLANNING_SAMPLE", 250)
    ids, metas = audience(tool)
    segments = form_segments(ids, metas, shop, max_segments=3, seed=7)
    assert len(ids) > 250 and sum(s.size for s in segments) == len(ids)
    for s in segments:
        members = set(s.sample_ids)
        sampled = [m["lifecycle"] for i, m in zip(ids, metas, strict=True) if i in members]
        stage, count = Counter(sampled).most_common(1)[0]  # the sample's commonest stage and its share
        share = _share_words(count, len(sampled))
        assert s.description.startswith(f"{share} {stage}; ") and str(s.size) not in s.description
        assert s.sampled_from() == s.size > len(s.sample_ids) and s.planning_ids() == s.sample_ids
        assert "sample_ids" not in s.model_dump()  # the plan's JSON keeps counts, not the sample


def test_a_share_reads_the_same_at_any_audience_size() -> None:
    assert _share_words(170, 170) == "all" and _share_words(98, 100) == "nearly all"
    assert _share_words(86, 100) == _share_words(8_540, 10_000) == _share_words(851_000, 1_000_000) == "about 85%"
    assert _share_words(1, 100) == "about 5%"
