"""The ``hillstrom`` shop: the Hillstrom e-mail experiment's real customers, its two e-mails as products."""

from __future__ import annotations

import pandas as pd
import pytest

from agent.settings import Settings
from tools.portraits.building import build_portraits
from tools.shop import MENS_EMAIL, WOMENS_EMAIL, list_shops, load_shop, shop_cleaning_report
from tools.shop.hillstrom import TODAY, load_hillstrom_shop


@pytest.fixture(scope="module")
def raw(settings: Settings) -> pd.DataFrame:
    return pd.read_csv(settings.shared_data_dir / "hillstrom_dev.csv")


def test_every_row_is_a_customer_named_by_its_row_number(settings: Settings, raw: pd.DataFrame) -> None:
    shop = load_shop(settings, "hillstrom")
    assert shop.name == "hillstrom"
    assert len(shop.customers) == len(raw) == 48_000
    assert shop.customers["customer_id"].tolist()[:3] == ["0", "1", "2"]
    assert shop.customers["history"].tolist() == raw["history"].tolist()
    assert shop.customers["channel"].tolist() == raw["channel"].tolist()
    assert set(shop.customers["region"]) == {"Urban", "Suburban", "Rural"}  # the source's 'Surburban' corrected
    assert shop.products["product_id"].tolist() == [MENS_EMAIL, WOMENS_EMAIL]
    assert not shop.has_prices and not shop.has_ratings and shop.orders is None


def test_events_are_the_merchandise_lines_bought_dated_by_recency(settings: Settings, raw: pd.DataFrame) -> None:
    shop = load_hillstrom_shop(settings)
    events = shop.interactions
    assert len(events) == int(raw["mens"].sum() + raw["womens"].sum())
    bought_mens = set(events.loc[events["product_id"] == MENS_EMAIL, "customer_id"])
    assert bought_mens == set(raw.index[raw["mens"] == 1].astype(str))
    row = 2  # recency 9 months
    assert raw.loc[row, "recency"] == 9
    when = events.loc[events["customer_id"] == str(row), "timestamp"].iloc[0]
    assert pd.Timestamp(when, unit="s", tz="UTC") == TODAY - pd.Timedelta(days=9 * 30)
    assert shop.today == TODAY - pd.Timedelta(days=30)  # the most recent purchase: one month before


def test_portraits_read_region_lifecycle_and_merchandise(settings: Settings, raw: pd.DataFrame) -> None:
    shop = load_hillstrom_shop(settings, rows=200)
    portraits = {p.customer_id: p for p in build_portraits(shop)}
    assert len(portraits) == 200
    first = portraits["0"]  # Surburban, recency 10, bought men's merchandise only
    assert (raw.loc[0, "zip_code"], raw.loc[0, "recency"], raw.loc[0, "mens"], raw.loc[0, "womens"]) == (
        "Surburban", 10, 1, 0)
    assert first.region == "Suburban" and first.lifecycle == "lapsed"
    assert first.top_genres == ("Men's merchandise",)
    assert "Suburban region" in first.text and "Loves Men's merchandise" in first.text
    assert portraits["1"].top_genres == ("Women's merchandise",)


def test_the_shop_is_listed_and_says_what_it_derived(settings: Settings) -> None:
    assert "hillstrom" in [s.name for s in list_shops(settings)]
    report = shop_cleaning_report(settings, "hillstrom")
    assert report.counts()["customers: misspelt zip code area (converted)"] == 21_578
    assert any("derived" in note for note in report.notes)
