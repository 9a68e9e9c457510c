"""Audience descriptions in English and Chinese turned into filters, on the real MovieLens index."""

from __future__ import annotations

import pytest

from tools.audience import AudienceFilter, AudienceQuery, ProfilesTool
from tools.audience.terms import derive_filter
from tools.portraits import PortraitStore
from tools.shop import Shop

DAY = 86_400


@pytest.fixture(scope="module")
def tool(store: PortraitStore) -> ProfilesTool:
    return ProfilesTool(store)


@pytest.fixture(scope="module")
def vocabulary(store: PortraitStore) -> dict[str, list[str]]:
    return store.vocabulary()


@pytest.mark.parametrize(
    ("text", "fields", "semantic"),
    [
        ("lapsed documentary fans over 40 in the north-east",
         {"age_min": 41, "age_max": None, "lifecycle": ["lapsed"], "genres": ["Documentary"], "regions": ["Northeast"]},
         "documentary fans"),
        ("women under 25 who love science fiction",
         {"age_min": None, "age_max": 24, "gender": "F", "genres": ["Sci-Fi"]}, "love science fiction"),
        ("inactive students aged 25-34 in the Midwest, docs and comedies",
         {"age_min": 25, "age_max": 34, "lifecycle": ["lapsed"], "occupations": ["student"], "regions": ["Midwest"],
          "genres": ["Comedy", "Documentary"]}, "docs and comedies"),
        ("churned western fans living in the West, 40+",
         {"age_min": 40, "age_max": None, "lifecycle": ["lapsed"], "genres": ["Western"], "regions": ["West"]},
         "western fans"),
        ("new customers in their 30s", {"age_min": 30, "age_max": 39, "lifecycle": ["new"]}, "new customers"),
        ("fans who rated over 40 movies", {}, "fans who rated over 40 movies"),
    ],
)  # fmt: skip
def test_english_descriptions(text: str, fields: dict, semantic: str, vocabulary: dict[str, list[str]]) -> None:
    derived = derive_filter(text, vocabulary)
    assert {k: sorted(v) if isinstance(v, list) else v for k, v in derived.fields.items()} == fields
    assert derived.semantic_text == semantic and not derived.translated


@pytest.mark.parametrize(
    ("text", "fields", "semantic"),
    [
        ("40岁以上东北部流失的纪录片爱好者",
         {"age_min": 40, "age_max": None, "lifecycle": ["lapsed"], "genres": ["Documentary"], "regions": ["Northeast"]},
         "Documentary fans"),
        ("25-34岁喜欢科幻和喜剧的新客",
         {"age_min": 25, "age_max": 34, "lifecycle": ["new"], "genres": ["Comedy", "Sci-Fi"]},
         "Comedy and Sci-Fi fans"),
        ("住在西部的女性西部片影迷", {"gender": "F", "genres": ["Western"], "regions": ["West"]}, "Western fans"),
        ("三十多岁的恐怖片粉丝", {"age_min": 30, "age_max": 39, "genres": ["Horror"]}, "Horror fans"),
        ("不活跃的学生", {"lifecycle": ["lapsed"], "occupations": ["student"]}, "lapsed customers"),
    ],
)  # fmt: skip
def test_chinese_descriptions(text: str, fields: dict, semantic: str, vocabulary: dict[str, list[str]]) -> None:
    derived = derive_filter(text, vocabulary)
    assert {k: sorted(v) if isinstance(v, list) else v for k, v in derived.fields.items()} == fields
    assert derived.semantic_text == semantic and derived.translated
    assert any("English-only" in note for note in derived.notes)


def test_unknown_chinese_words_and_missing_money_are_reported(vocabulary: dict[str, list[str]]) -> None:
    derived = derive_filter("喜欢看书的高消费上海人", vocabulary)
    assert derived.fields == {}
    assert any("看书上海人" in note for note in derived.notes)
    assert any("records no money" in note for note in derived.notes)


def test_derived_filter_is_applied_and_shown(tool: ProfilesTool, shop: Shop) -> None:
    result = tool.retrieve(AudienceQuery(text="lapsed drama fans over 40 in the north-east", limit=500))
    used = result.filter_used
    assert (used.age_min, used.regions, used.lifecycle, used.genres) == (41, ["Northeast"], ["lapsed"], ["Drama"])
    assert result.derived_from_text == {
        "over 40": "age ≥ 41", "lapsed": "lifecycle = lapsed", "drama": "genre = Drama",
        "north-east": "region = Northeast",
    }  # fmt: skip
    assert result.semantic_text == "drama fans" and result.portraits, result.message
    people = shop.customers.set_index("customer_id")
    last = shop.interactions.groupby("customer_id")["timestamp"].max()
    end = shop.interactions["timestamp"].max()
    for hit in result.portraits:
        assert people.at[hit.customer_id, "age"] > 40 and people.at[hit.customer_id, "region"] == "Northeast"
        assert end - last[hit.customer_id] > 90 * DAY and "Drama" in hit.metadata["top_genres"]


def test_chinese_retrieval_matches_the_english_one(tool: ProfilesTool) -> None:
    chinese = tool.retrieve(AudienceQuery(text="40岁以上东北部流失的剧情片爱好者", limit=500))
    english = tool.retrieve(AudienceQuery(text="lapsed drama fans aged 40+ in the north-east", limit=500))
    assert chinese.filter_used == english.filter_used and chinese.where == english.where
    assert chinese.semantic_text == "Drama fans" and any("English-only" in n for n in chinese.notes)
    assert {h.customer_id for h in chinese.portraits} == {h.customer_id for h in english.portraits}


def test_explicit_filter_wins_and_derivation_can_be_off(tool: ProfilesTool) -> None:
    result = tool.retrieve(AudienceQuery(text="horror fans over 40", filter=AudienceFilter(age_max=30)))
    assert (result.filter_used.age_min, result.filter_used.age_max) == (None, 30)
    assert result.filter_used.genres == ["Horror"]
    assert any("explicit filter wins" in note and "over 40" in note for note in result.notes)
    assert all(hit.metadata["age"] <= 30 for hit in result.portraits)
    plain = tool.retrieve(AudienceQuery(text="horror fans over 40", derive_filter=False, limit=5))
    assert plain.filter_used == AudienceFilter() and plain.derived_from_text == {}
    assert plain.semantic_text == "horror fans over 40"


def test_segments_are_named_stored_and_filterable(tool: ProfilesTool, store: PortraitStore) -> None:
    names = store.vocabulary()["segments"]
    assert len(names) == 8 and len(set(names)) == 8
    assert all(" lovers, " in n or "broad tastes" in n for n in names)
    chosen = names[2]
    result = tool.retrieve(AudienceQuery(text=f"{chosen} segment", limit=5000))
    assert result.filter_used.segments == [chosen] and result.derived_from_text
    assert result.portraits and all(h.metadata["segment_name"] == chosen for h in result.portraits)
    assert all(h.metadata["segment"] == 2 for h in result.portraits)
    by_number = tool.retrieve(AudienceQuery(text="x", filter=AudienceFilter(segments=["2"]), limit=5000))
    assert {h.customer_id for h in by_number.portraits} == {h.customer_id for h in result.portraits}
    model = store.segment_model()
    assert model is not None and model.names == names and sum(model.sizes) == store.count() + len(store.erased_ids())
