"""A shop's own orders and offers files: validated against the catalog, stored with the shop, and a bad file loses
nothing. The files are a real slice of UCI Online Retail (30 registered customers of December 2010) written in
the documented import format."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from agent.settings import Settings
from tools.shop import ShopDataError
from tools.shop.library import ingest_shop_files, load_stored_shop

RAW = Path(__file__).resolve().parents[3] / "data" / "online_retail_dev.parquet"


@pytest.fixture(scope="module")
def raw_slice() -> pd.DataFrame:
    """Real order lines of 30 registered customers (December 2010), product codes with digits only."""
    raw = pd.read_parquet(RAW)
    raw = raw[raw["CustomerID"].notna() & raw["StockCode"].str.contains(r"\d") & (raw["UnitPrice"] > 0)]
    first = raw[raw["InvoiceDate"] < "2010-12-10"]
    people = first["CustomerID"].drop_duplicates().head(30)
    return first[first["CustomerID"].isin(people)].reset_index(drop=True)


def write_files(lines: pd.DataFrame, folder: Path) -> dict[str, Path]:
    """Write the slice as customers, products, orders and offers CSV files (raw retailer ids)."""
    folder.mkdir(parents=True, exist_ok=True)
    customers = lines.groupby("CustomerID", as_index=False)["Country"].first()
    customers = pd.DataFrame({"customer_id": customers["CustomerID"].astype(str), "region": customers["Country"]})
    products = lines.groupby("StockCode", as_index=False).agg(title=("Description", "first"),
                                                              price=("UnitPrice", "max"))
    products = products.rename(columns={"StockCode": "product_id"}).assign(category="Gifts", currency="GBP",
                                                                            attributes="theme:Christmas|colour:red")
    cancelled = lines["InvoiceNo"].str.startswith("C")
    orders = pd.DataFrame({
        "order_id": lines["InvoiceNo"], "customer_id": lines["CustomerID"].astype(str),
        "product_id": lines["StockCode"], "quantity": lines["Quantity"].abs(), "unit_price": lines["UnitPrice"],
        "timestamp": lines["InvoiceDate"].astype("int64") // 10**9, "cancelled": cancelled.astype(int),
    })
    offers = pd.DataFrame({
        "code": ["XMAS10", "FIVEOFF"], "percent_off": ["10", ""], "amount_off": ["", "5"],
        "valid_from": ["2010-12-01", ""], "valid_to": ["2010-12-24", ""],
        "product_ids": ["", products["product_id"].iloc[0]], "categories": ["Gifts", ""],
    })
    files = {name: folder / f"{name}.csv" for name in ("customers", "products", "orders", "offers")}
    for name, frame in zip(files, (customers, products, orders, offers), strict=True):
        frame.to_csv(files[name], index=False)
    return files


def ingest(settings: Settings, name: str, files: dict[str, Path]) -> None:
    ingest_shop_files(settings, name, files["customers"], files["products"], None, orders=files["orders"],
                      offers=files["offers"])


def test_orders_and_offers_are_stored_and_become_purchases(raw_slice, settings, tmp_path):
    home = settings.model_copy(update={"home": tmp_path / "home"})
    files = write_files(raw_slice, tmp_path / "in")
    ingest(home, "gift-shop", files)
    shop = load_stored_shop(home, "gift-shop")
    assert shop.currency == "GBP" and [o.code for o in shop.offers] == ["XMAS10", "FIVEOFF"]
    assert shop.offers[0].percent_off == 10 and shop.offers[1].amount_off == 5
    assert shop.orders is not None and len(shop.orders) == len(raw_slice.drop_duplicates())
    uncancelled = shop.orders[~shop.orders["cancelled"]]
    assert len(shop.interactions) == len(uncancelled)
    spent = (uncancelled["quantity"] * uncancelled["unit_price"]).sum()
    assert shop.interactions["value"].sum() == pytest.approx(spent)
    assert set(shop.orders["customer_id"]) == set(shop.customers["customer_id"])  # pseudonymised alike
    assert shop.products["attributes"].iloc[0] == ["theme:Christmas", "colour:red"]
    assert shop.has_prices and not shop.has_ratings


def _broken(files: dict[str, Path], name: str, row: int, column: str, value: str) -> dict[str, Path]:
    frame = pd.read_csv(files[name], dtype=str, keep_default_na=False)
    frame.loc[row - 1, column] = value
    path = files[name].with_name(f"bad-{name}.csv")
    frame.to_csv(path, index=False)
    return {**files, name: path}


@pytest.mark.parametrize(("name", "row", "column", "value", "problem"), [
    ("orders", 4, "quantity", "two", "is not an integer"),
    ("orders", 7, "product_id", "NOSUCH", "unknown product 'NOSUCH'"),
    ("orders", 2, "unit_price", "-2.55", "outside"),
    ("products", 3, "price", "-1", "outside"),
    ("offers", 2, "product_ids", "NOSUCH", "the shop does not sell it"),
    ("offers", 1, "percent_off", "150", "less than or equal to 100"),
    ("offers", 1, "valid_to", "2010-11-01", "before valid_from"),
])
def test_bad_file_names_file_row_and_column_and_loses_nothing(raw_slice, settings, tmp_path, name, row, column,
                                                              value, problem):
    home = settings.model_copy(update={"home": tmp_path / "home"})
    files = write_files(raw_slice, tmp_path / "in")
    ingest(home, "gift-shop", files)
    before = load_stored_shop(home, "gift-shop")
    with pytest.raises(ShopDataError) as caught:
        ingest(home, "gift-shop", _broken(files, name, row, column, value))
    error = caught.value
    assert (error.file, error.row) == (f"bad-{name}.csv", row) and problem in str(error)
    assert error.column == column or (column == "valid_to" and error.column in ("valid_to", "percent_off"))
    after = load_stored_shop(home, "gift-shop")
    pd.testing.assert_frame_equal(after.orders, before.orders)
    assert after.offers == before.offers


def test_built_in_names_cannot_be_taken(raw_slice, settings, tmp_path):
    files = write_files(raw_slice, tmp_path / "in")
    with pytest.raises(ShopDataError, match="built-in"):
        ingest(settings.model_copy(update={"home": tmp_path / "home"}), "retail", files)
