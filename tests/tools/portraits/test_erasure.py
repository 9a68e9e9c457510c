"""A shop's own purchase data end to end: stored, indexed with RFM, searched by spend, opted out, erased.

Uses the first 300 real CDNOW customers, stored as the shop's own files in a separate temporary home (the
shared MovieLens index is not touched).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from agent.settings import Settings
from tools.audience import AudienceFilter, AudienceQuery, ProfilesTool
from tools.portraits import PortraitStore
from tools.portraits.erasure import erase_customer
from tools.portraits.rfm import compute_rfm
from tools.shop import Shop
from tools.shop.library import ingest_shop_files, load_stored_shop


@pytest.fixture(scope="module")
def home(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder = tmp_path_factory.mktemp("cdnow-home")
    raw = pd.read_csv(settings.data_dir / "cdnow" / "CDNOW_master.txt", sep=r"\s+", dtype=str)
    raw = raw[raw["customer_id"].astype(int) <= 300]
    when = pd.to_datetime(raw["date"], format="%Y%m%d", utc=True)
    events = pd.DataFrame({
        "customer_id": raw["customer_id"], "timestamp": (when - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1),
        "event_type": "purchase", "value": raw["dollar_value"], "quantity": raw["number_of_cds"],
    })  # fmt: skip
    events.to_csv(folder / "events.csv", index=False)
    pd.DataFrame({"customer_id": raw["customer_id"].unique()}).to_csv(folder / "customers.csv", index=False)
    pd.DataFrame(columns=["product_id", "title"]).to_csv(folder / "products.csv", index=False)
    mine = settings.model_copy(update={"home": folder / "home"})
    ingest_shop_files(mine, "cdnow-sample", folder / "customers.csv", folder / "products.csv", folder / "events.csv")
    return mine


@pytest.fixture(scope="module")
def sample(home: Settings) -> Shop:
    return load_stored_shop(home, "cdnow-sample")


@pytest.fixture(scope="module")
def cd_store(home: Settings, sample: Shop) -> PortraitStore:
    store = PortraitStore.from_settings(home)
    store.build(sample)
    return store


def test_spend_band_filter_from_english_and_chinese(cd_store: PortraitStore, sample: Shop) -> None:
    tool = ProfilesTool(cd_store)
    assert cd_store.vocabulary()["spend_bands"] == ["low", "medium", "high"]
    big = tool.retrieve(AudienceQuery(text="big spenders", limit=300))
    assert big.filter_used.spend_bands == ["high"] and big.derived_from_text == {"big spenders": "spend band = high"}
    rfm = compute_rfm(sample)
    assert big.portraits and len(big.portraits) == int((rfm["spend_band"] == "high").sum())
    assert all(rfm.at[h.customer_id, "m"] >= 4 and h.metadata["spend_band"] == "high" for h in big.portraits)
    lapsed_big = tool.retrieve(AudienceQuery(text="高消费的流失客户", limit=300))
    assert lapsed_big.filter_used.spend_bands == ["high"] and lapsed_big.filter_used.lifecycle == ["lapsed"]
    assert {h.customer_id for h in lapsed_big.portraits} < {h.customer_id for h in big.portraits}
    assert all(h.metadata["lifecycle"] == "lapsed" for h in lapsed_big.portraits)
    names = cd_store.vocabulary()["segments"]
    assert names and all("spenders" in n for n in names)


def test_opt_out_from_another_process_is_honoured(cd_store: PortraitStore, home: Settings) -> None:
    tool = ProfilesTool(cd_store)
    query = AudienceQuery(text="big spenders", limit=300)
    chosen = tool.retrieve(query).portraits[0].customer_id
    high = AudienceFilter(spend_bands=["high"])
    before = tool.count(high)
    other = PortraitStore.from_settings(home)  # e.g. the CLI, while this tool keeps its mirror
    other.set_opt_out(chosen, True)
    try:
        assert chosen not in {h.customer_id for h in tool.retrieve(query).portraits}
        assert tool.count(high) == before - 1
    finally:
        other.set_opt_out(chosen, False)
    assert chosen in {h.customer_id for h in tool.retrieve(query).portraits}


def test_erase_reaches_every_copy(cd_store: PortraitStore, home: Settings, sample: Shop) -> None:
    tool = ProfilesTool(cd_store)
    chosen = tool.retrieve(AudienceQuery(text="frequent buyers", limit=1)).portraits[0].customer_id
    purchases = int((sample.interactions["customer_id"] == chosen).sum())
    assert chosen in set(cd_store.tables.load()["customer_id"])  # type: ignore[union-attr]
    report = erase_customer(home, cd_store, chosen)
    assert report.portrait and report.derived_rows == 1
    assert report.shop_rows == {"cdnow-sample/customers.parquet": 1, "cdnow-sample/events.parquet": purchases}
    assert cd_store.collection.get(ids=[chosen])["ids"] == []
    assert cd_store.index().row(chosen) is None
    assert chosen not in {h.customer_id for h in tool.retrieve(AudienceQuery(text="customers", limit=5000)).portraits}
    assert chosen not in set(cd_store.tables.load()["customer_id"])  # type: ignore[union-attr]
    stored = load_stored_shop(home, "cdnow-sample")
    assert chosen not in set(stored.customers["customer_id"]) | set(stored.interactions["customer_id"])
    assert cd_store.build(sample).skipped_erased == 1  # the old copy of the shop still has them: skipped
    assert cd_store.collection.get(ids=[chosen])["ids"] == []


def test_no_raw_ids_or_contact_data_in_documents(cd_store: PortraitStore, home: Settings) -> None:
    stored = cd_store.collection.get(include=["documents", "metadatas"])
    blob = " ".join(stored["documents"] or []) + " ".join(str(m) for m in stored["metadatas"] or [])
    assert not re.search(r"\b\d{5}\b", blob)  # CDNOW raw ids are 5 digits
    assert "@" not in blob
    raw_ids = pd.read_csv(Path(home.home).parent / "customers.csv", dtype=str)["customer_id"]
    assert not set(raw_ids) & set(stored["ids"])
