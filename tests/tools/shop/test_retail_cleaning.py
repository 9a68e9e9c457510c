"""Cleaning of the real UCI Online Retail file: every rule counted, counts that add up and match the data."""

from __future__ import annotations

import pandas as pd

from tools.shop.cleaning import CleaningReport
from tools.shop.retail_cleaning import OUTLIER_UNITS, clean_retail_lines, match_cancellations, non_product_codes
from tools.shop.shop_data import Shop

TABLE = "order lines"


def test_every_rule_is_counted_and_the_rows_add_up(
    retail_report: CleaningReport, retail_shop: Shop, retail_orders: pd.DataFrame
) -> None:
    counts = retail_report.counts()
    assert counts == {
        "order lines: duplicate rows (dropped)": 3_942,
        "order lines: stock code case (converted)": 1_722,
        "order lines: non-product stock code (dropped)": 2_630,
        "order lines: stock adjustment (dropped)": 1_195,
        "order lines: zero or negative unit price (dropped)": 1_042,
        "order lines: missing description (dropped)": 0,
        "order lines: outlier quantity (dropped)": 2,
        "order lines: cancellation line (converted)": 7_635,
        "order lines: cancellation matched (flagged)": 2_455,
        "order lines: cancellation unmatched: guest (flagged)": 150,
        "order lines: cancellation unmatched: other quantity (flagged)": 4_042,
        "order lines: cancellation unmatched: no earlier purchase (flagged)": 988,
        "order lines: missing customer id (kept)": 108_613,
    }
    assert retail_report.rows_in[TABLE] == 451_127
    assert retail_report.rows_in[TABLE] - retail_report.dropped(TABLE) == retail_report.rows_out[TABLE]
    assert retail_report.rows_out[TABLE] == len(retail_orders) == 442_316
    unmatched = sum(n for rule, n in counts.items() if "cancellation unmatched" in rule)
    assert counts["order lines: cancellation matched (flagged)"] + unmatched == 7_635
    assert retail_report.rows_out["products"] == len(retail_shop.products)
    assert retail_report.rows_out["customers"] == len(retail_shop.customers)


def test_report_counts_match_the_raw_file(retail_raw: pd.DataFrame, retail_report: CleaningReport) -> None:
    counts = retail_report.counts()
    assert counts["order lines: duplicate rows (dropped)"] == int(retail_raw.duplicated().sum())
    deduplicated = retail_raw.drop_duplicates()
    cancellations = deduplicated["InvoiceNo"].str.startswith("C")
    adjustments = (deduplicated["Quantity"] < 0) & ~cancellations
    assert counts["order lines: stock adjustment (dropped)"] == int(adjustments.sum())
    assert (deduplicated.loc[adjustments, "UnitPrice"] == 0).all()  # the reason the report gives


def test_non_product_codes_are_found_from_the_data(
    retail_raw: pd.DataFrame, retail_shop: Shop, retail_orders: pd.DataFrame
) -> None:
    found = set(non_product_codes(retail_raw.assign(StockCode=retail_raw["StockCode"].str.upper())))
    services = {"POST", "DOT", "C2", "M", "D", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS"}
    vouchers = {f"GIFT_0001_{value}" for value in (10, 20, 30, 40, 50)}
    assert services | vouchers | {"23444", "22016"} <= found  # next-day carriage, a £100 voucher
    assert {"23099", "85168B", "DCGSSBOY"}.isdisjoint(found)  # carriage lantern and clock, party bags: goods
    products = set(retail_shop.products["product_id"])
    assert products.isdisjoint(found)
    assert retail_shop.products["product_id"].str.match(r"^(\d{5}|DCGS)").all()
    assert set(retail_orders["product_id"]) <= products


def test_the_74215_unit_order_and_its_cancellation_are_gone(
    retail_raw: pd.DataFrame, retail_shop: Shop, retail_orders: pd.DataFrame
) -> None:
    assert (retail_raw["Quantity"].abs() == 74_215).sum() == 2  # the purchase and its cancellation in the source
    orders = retail_orders
    assert orders["quantity"].max() <= OUTLIER_UNITS
    day = pd.Timestamp("2011-01-18").timestamp()
    storage_jar = orders[(orders["product_id"] == "23166") & orders["timestamp"].between(day, day + 86_400)]
    assert storage_jar.empty  # the only lines of that product that day were the outlier and its cancellation


def test_a_cancellation_cancels_the_latest_earlier_purchase_of_the_same_quantity(retail_raw: pd.DataFrame) -> None:
    # Customer 15749 bought 3,114 fairy cake flannels on 2011-01-11 (540815), cancelled 3,114 on 2011-04-18 13:08
    # (C550456) and bought 3,114 again twelve minutes later (550461): the cancellation can only undo the first.
    raw = retail_raw[(retail_raw["CustomerID"] == 15749) & (retail_raw["StockCode"] == "21108")]
    lines, _ = clean_retail_lines(raw)
    by_order = lines.set_index("order_id")
    assert bool(by_order.loc["540815", "cancelled"]) and bool(by_order.loc["C550456", "cancelled"])
    assert not bool(by_order.loc["550461", "cancelled"])
    pairs = match_cancellations(lines)
    assert lines.loc[pairs.index, "order_id"].tolist() == ["C550456"]
    assert lines.loc[pairs.to_numpy(), "order_id"].tolist() == ["540815"]


def test_cancelled_lines_are_kept_but_are_not_purchases(
    retail_shop: Shop, retail_report: CleaningReport, retail_orders: pd.DataFrame
) -> None:
    orders = retail_orders
    c_lines = orders["order_id"].str.startswith("C")
    assert orders.loc[c_lines, "cancelled"].all() and (orders["quantity"] >= 1).all()
    originals = orders["cancelled"] & ~c_lines
    assert originals.sum() == retail_report.counts()["order lines: cancellation matched (flagged)"]
    purchases = orders[~orders["cancelled"] & orders["customer_id"].notna()]
    assert len(retail_shop.interactions) == len(purchases) == 323_763
    assert set(retail_shop.interactions["event_type"]) == {"purchase"}
