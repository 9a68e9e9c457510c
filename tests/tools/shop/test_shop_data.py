"""The shop schema and loaders, on real MovieLens-100k data (fetched once by `make setup`)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pandas as pd
import pytest
from pydantic import SecretStr

from agent.settings import Settings
from tools.shop.datasets import DATASETS, fetch_datasets, is_fetched
from tools.shop.shop_data import (
    OUTSIDE_US,
    Shop,
    ShopDataError,
    load_demo_shop,
    load_shop_files,
    pseudonymise,
    zip_region,
)


@pytest.fixture()
def small_files(shop: Shop, tmp_path: Path) -> dict[str, Path]:
    """A valid small shop as CSV: the first 30 MovieLens customers, their ratings and the rated movies."""
    customers = shop.customers.head(30)
    interactions = shop.interactions[shop.interactions["customer_id"].isin(customers["customer_id"])].head(
        400
    )
    products = shop.products[shop.products["product_id"].isin(interactions["product_id"])].copy()
    products["genres"] = products["genres"].str.join("|")
    files = {name: tmp_path / f"{name}.csv" for name in ("customers", "products", "interactions")}
    customers.to_csv(files["customers"], index=False)
    products.to_csv(files["products"], index=False)
    interactions.to_csv(files["interactions"], index=False)
    return files


def _load(files: dict[str, Path], settings: Settings) -> Shop:
    return load_shop_files(files["customers"], files["products"], files["interactions"], settings)


def test_fetch_is_idempotent_and_fast(settings: Settings) -> None:
    started = time.perf_counter()
    fetched = fetch_datasets(Settings())
    assert time.perf_counter() - started < 1.0
    assert set(fetched) == {"ml-100k", "obd", "clothing", "cdnow"}
    for spec in DATASETS:
        assert is_fetched(spec, fetched[spec.name])
    assert (fetched["obd"] / "random" / "all" / "all.csv").is_file()
    assert (fetched["obd"] / "bts" / "women" / "item_context.csv").is_file()


def test_demo_shop_has_the_real_movielens_sizes(shop: Shop) -> None:
    assert len(shop.customers) == 943
    assert len(shop.products) == 1682
    assert len(shop.interactions) == 100_000
    assert list(shop.customers.columns) == ["customer_id", "age", "gender", "occupation", "region"]
    assert list(shop.products.columns) == ["product_id", "title", "year", "genres"]
    assert list(shop.interactions.columns) == ["customer_id", "product_id", "rating", "timestamp"]
    assert shop.products["year"].dtype == "Int64"
    assert shop.interactions["timestamp"].dtype == "int64"
    assert shop.interactions["rating"].between(1, 5).all()


def test_demo_shop_keeps_no_raw_ids_or_zip_codes(shop: Shop) -> None:
    columns = {c.lower() for frame in (shop.customers, shop.interactions) for c in frame.columns}
    assert not columns & {"zip", "zip_code", "user_id", "raw_id"}
    assert shop.customers["customer_id"].str.fullmatch(r"c_[0-9a-f]{16}").all()
    assert shop.customers["customer_id"].is_unique
    assert set(shop.interactions["customer_id"]) <= set(shop.customers["customer_id"])
    assert not shop.customers["region"].str.fullmatch(r"\d+").any()


def test_products_and_regions_follow_the_source(shop: Shop) -> None:
    star_wars = shop.products.set_index("product_id").loc["50"]
    assert star_wars["title"] == "Star Wars" and star_wars["year"] == 1977
    assert "Sci-Fi" in star_wars["genres"]
    assert pd.isna(shop.products.set_index("product_id").loc["267", "year"])  # "unkonwn" in RecBole's file
    # User 1 (zip 85711, Tucson) is the first row; 18 users have Canadian postal codes.
    assert shop.customers.iloc[0]["region"] == "Mountain"
    assert (shop.customers["region"] == OUTSIDE_US).sum() == 18
    assert zip_region("02139") == "Northeast" and zip_region("T8H1N") == OUTSIDE_US


def test_pseudonyms_are_stable_and_keyed(settings: Settings, shop: Shop) -> None:
    key = settings.pseudonym_key.get_secret_value()
    assert shop.customers.iloc[0]["customer_id"] == pseudonymise("1", key)
    again = load_demo_shop(settings)
    assert again.customers["customer_id"].tolist() == shop.customers["customer_id"].tolist()
    other = load_demo_shop(settings.model_copy(update={"pseudonym_key": SecretStr("another-key")}))
    assert other.customers["customer_id"].iloc[0] == pseudonymise("1", "another-key")
    assert not set(other.customers["customer_id"]) & set(shop.customers["customer_id"])


def test_valid_files_load_as_csv_and_parquet(small_files: dict[str, Path], settings: Settings) -> None:
    loaded = _load(small_files, settings)
    assert len(loaded.customers) == 30 and len(loaded.interactions) == 400
    assert all(isinstance(g, list) for g in loaded.products["genres"])
    parquet = {}
    for name, path in small_files.items():
        parquet[name] = path.with_suffix(".parquet")
        pd.read_csv(path, dtype=str, keep_default_na=False).to_parquet(parquet[name])
    from_parquet = _load(parquet, settings)
    pd.testing.assert_frame_equal(from_parquet.interactions, loaded.interactions)
    assert from_parquet.products["genres"].tolist() == loaded.products["genres"].tolist()


def _set_cell(path: Path, index: int, column: str, value: str) -> None:
    """Overwrite one cell (0-based data row ``index``) of a CSV file."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[index, column] = value
    frame.to_csv(path, index=False)


