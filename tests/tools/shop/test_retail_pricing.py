"""Current prices and price tiers of the real Online Retail products."""

from __future__ import annotations

import pandas as pd

from tools.shop.pricing import BULK_QUANTITY_FACTOR, CURRENT_WINDOW_DAYS, PRICE_KINDS, current_prices
from tools.shop.shop_data import Shop


def test_white_hanging_heart_holder_prices(retail_price_history: pd.DataFrame) -> None:
    history = retail_price_history
    heart = history[history["product_id"] == "85123A"].set_index("unit_price")
    assert heart["kind"].to_dict() == {
        2.40: "bulk", 2.55: "bulk", 2.95: "current", 3.20: "past", 3.24: "past",
        5.79: "guest", 5.91: "guest", 6.63: "guest", 6.77: "guest",
    }  # fmt: skip
    assert heart.loc[2.95, "lines"] == 1_503 and heart.loc[2.55, "lines"] == 316
    assert (heart.loc[2.95, "median_quantity"], heart.loc[2.55, "median_quantity"]) == (6, 32)
    assert heart.loc[2.40, "units"] == 1_930  # one line of 1,930 units
    assert pd.Timestamp(heart.loc[3.20, "first_sold"], unit="s") == pd.Timestamp("2011-09-20 10:23")


def test_current_price_is_the_most_frequent_registered_price_of_the_last_90_days(retail_orders: pd.DataFrame) -> None:
    orders = retail_orders
    heart = orders[(orders["product_id"] == "85123A") & ~orders["cancelled"]]
    window = heart[heart["timestamp"] > heart["timestamp"].max() - CURRENT_WINDOW_DAYS * 86_400]
    counts = window.loc[window["customer_id"].notna(), "unit_price"].value_counts()
    assert counts.to_dict() == {2.95: 365, 2.55: 64, 3.20: 4, 5.79: 4}  # after duplicates and cancellations
    prices = current_prices(orders).set_index("product_id")
    assert prices.loc["85123A", "price"] == 2.95 and prices.loc["85123A", "rule"] == "registered, last 90 days"
    assert prices["rule"].value_counts().to_dict() == {
        "registered, last 90 days": 3_501, "guests, last 90 days": 149, "registered, all time": 101,
    }  # fmt: skip


def test_every_priced_product_has_one_current_price_in_its_history(
    retail_shop: Shop, retail_price_history: pd.DataFrame
) -> None:
    history = retail_price_history
    assert set(history["kind"]) == set(PRICE_KINDS)
    current = history[history["kind"] == "current"].set_index("product_id")["unit_price"]
    assert current.index.is_unique
    priced = retail_shop.products.dropna(subset=["price"]).set_index("product_id")["price"]
    assert current.sort_index().equals(priced.sort_index().rename("unit_price"))
    with_current = history.merge(current.rename("current"), left_on="product_id", right_index=True)
    bulk = with_current[with_current["kind"] == "bulk"]
    assert (bulk["unit_price"] < bulk["current"]).all()
    assert (history["first_sold"] <= history["last_sold"]).all() and (history["lines"] >= 1).all()
    assert BULK_QUANTITY_FACTOR > 1
