"""The scale-test shop: replicas of the real retail customers, labelled, deterministic, ingested resumably, planned
with the same LLM calls at two sizes."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agent.brief import check_against_shop, load_brief
from agent.llm import ChatReply, ChatRequest, FunctionModel
from agent.loop import Planner, PlannerTools
from agent.settings import Settings
from tests.serve.api_harness import copywriter
from tests.tools.portraits.chroma_server import ENV_URL, chroma_server
from tools.audience import AudienceQuery, ProfilesTool
from tools.copywriting import CopyTool
from tools.effect import EffectRequest, PurchaseEffect
from tools.portraits import PortraitStore
from tools.portraits import segments as segments_module
from tools.recommend import RecommendRequest, RecommendTool
from tools.scale import (
    BLOCK,
    SCALE_LABEL,
    ScaleEffect,
    ScaleRecommend,
    SourcePortraits,
    build_scale_shop,
    ingest_scale_store,
    open_scale_store,
    parse_size,
    replica_block,
    replica_table,
    scale_shop_name,
    size_label,
)
from tools.shop import Shop

BRIEF = Path(__file__).resolve().parents[3] / "examples" / "briefs" / "christmas_gifts.yaml"


@pytest.fixture(scope="module")
def source(retail_store: PortraitStore) -> SourcePortraits:
    return SourcePortraits.from_collection(retail_store.collection, "retail")


def test_sizes_read_and_print():
    assert [parse_size(s) for s in ("10k", "100K", "1m", "2500")] == [10_000, 100_000, 1_000_000, 2500]
    assert [size_label(n) for n in (10_000, 1_000_000, 2500)] == ["10k", "1m", "2500"]
    with pytest.raises(ValueError, match="not a customer count"):
        parse_size("0")


def test_replicas_are_deterministic_and_the_smaller_shop_is_a_prefix(source: SourcePortraits):
    first, again = replica_block(source, 7, 0, 300), replica_block(source, 7, 0, 300)
    assert first.ids == again.ids and first.documents == again.documents and first.metadata == again.metadata
    assert np.array_equal(first.vectors, again.vectors)
    longer = replica_block(source, 7, 0, 900)
    assert longer.ids[:300] == first.ids and np.array_equal(longer.vectors[:300], first.vectors)
    other = replica_block(source, 8, 0, 300)
    assert not np.array_equal(other.sources, first.sources)
    table = replica_table(source, 7, BLOCK + 10)
    assert table["customer_id"].tolist()[:300] == first.ids
    assert table["source_id"].tolist()[:300] == [source.ids[i] for i in first.sources]
    assert replica_table(source, 7, BLOCK + 10).equals(table)
    with pytest.raises(ValueError, match="within one block"):
        replica_block(source, 7, 10, 20)


def test_replicas_are_perturbed_copies_labelled_scale_test(source: SourcePortraits):
    block = replica_block(source, 3, 0, 500)
    assert not set(block.ids) & set(source.ids)
    real = source.vectors[block.sources]
    assert np.allclose(np.linalg.norm(block.vectors, axis=1), 1.0, atol=1e-5)
    cosine = np.sum(block.vectors * real, axis=1)
    assert cosine.min() > 0.9 and cosine.max() < 1.0
    shifted = spent = 0
    for meta, row, days, factor, text in zip(block.metadata, block.sources, block.shift_days, block.spend_factor,
                                             block.documents, strict=True):
        original = source.metadata[row]
        assert meta["scale_test"] is True and meta["source_customer"] == source.ids[row]
        if original.get("last_active"):
            assert meta["last_active"] == original["last_active"] - int(days) * 86_400
            shifted += days > 0
        if original.get("total_spend"):
            assert meta["total_spend"] == pytest.approx(original["total_spend"] * factor, abs=0.01)
            assert f"spent {meta['total_spend']:.2f} in total" in text
            spent += 1
        stage = "lapsed" if source.end - meta.get("last_active", source.end) > 90 * 86_400 else None
        if stage and original.get("lifecycle") != "new":
            assert meta["lifecycle"] == "lapsed" and text.count("Lapsed customer") == 1
    assert shifted > 400 and spent > 400


def test_ingestion_resumes_and_labels_the_store(settings: Settings, source: SourcePortraits,
                                                retail_store: PortraitStore, tmp_path):
    local = settings.model_copy(update={"home": tmp_path})
    half = ingest_scale_store(local, source, 300, 5, source_store=retail_store)
    assert (half.written, half.skipped, half.size) == (300, 0, 300)
    # A larger shop of the same seed in its own store; then the same size again writes nothing.
    whole = ingest_scale_store(local, source, 700, 5, source_store=retail_store)
    assert (whole.written, whole.size) == (700, 700)
    again = ingest_scale_store(local, source, 700, 5, source_store=retail_store)
    assert (again.written, again.skipped, again.size) == (0, 700, 700)
    store = open_scale_store(local, "retail", 700)
    stored = store.collection.get(ids=[replica_block(source, 5, 0, 3).ids[2]], include=["metadatas"])
    assert stored["metadatas"][0]["scale_test"] is True
    meta = store.metadata()
    assert meta["shop"] == "retail-scale-700" and meta["scale_test"].startswith(SCALE_LABEL)
    assert json.loads(meta["vocabulary"]) == retail_store.vocabulary()
    hits = ProfilesTool(store).retrieve(AudienceQuery(text="lapsed customers who love Christmas", limit=20))
    assert hits.portraits and all(h.customer_id.startswith("st5-") for h in hits.portraits)


@pytest.mark.e2e  # a real Chroma server on loopback
def test_a_chroma_server_store_reports_its_size_from_the_servers_folder(
        settings: Settings, source: SourcePortraits, retail_store: PortraitStore, tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_URL, raising=False)  # a server of our own, so its folder is known
    with chroma_server(tmp_path / "server") as url:
        remote = settings.model_copy(update={"home": tmp_path / "home", "chroma_url": url})
        unknown = ingest_scale_store(remote, source, 200, 5, source_store=retail_store)
        assert (unknown.written, unknown.store_mb, unknown.vector_segment_mb) == (200, None, None)
        more = ingest_scale_store(remote, source, 400, 5, source_store=retail_store,
                                  server_path=tmp_path / "server" / "db")
        assert more.written == 400 and more.store_mb is not None and more.vector_segment_mb is not None
        assert more.store_mb > more.vector_segment_mb > 0  # the server's whole folder holds both collections
    assert not (tmp_path / "home").exists() or not any((tmp_path / "home").rglob("chroma.sqlite3"))


def test_the_matrix_and_summaries_replicate_the_real_customers(retail_shop: Shop, source: SourcePortraits):
    replicas = replica_table(source, 11, 400)
    scale = build_scale_shop(retail_shop, replicas)
    assert scale.shop.name == "retail-scale-400" and SCALE_LABEL in scale.label
    assert scale.matrix.shape == (400, len(retail_shop.products))
    events = retail_shop.interactions
    for n in (0, 17, 399):
        row = replicas.iloc[n]
        own = events[events["customer_id"] == row["source_id"]]
        spent = own.groupby("product_id")["value"].sum()
        got = pd.Series(scale.matrix[n].toarray().ravel(), index=scale.product_ids)
        expected = (spent * row["spend_factor"]).reindex(scale.product_ids).fillna(0.0)
        assert np.allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-5, atol=1e-3)
        summary = scale.summaries.iloc[n]
        if len(own):
            assert summary["last_active"] == own["timestamp"].max() - row["shift_days"] * 86_400
            assert summary["n_purchases"] == len(own)
        mine = scale.shop.interactions[scale.shop.interactions["customer_id"] == row["customer_id"]]
        assert len(mine) == min(5, own["product_id"].nunique())
    assert build_scale_shop(retail_shop, replicas).matrix.toarray().tolist() == scale.matrix.toarray().tolist()


def test_the_real_models_score_a_replica_as_its_source(retail_tools: PlannerTools, source: SourcePortraits):
    effect, recommend = retail_tools.effect, retail_tools.recommend
    assert isinstance(effect, PurchaseEffect) and isinstance(recommend, RecommendTool)
    replicas = replica_table(source, 2, 3000)
    with_orders = replicas[replicas["source_id"].isin(set(effect.customer_ids))]
    scaled = ScaleEffect.for_replicas(effect, replicas, "scale test: 3000 replicas")
    assert "scale test" in scaled.model_card["scale_test"] and "scale_test" not in effect.model_card
    # Lookups by replica id go through one object index, whose hash table is built once: an Arrow string index is
    # converted again on every lookup, which made send-list scoring quadratic in the audience.
    for index in (scaled.source_of.index, scaled.customer_ids, ScaleRecommend.for_replicas(recommend,
                                                                                           replicas).source_of.index):
        assert index.dtype == object and len(index) == 3000
    products = effect.product_ids[:3].tolist()
    distinct = with_orders.drop_duplicates("source_id").head(40)
    ids = distinct["customer_id"].tolist()
    got = scaled.predict(EffectRequest(customer_ids=ids, product_ids=products))
    real = effect.predict(EffectRequest(customer_ids=distinct["source_id"].tolist(), product_ids=products))
    for mine, theirs in zip(got.estimates, real.estimates, strict=True):
        assert mine.n_customers == 40 and mine.point == pytest.approx(theirs.point, rel=1e-9)
        assert mine.already_rated == theirs.already_rated
    # Two replicas of one real customer count twice, at that customer's probability.
    twins = with_orders[with_orders["source_id"].duplicated(keep=False)].sort_values("source_id").head(2)
    assert twins["source_id"].nunique() == 1
    pair = scaled.predict(EffectRequest(customer_ids=twins["customer_id"].tolist(), product_ids=products))
    one = effect.predict(EffectRequest(customer_ids=twins["source_id"].head(1).tolist(), product_ids=products))
    for mine, theirs in zip(pair.estimates, one.estimates, strict=True):
        assert mine.n_customers == 2 and mine.point == pytest.approx(theirs.point, rel=1e-9)
        assert mine.already_rated == 2 * theirs.already_rated
    p = scaled.ranker.score(ids[:5], [products[0]] * 5)
    assert np.allclose(p, effect.ranker.score(distinct["source_id"].head(5).tolist(), [products[0]] * 5))
    tool = ScaleRecommend.for_replicas(recommend, replicas)
    mine_r = tool.score(RecommendRequest(customer_ids=ids[:10], k=5))
    theirs_r = recommend.score(RecommendRequest(customer_ids=distinct["source_id"].head(10).tolist(), k=5))
    assert [p.product_id for p in mine_r.products] == [p.product_id for p in theirs_r.products]
    assert mine_r.n_customers == 10


def test_plans_ask_the_llm_the_same_questions_at_two_sizes(retail_tools: PlannerTools, source: SourcePortraits,
                                                           retail_store: PortraitStore, settings: Settings, tmp_path,
                                                           monkeypatch: pytest.MonkeyPatch):
    # The planning sample made small, so both audiences (about 330 and 750 lapsed replicas) are larger than it, as
    # the 10k, 100k and 1M shops' are larger than the real one of 4,096: the smaller shop is the larger one's prefix.
    monkeypatch.setattr(segments_module, "PLANNING_SAMPLE", 150)
    effect, recommend = retail_tools.effect, retail_tools.recommend
    assert isinstance(effect, PurchaseEffect)
    calls, audiences, prompts, plans = [], [], [], []
    for size in (700, 1600):
        asked: list[str] = []

        def recording(request: ChatRequest, asked: list[str] = asked) -> ChatReply:
            asked.append("\n".join(m.content or "" for m in request.messages))
            return copywriter(request)

        local = settings.model_copy(update={"home": tmp_path / str(size)})
        ingest_scale_store(local, source, size, 9, source_store=retail_store)
        replicas = replica_table(source, 9, size)
        scale = build_scale_shop(retail_tools.shop, replicas, scale_shop_name("retail", size))
        store = open_scale_store(local, "retail", size)
        tools = dataclasses.replace(
            retail_tools, shop=scale.shop, profiles=ProfilesTool(store),
            recommend=ScaleRecommend.for_replicas(recommend, replicas),
            effect=ScaleEffect.for_replicas(effect, replicas, scale.label),
            copy=CopyTool(FunctionModel(recording), retries=0), audience_dir=tmp_path / f"audiences-{size}",
        )
        brief = load_brief(BRIEF).model_copy(update={"shop": scale.shop.name, "send_budget": 500,
                                                     "max_revisions": 1})
        plan = Planner(tools, seed=1).run(check_against_shop(brief, store.vocabulary()))
        assert plan.status == "ok" and plan.shop == scale.shop.name and plan.totals is not None
        assert "scale test" in plan.effect_model_card["scale_test"]
        calls.append(plan.totals.llm_calls)
        audiences.append(plan.audience.size)
        prompts.append(sorted(asked))
        plans.append(plan)
    assert audiences[1] > audiences[0] > 150
    assert calls[0] == calls[1] > 0 and prompts[0] == prompts[1]
    small, large = plans
    assert [s.name for s in small.segments] == [s.name for s in large.segments]
    assert [s.description for s in small.segments] == [s.description for s in large.segments]
    for s in large.segments:  # every member segmented and counted; the estimates read the sample, scaled up
        assert sum(s.lifecycle_mix.values()) == s.size and not s.sample_ids  # the plan keeps counts, not the sample
        assert all(e.value is not None and e.value.customers == s.size > e.n_customers for e in s.product_effects)
        assert "customers (a uniform sample of" in s.product_effects[0].factors[0]
    assert sum(s.product_effects[0].n_customers for s in large.segments) == 150
    assert sum(s.size for s in large.segments) == large.audience.size