def test_bad_age_names_file_row_and_column(small_files: dict[str, Path], settings: Settings) -> None:
    _set_cell(small_files["customers"], 16, "age", "abc")
    with pytest.raises(ShopDataError) as caught:
        _load(small_files, settings)
    error = caught.value
    assert (error.file, error.row, error.column) == ("customers.csv", 17, "age")
    assert str(error) == "customers.csv row 17, column 'age': value 'abc' is not an integer"


def test_age_out_of_range_is_rejected(small_files: dict[str, Path], settings: Settings) -> None:
    _set_cell(small_files["customers"], 3, "age", "130")
    with pytest.raises(
        ShopDataError, match=r"customers\.csv row 4, column 'age': value '130' is outside 0\.\.120"
    ):
        _load(small_files, settings)


def test_missing_column_is_named(small_files: dict[str, Path], settings: Settings) -> None:
    path = small_files["interactions"]
    pd.read_csv(path, dtype=str).drop(columns="timestamp").to_csv(path, index=False)
    with pytest.raises(ShopDataError, match=r"missing column.*'timestamp'") as caught:
        _load(small_files, settings)
    assert (caught.value.file, caught.value.column) == ("interactions.csv", "timestamp")


def test_optional_demographics_may_be_absent(small_files: dict[str, Path], settings: Settings) -> None:
    path = small_files["customers"]
    pd.read_csv(path, dtype=str).drop(columns=["occupation", "gender"]).to_csv(path, index=False)
    loaded = _load(small_files, settings)
    assert loaded.customers["occupation"].isna().all() and loaded.customers["age"].notna().all()


def test_purchase_events_with_money(small_files: dict[str, Path], settings: Settings) -> None:
    path = small_files["interactions"]
    events = pd.read_csv(path, dtype=str).drop(columns="rating").assign(value="12.50", quantity="1")
    events.loc[3, "product_id"] = ""  # a purchase not tied to a catalog product is allowed
    events.to_csv(path, index=False)
    loaded = _load(small_files, settings)
    assert loaded.has_monetary and set(loaded.interactions["event_type"]) == {"purchase"}
    assert loaded.interactions["value"].sum() == 12.5 * 400 and loaded.interactions["rating"].isna().all()
    events.loc[7, "value"] = "-3"
    events.to_csv(path, index=False)
    with pytest.raises(ShopDataError, match=r"interactions\.csv row 8, column 'value': value '-3' is outside 0"):
        _load(small_files, settings)
    events.loc[7, "value"] = "3"
    events.assign(event_type="visit").to_csv(path, index=False)
    with pytest.raises(ShopDataError, match=r"row 1, column 'event_type': unknown event type 'visit'"):
        _load(small_files, settings)


def test_unknown_customer_in_interactions(small_files: dict[str, Path], settings: Settings) -> None:
    _set_cell(small_files["interactions"], 4, "customer_id", "nobody")
    with pytest.raises(ShopDataError) as caught:
        _load(small_files, settings)
    assert (caught.value.file, caught.value.row, caught.value.column) == (
        "interactions.csv",
        5,
        "customer_id",
    )
    assert "unknown customer 'nobody'" in str(caught.value)


def test_bad_rating_duplicate_id_and_missing_file(small_files: dict[str, Path], settings: Settings) -> None:
    _set_cell(small_files["interactions"], 0, "rating", "6")
    with pytest.raises(
        ShopDataError, match=r"interactions\.csv row 1, column 'rating': value '6' is outside"
    ):
        _load(small_files, settings)
    _set_cell(small_files["interactions"], 0, "rating", "4")
    first_id = pd.read_csv(small_files["customers"], dtype=str)["customer_id"][0]
    _set_cell(small_files["customers"], 9, "customer_id", first_id)
    with pytest.raises(ShopDataError, match=r"customers\.csv row 10, column 'customer_id': duplicate id"):
        _load(small_files, settings)
    small_files["products"].unlink()
    with pytest.raises(ShopDataError, match=r"products\.csv: file not found"):
        _load(small_files, settings)


def test_demo_shop_missing_data_says_how_to_fetch(tmp_path: Path) -> None:
    with pytest.raises(ShopDataError, match=r"campaign data fetch.*make setup"):
        load_demo_shop(Settings(home=tmp_path))


def test_pseudonym_format() -> None:
    assert re.fullmatch(r"c_[0-9a-f]{16}", pseudonymise("42", "k"))
    assert pseudonymise("42", "k") != pseudonymise("42", "k2") != pseudonymise("43", "k")
