"""Portraits and audience retrieval on the real MovieLens-100k shop (index built once per session)."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
import pytest

from tools.audience import AudienceFilter, AudienceQuery, ProfilesTool
from tools.portraits import PortraitStore
from tools.portraits.building import build_portraits
from tools.portraits.memory_index import _known_values
from tools.portraits.portrait import PortraitConfig
from tools.shop import Shop

DAY = 86_400


@pytest.fixture(scope="session")
def tool(store: PortraitStore) -> ProfilesTool:
    return ProfilesTool(store)


def _rated_genres(shop: Shop) -> pd.Series:
    """Customer id to the set of genres of the movies they rated (straight from the shop tables)."""
    rated = shop.interactions.merge(shop.products[["product_id", "genres"]], on="product_id")
    return rated.explode("genres").groupby("customer_id")["genres"].agg(set)


def test_portraits_describe_real_customers_without_raw_ids(shop: Shop) -> None:
    portraits = build_portraits(shop)
    assert len(portraits) == 943
    first = portraits[0]  # MovieLens user 1: 24-year-old male technician, zip 85711
    assert first.text.startswith("24-year-old male technician in the Mountain region.")
    assert first.n_ratings == 272
    assert abs(sum(first.interests.values()) - 1.0) < 1e-3
    for portrait in portraits:
        assert "85711" not in portrait.text and portrait.customer_id not in portrait.text
    counts = pd.Series([p.lifecycle for p in portraits]).value_counts()
    assert set(counts.index) == {"new", "active", "lapsed"}


def test_lifecycle_follows_the_stated_rule(shop: Shop) -> None:
    config = PortraitConfig()
    end = shop.interactions["timestamp"].max()
    span = shop.interactions.groupby("customer_id")["timestamp"].agg(["min", "max"])
    for portrait in build_portraits(shop, config):
        first, last = span.loc[portrait.customer_id]
        if portrait.lifecycle == "lapsed":
            assert end - last > config.lapsed_after_days * DAY
        elif portrait.lifecycle == "new":
            assert end - first <= config.new_within_days * DAY
        else:
            assert end - last <= config.lapsed_after_days * DAY
            assert end - first > config.new_within_days * DAY
    assert "lapsed" in config.lifecycle_rule() and "90 days" in config.lifecycle_rule()


def test_filtered_audience_satisfies_every_condition(tool: ProfilesTool, shop: Shop) -> None:
    audience = AudienceFilter(age_min=18, age_max=35, lifecycle=["lapsed"], genres=["sci fi"])
    result = tool.retrieve(
        AudienceQuery(text="lapsed science fiction and space fans", filter=audience, limit=5000)
    )
    assert result.filter_used.genres == ["Sci-Fi"]  # canonicalised
    assert result.portraits, result.message
    ages = shop.customers.set_index("customer_id")["age"]
    last = shop.interactions.groupby("customer_id")["timestamp"].max()
    end = shop.interactions["timestamp"].max()
    rated = _rated_genres(shop)
    for hit in result.portraits:
        assert 18 <= ages[hit.customer_id] <= 35
        assert end - last[hit.customer_id] > 90 * DAY
        assert "Sci-Fi" in rated[hit.customer_id]
        assert "Sci-Fi" in hit.metadata["top_genres"]
    scores = [hit.score for hit in result.portraits]
    assert scores == sorted(scores, reverse=True) and all(0.0 <= s <= 1.0 for s in scores)
    assert {"opted_out": False} in result.where["$and"]


def test_query_text_ranks_related_portraits_first(tool: ProfilesTool) -> None:
    result = tool.retrieve(AudienceQuery(text="horror fans", limit=10))
    assert len(result.portraits) == 10
    # About 10% of all customers have Horror among their top genres; the top 10 are mostly horror fans.
    assert sum("Horror" in hit.metadata["top_genres"] for hit in result.portraits) >= 7


def test_empty_result_says_what_to_widen(tool: ProfilesTool) -> None:
    audience = AudienceFilter(age_min=110, age_max=120, lifecycle=["lapsed"], genres=["Documentary"])
    result = tool.retrieve(AudienceQuery(text="documentary fans", filter=audience))
    assert result.portraits == []
    assert result.message.startswith(
        "No customer matches: age 110–120 AND lifecycle=lapsed AND genre Documentary"
    )
    assert "try widening age 110–120" in result.message


def test_unknown_filter_values_list_the_valid_ones(tool: ProfilesTool) -> None:
    with pytest.raises(ValueError, match=r"unknown genre 'Space Opera'; valid: Action, Adventure"):
        tool.retrieve(AudienceQuery(text="x", filter=AudienceFilter(genres=["Space Opera"])))
    with pytest.raises(ValueError, match=r"unknown region 'Mars'; valid: .*Mountain"):
        tool.retrieve(AudienceQuery(text="x", filter=AudienceFilter(regions=["Mars"])))
    with pytest.raises(ValueError, match="age_min 40 is above age_max 20"):
        AudienceFilter(age_min=40, age_max=20)


def test_opt_out_excludes_and_survives_rebuild(tool: ProfilesTool, store: PortraitStore, shop: Shop) -> None:
    query = AudienceQuery(text="horror movie fans", limit=5)
    chosen = tool.retrieve(query).portraits[0].customer_id
    store.set_opt_out(chosen, True)
    try:
        assert chosen not in [hit.customer_id for hit in tool.retrieve(query).portraits]
        assert store.build(shop).embedded == 0
        assert store.collection.get(ids=[chosen])["metadatas"][0]["opted_out"] is True
    finally:
        store.set_opt_out(chosen, False)
    assert chosen in [hit.customer_id for hit in tool.retrieve(query).portraits]
    with pytest.raises(KeyError):
        store.set_opt_out("c_0000000000000000", True)


def test_erase_removes_for_good(tool: ProfilesTool, store: PortraitStore, shop: Shop) -> None:
    query = AudienceQuery(text="western movie fans", limit=3)
    chosen = tool.retrieve(query).portraits[0].customer_id
    assert store.erase(chosen) is True
    assert store.collection.get(ids=[chosen])["ids"] == []
    assert chosen not in [hit.customer_id for hit in tool.retrieve(query).portraits]
    report = store.build(shop)
    assert report.skipped_erased == 1 and report.embedded == 0
    assert store.collection.get(ids=[chosen])["ids"] == []
    assert store.count() == 942
    assert store.erase(chosen) is False


def test_incremental_rebuild_embeds_only_changes(store: PortraitStore, shop: Shop) -> None:
    unchanged = store.build(shop)
    assert unchanged.embedded == 0 and unchanged.removed == 0
    customers = shop.customers.copy()
    row = int((~customers["customer_id"].isin(store.erased_ids())).to_numpy().argmax())
    customers.loc[row, "age"] = int(customers.loc[row, "age"]) + 1  # one real customer has a birthday
    changed = store.build(dataclasses.replace(shop, customers=customers))
    assert (changed.added, changed.updated) == (0, 1)
    assert changed.unchanged == unchanged.unchanged - 1
    restored = store.build(shop)
    assert restored.updated == 1


def test_no_zip_codes_raw_ids_or_emails_in_index_or_tool_output(
    tool: ProfilesTool, store: PortraitStore, settings
) -> None:
    users = pd.read_csv(settings.data_dir / "ml-100k" / "ml-100k.user", sep="\t", dtype=str)
    zips = set(users["zip_code:token"])
    stored = store.collection.get(include=["documents", "metadatas"])
    result = tool.retrieve(AudienceQuery(text="sci-fi fans in the Northeast", limit=200))
    blobs = [*(stored["documents"] or []), *(str(m) for m in stored["metadatas"] or []), result.model_dump_json()]
    for blob in blobs:
        assert not zips & set(re.findall(r"\b[0-9A-Z]{5}\b", blob))
        assert not re.search(r"[\w.]+@[\w.]+", blob)
    assert all(re.fullmatch(r"c_[0-9a-f]{16}", cid) for cid in stored["ids"])


def test_retrieve_all_returns_every_match_in_the_order_of_the_limited_search(tool: ProfilesTool) -> None:
    where = AudienceFilter(lifecycle=["lapsed", "active"])
    query = AudienceQuery(text="fans of thrillers", filter=where, limit=50)
    everyone = tool.retrieve_all(query, page_size=97)  # pages that do not divide the audience
    ids = everyone.customer_ids
    assert everyone.filter_used.genres == ["Thriller"]  # read out of the text, as retrieve reads it
    assert len(ids) == len(set(ids)) == tool.count(everyone.filter_used) > 50
    limited = tool.retrieve(query).portraits
    assert ids[:50] == [h.customer_id for h in limited]
    assert everyone.scores[:50] == pytest.approx([h.score for h in limited])
    assert everyone.scores == sorted(everyone.scores, reverse=True)
    assert everyone.where == tool.retrieve(query).where
    # a metadata row per customer, in order, with the values a hit of the limited search carries
    assert len(everyone.metadata) == len(ids) and set(everyone.metadata["lifecycle"]) <= {"lapsed", "active"}
    rows = everyone.metadata.head(50).to_dict("records")
    for hit, row in zip(limited, rows, strict=True):
        assert _known_values(row) == hit.metadata
    assert "metadata" not in everyone.model_dump() and everyone.top(2) == [
        {"customer_id": ids[n], "score": round(everyone.scores[n], 4)} for n in range(2)]


def test_the_whole_audience_table_leaves_out_customers_no_longer_in_the_mirror(tool: ProfilesTool) -> None:
    index = tool.store.index()
    ids, scores = index.rank_all(tool.store.embed(["fans of thrillers"])[0], None)
    asked = [*ids[:3], "c_erased_since", *ids[3:10]]  # e.g. erased between ranking and reading
    found, found_scores, meta = index.table_of(asked, np.concatenate([scores[:3], [0.5], scores[3:10]]), page_size=4)
    assert found == ids[:10] and np.allclose(found_scores, scores[:10])
    assert meta.index.equals(pd.RangeIndex(10)) and list(meta["lifecycle"]) == [
        index.metadata(index.row(c))["lifecycle"] for c in ids[:10]]
