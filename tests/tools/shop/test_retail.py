"""The demo gift shop built from the real Online Retail file."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import SecretStr

from agent.settings import Settings
from tools.shop import ShopDataError, load_retail_shop
from tools.shop.cleaning import CleaningReport
from tools.shop.product_naming import display_name
from tools.shop.retail import CACHE_DIR_NAME, RETAIL_FILE, _build, _cache_folder
from tools.shop.schema import Customer, Event, OrderLine, Product, validate_table
from tools.shop.shop_data import Shop, pseudonymise


def test_shop_tables_have_the_measured_sizes_and_follow_the_schema(
    retail_shop: Shop, retail_orders: pd.DataFrame
) -> None:
    assert retail_shop.name == "retail" and retail_shop.currency == "GBP" and retail_shop.offers == ()
    assert (len(retail_shop.products), len(retail_shop.customers)) == (3_769, 4_093)
    assert (len(retail_orders), len(retail_shop.interactions)) == (442_316, 323_763)
    validate_table(retail_shop.products, Product, "products")
    validate_table(retail_shop.customers, Customer, "customers")
    validate_table(retail_shop.interactions, Event, "events")
    validate_table(retail_orders.assign(cancelled=retail_orders["cancelled"].astype(int)), OrderLine, "o")
    assert retail_shop.has_prices and retail_shop.has_monetary and not retail_shop.has_ratings
    assert retail_shop.today.date().isoformat() == "2011-11-08"  # the file's last day


def test_guests_are_orders_but_not_customers_or_events(
    retail_shop: Shop, retail_raw: pd.DataFrame, retail_orders: pd.DataFrame
) -> None:
    guests = retail_orders["customer_id"].isna()
    assert guests.sum() == 108_613
    customers = set(retail_shop.customers["customer_id"])
    assert None not in customers and retail_shop.interactions["customer_id"].notna().all()
    assert set(retail_shop.interactions["customer_id"]) <= customers
    assert set(retail_orders.loc[~guests, "customer_id"]) == customers
    assert retail_shop.customers["customer_id"].str.fullmatch(r"c_[0-9a-f]{16}").all()
    assert "17850" not in customers and pseudonymise("17850", "campaign-agent-demo-key") in customers
    assert retail_shop.customers[["age", "gender", "occupation"]].isna().all().all()  # the source has none
    assert set(retail_shop.customers["region"]) <= set(retail_raw["Country"])


def test_one_name_per_product_in_sentence_case(retail_shop: Shop, retail_raw: pd.DataFrame) -> None:
    products = retail_shop.products.set_index("product_id")
    assert products.index.is_unique and products["title"].str.len().gt(0).all()
    assert products.loc["85123A", "title"] == "White hanging heart T-light holder"
    assert products.loc["22423", "title"] == "Regency cakestand 3 tier"
    assert products.loc["21931", "title"] == "Jumbo storage bag Suki"
    # 22197 is called "SMALL POPCORN HOLDER" on 607 lines and "POPCORN HOLDER" on 589: the most frequent wins
    described = retail_raw[retail_raw["StockCode"] == "22197"]["Description"].value_counts()
    assert products.loc["22197", "title"] == display_name(described.index[0]) == "Small popcorn holder"
    assert (products["title"] == products["title"].str.strip()).all()
    assert not products["title"].str.contains("  ").any()


def test_products_carry_price_category_attributes_and_genres(retail_shop: Shop) -> None:
    products = retail_shop.products.set_index("product_id")
    heart = products.loc["85123A"]
    assert heart["price"] == 2.95 and heart["currency"] == "GBP" and heart["category"] == "Holders"
    assert heart["attributes"] == ["type:t-light holder", "colour:white", "theme:Love"]
    assert heart["genres"] == ["Holders", "Love"]
    assert products["description"].isna().all() and products["year"].isna().all()
    assert products["price"].isna().sum() == 18  # sold only in cancelled lines
    themes = products["attributes"].map(lambda a: [v.split(":", 1)[1] for v in a if v.startswith("theme:")])
    expected = [([c] if isinstance(c, str) else []) + t for c, t in zip(products["category"], themes, strict=True)]
    assert products["genres"].tolist() == expected


def test_missing_file_is_a_clear_error(settings: Settings, tmp_path) -> None:
    with pytest.raises(ShopDataError, match=r"online_retail_dev\.parquet"):
        load_retail_shop(settings.model_copy(update={"shared_data_dir": tmp_path}))


def test_built_tables_are_cached_and_read_back_unchanged(
    retail_settings: Settings, retail_shop: Shop, retail_report: CleaningReport
) -> None:
    folders = list((retail_settings.data_dir / CACHE_DIR_NAME).iterdir())
    assert len(folders) == 1  # no staging folder left behind
    assert {p.name for p in folders[0].iterdir()} == {
        "customers.parquet", "products.parquet", "interactions.parquet", "orders.parquet",
        "price_history.parquet", "cleaning_report.json",
    }  # fmt: skip
    built, report = _build(retail_settings, retail_settings.shared_data_dir / RETAIL_FILE)
    assert report == retail_report
    for table in ("customers", "products", "interactions", "orders", "price_history"):
        pd.testing.assert_frame_equal(getattr(retail_shop, table), getattr(built, table), obj=table)
    again = load_retail_shop(retail_settings)
    pd.testing.assert_frame_equal(again.products, retail_shop.products)
    source = retail_settings.shared_data_dir / RETAIL_FILE
    other_key = retail_settings.model_copy(update={"pseudonym_key": SecretStr("another-key")})
    assert _cache_folder(other_key, source) != _cache_folder(retail_settings, source) == folders[0]
