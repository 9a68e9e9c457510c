"""Current prices and price histories of products, derived from the unit prices their order lines were sold at.

A wholesale gift shop charges one product at several prices: a list price to most customers, lower bulk
prices on large-quantity lines, higher prices on guest checkouts, and prices that changed over time.
:func:`price_history` keeps every price with how it was used and classifies it; :func:`current_prices` picks the
one price a campaign may quote.

Rules (all on purchase lines, i.e. order lines that are not cancelled):

* **current** — the most frequent unit price (by number of lines) charged to REGISTERED customers in the
  product's last :data:`CURRENT_WINDOW_DAYS` days of sales (counted back from its last sale, guest or not);
  between equally frequent prices, the one sold latest. Fallbacks, in order: with no registered sale in that
  window, the most frequent registered price of all time; with no registered sale at all, the most frequent price
  of the window (guests only).
* **guest** — any other price of which more than half the lines were guest checkouts.
* **bulk** — any other price below the current one whose lines' median quantity is at least
  :data:`BULK_QUANTITY_FACTOR` times the median quantity of the lines at the current price.
* **past** — every other price (earlier list prices, one-off deals, higher prices on special orders).
"""

from __future__ import annotations

import pandas as pd

__all__ = [
    "BULK_QUANTITY_FACTOR",
    "CURRENT_WINDOW_DAYS",
    "PRICE_KINDS",
    "PRICE_RULES",
    "current_prices",
    "price_history",
]

#: Days of a product's latest sales in which its current price is looked for.
CURRENT_WINDOW_DAYS = 90

#: A lower price is a bulk tier when its lines are this many times larger (median quantity) than at the
#: current price.
BULK_QUANTITY_FACTOR = 2.0

#: Kinds of a price in the history.
PRICE_KINDS = ("current", "bulk", "guest", "past")

#: How a current price was found: the main rule and its two fallbacks, in order.
PRICE_RULES = ("registered, last 90 days", "registered, all time", "guests, last 90 days")


def _price_stats(purchases: pd.DataFrame) -> pd.DataFrame:
    """Return, per (product_id, unit_price), lines, units, first/last sale, guest lines and median quantity."""
    return (
        purchases.assign(guest=purchases["customer_id"].isna())
        .groupby(["product_id", "unit_price"], as_index=False)
        .agg(
            lines=("quantity", "size"),
            units=("quantity", "sum"),
            first_sold=("timestamp", "min"),
            last_sold=("timestamp", "max"),
            guest_lines=("guest", "sum"),
            median_quantity=("quantity", "median"),
        )
    )


def _most_frequent(stats: pd.DataFrame) -> pd.DataFrame:
    """Return, per product, the price with the most lines (ties: the one sold latest, then the lower)."""
    ordered = stats.sort_values(
        ["product_id", "lines", "last_sold", "unit_price"], ascending=[True, False, False, True]
    )
    return ordered.drop_duplicates("product_id")[["product_id", "unit_price"]]


def current_prices(orders: pd.DataFrame) -> pd.DataFrame:
    """Return each product's current price and the rule that found it (see the module docstring).

    Args:
        orders: Order lines: product_id, customer_id (None for guests), quantity, unit_price, timestamp (unix s)
            and a bool ``cancelled``; cancelled lines are ignored.

    Returns:
        product_id, price and rule (one of :data:`PRICE_RULES`), one row per product with a purchase.
    """
    purchases = orders[~orders["cancelled"].astype(bool)]
    last_sale = purchases.groupby("product_id")["timestamp"].transform("max")
    recent = purchases[purchases["timestamp"] > last_sale - CURRENT_WINDOW_DAYS * 86_400]
    registered = purchases["customer_id"].notna()
    candidates = [
        recent[recent["customer_id"].notna()],
        purchases[registered],
        recent,
    ]
    found: list[pd.DataFrame] = []
    done: set[str] = set()
    for rule, lines in zip(PRICE_RULES, candidates, strict=True):
        picked = _most_frequent(_price_stats(lines[~lines["product_id"].isin(done)]))
        found.append(picked.assign(rule=rule))
        done |= set(picked["product_id"])
    return (
        pd.concat(found, ignore_index=True)
        .rename(columns={"unit_price": "price"})
        .sort_values("product_id", ignore_index=True)
    )


def price_history(orders: pd.DataFrame, current: pd.DataFrame | None = None) -> pd.DataFrame:
    """Return every unit price each product sold at, classified as current, bulk, guest or past.

    Args:
        orders: Order lines as for :func:`current_prices`.
        current: The result of :func:`current_prices`, when already computed.

    Returns:
        product_id, unit_price, lines, units, first_sold, last_sold (unix s), median_quantity (per line) and
        kind (one of :data:`PRICE_KINDS`), sorted by product and price.
    """
    current = current_prices(orders) if current is None else current
    purchases = orders[~orders["cancelled"].astype(bool)]
    stats = _price_stats(purchases).merge(current[["product_id", "price"]], on="product_id", how="left")
    at_current = stats["unit_price"] == stats["price"]
    usual_quantity = stats["product_id"].map(stats.loc[at_current].set_index("product_id")["median_quantity"])
    guest = stats["guest_lines"] * 2 > stats["lines"]
    bulk = (stats["unit_price"] < stats["price"]) & (stats["median_quantity"] >= BULK_QUANTITY_FACTOR * usual_quantity)
    kind = pd.Series("past", index=stats.index)
    kind[bulk] = "bulk"
    kind[guest] = "guest"
    kind[at_current] = "current"
    columns = ["product_id", "unit_price", "lines", "units", "first_sold", "last_sold", "median_quantity"]
    return stats[columns].assign(kind=kind.to_numpy()).sort_values(["product_id", "unit_price"], ignore_index=True)
