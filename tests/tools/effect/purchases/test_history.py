"""Cleaning a later-period file: the issue's rules, and pseudonyms that match the retail shop's customers."""

import pandas as pd
import pytest

from agent.settings import Settings
from tools.effect.purchases.history import LINE_COLUMNS, clean_later_lines, read_later_file, shop_history
from tools.shop import Shop
from tools.shop.schema import ShopDataError


@pytest.fixture(scope="module")
def dev_rows(settings: Settings) -> pd.DataFrame:
    """The last week of real dev rows (2011-11-01..11-08), carved from the dev data."""
    raw = pd.read_parquet(settings.shared_data_dir / "online_retail_dev.parquet")
    return raw[raw["InvoiceDate"] >= "2011-11-01"].reset_index(drop=True)


def test_cleaning_keeps_only_registered_priced_uncancelled_product_lines(settings: Settings,
                                                                         dev_rows: pd.DataFrame) -> None:
    lines = clean_later_lines(dev_rows, settings)
    assert list(lines.columns) == list(LINE_COLUMNS)
    assert (lines["quantity"] > 0).all() and (lines["unit_price"] > 0).all()
    assert not lines["order_id"].str.startswith("C").any()
    assert lines["product_id"].str.match(r"^\d{5}").all()
    expected = dev_rows[dev_rows["CustomerID"].notna() & (dev_rows["Quantity"] > 0) & (dev_rows["UnitPrice"] > 0)
                        & ~dev_rows["InvoiceNo"].str.startswith("C") & dev_rows["StockCode"].str.match(r"^\d{5}")]
    assert len(lines) == len(expected) > 0
    assert lines["revenue"].sum() == pytest.approx((expected["Quantity"] * expected["UnitPrice"]).sum())


def test_pseudonyms_match_the_retail_shop(settings: Settings, retail_shop: Shop, dev_rows: pd.DataFrame) -> None:
    lines = clean_later_lines(dev_rows, settings)
    shop_lines = shop_history(retail_shop.orders)
    assert set(lines["customer_id"]) <= set(shop_lines["customer_id"])
    one = dev_rows[dev_rows["CustomerID"] == dev_rows["CustomerID"].dropna().iloc[0]]
    ids = set(clean_later_lines(one, settings)["customer_id"])
    assert len(ids) == 1


def test_a_missing_or_bad_file_is_a_shop_data_error(settings: Settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ShopDataError, match="no such file"):
        read_later_file(tmp_path / "absent.parquet", settings)
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    with pytest.raises(ShopDataError, match="cannot be read"):
        read_later_file(bad, settings)
    partial = tmp_path / "partial.parquet"
    pd.DataFrame({"InvoiceNo": ["1"], "StockCode": ["10002"]}).to_parquet(partial)
    with pytest.raises(ShopDataError, match="missing column"):
        read_later_file(partial, settings)
