"""Cleaning of the UCI Online Retail transactions, every rule counted in a :class:`CleaningReport`.

The rules follow what the marketing and RFM literature on this dataset does (e.g. Chen, Sain & Guo 2012), each a
step of the report (table ``"order lines"``), in this order:

1. exact duplicate rows are dropped (the source repeats some lines verbatim);
2. stock codes are upper-cased (``85123a`` and ``85123A`` are the same product);
3. stock codes that are not products are dropped (:func:`non_product_codes`: postage, carriage, manual
   adjustments, discounts, bank charges, Amazon fees, CRUK commission, samples, gift vouchers …);
4. negative quantities outside cancellation invoices are dropped: they are stock adjustments (damaged, lost,
   found …), all at a unit price of 0 and without a customer;
5. lines with a zero or negative unit price are dropped (free replacements and stock notes: no price to learn);
6. lines without a description are dropped (after rule 5 none are left; the rule runs to show it);
7. outliers are dropped: lines of more than :data:`OUTLIER_UNITS` units (the 74,215-unit order of 2011-01-18 and
   its cancellation; no other priced line of the file is above 4,800 units);
8. cancellation lines (``C`` invoices) are kept as order lines with ``cancelled`` True and a positive quantity,
   and each is matched to the purchase it cancels (:func:`match_cancellations`): same customer, stock code and
   quantity, at or before the cancellation. A matched original purchase is marked cancelled too, so it counts
   as neither a purchase nor revenue. Unmatched cancellations (a guest's, one of another quantity than any
   earlier purchase — mostly part of a line returned — or one whose purchase predates 2010-12-01) are kept as
   cancelled lines and counted by reason; a partly returned purchase stays a purchase (the file does not say
   which units came back);
9. lines without a customer id (guest checkouts) are kept for product statistics; they make no customer and
   no purchase event.
"""

from __future__ import annotations

import re

import pandas as pd

from tools.shop.cleaning import CleaningReport, drop_duplicates, drop_where

__all__ = [
    "NON_PRODUCT_DESCRIPTION",
    "OUTLIER_UNITS",
    "RAW_COLUMNS",
    "clean_retail_lines",
    "match_cancellations",
    "most_frequent_value",
    "non_product_codes",
]

TABLE = "order lines"

#: Columns of the UCI Online Retail file, as published.
RAW_COLUMNS = ("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country")

#: Lines of more units than this are outliers. In the file the 74,215-unit order of 2011-01-18 (and its
#: cancellation 16 minutes later) stands alone: the next largest priced lines are 9,360 units (a cancellation at
#: £0.03) and 4,800 units, so any threshold between 9,360 and 74,215 singles it out.
OUTLIER_UNITS = 10_000

#: Descriptions that name a service, fee or book-keeping entry rather than goods (matched case-insensitively
#: against the most frequent description of a stock code).
NON_PRODUCT_DESCRIPTION = re.compile(
    r"postage|^carriage$|next day carriage|gift voucher|bank charges|amazon fee|commission|^manual$|^discount$"
    r"|^samples$|adjust bad debt|high resolution image|pads to match",
    re.IGNORECASE,
)

#: Stock codes of the shop's own marketplace listings (eBay, Amazon), which are real goods without a 5-digit code.
MARKETPLACE_PREFIX = "DCGS"


def most_frequent_value(frame: pd.DataFrame, key: str, value: str) -> pd.Series:
    """Return, per ``key``, its most frequent non-missing ``value`` (ties: the first in the frame's order).

    Args:
        frame: The rows.
        key: Column to group by.
        value: Column whose mode is wanted.

    Returns:
        The mode of ``value`` indexed by ``key``.
    """
    known = frame[[key, value]].dropna(subset=[value]).assign(order=range(int(frame[value].notna().sum())))
    counts = known.groupby([key, value], sort=False).agg(rows=("order", "size"), first=("order", "min"))
    ranked = counts.reset_index().sort_values([key, "rows", "first"], ascending=[True, False, True])
    return ranked.drop_duplicates(key).set_index(key)[value]


def non_product_codes(lines: pd.DataFrame) -> pd.Index:
    """Return the stock codes that are not products, found from the data.

    Rule: a product's stock code starts with a 5-digit number (``85123A``) or, for the shop's marketplace
    listings, with ``DCGS``. Any other code (``POST``, ``DOT``, ``C2``, ``M``, ``D``, ``S``, ``B``, ``BANK
    CHARGES``, ``AMAZONFEE``, ``CRUK``, ``PADS``, ``gift_0001_20`` …) is not a product; nor is a code whose most
    frequent description is a service or fee (:data:`NON_PRODUCT_DESCRIPTION`, e.g. 23444 "Next Day Carriage",
    22016 "Dotcomgiftshop Gift Voucher £100.00").

    Args:
        lines: Rows with (upper-cased) ``StockCode`` and ``Description``.

    Returns:
        The non-product stock codes, sorted.
    """
    codes = pd.Series(lines["StockCode"].unique())
    coded = codes.str.match(r"^\d{5}") | codes.str.startswith(MARKETPLACE_PREFIX)
    usual = most_frequent_value(lines, "StockCode", "Description")
    service = usual[usual.str.contains(NON_PRODUCT_DESCRIPTION)].index
    return pd.Index(sorted(set(codes[~coded]) | set(service)))


def match_cancellations(lines: pd.DataFrame) -> pd.Series:
    """Match each cancellation line to the purchase line it cancels, one to one.

    Rule: same customer, stock code and quantity, the purchase at or before the cancellation; among several, the
    latest. Matching runs in rounds of :func:`pandas.merge_asof`: when two cancellations reach the same purchase,
    the earlier one keeps it and the other tries the next earlier purchase in the following round. Guest lines
    (no customer id) are never matched: two guests cannot be told apart.

    Args:
        lines: Order lines with ``customer_id`` (raw, None for guests), ``product_id``, ``quantity`` (positive),
            ``timestamp`` and a bool ``is_cancellation``; any index.

    Returns:
        For each matched cancellation (index label), the index label of its original purchase.
    """
    keys = ["customer_id", "product_id", "quantity"]
    registered = lines[lines["customer_id"].notna()]
    frame = registered[[*keys, "timestamp"]].assign(
        customer_id=registered["customer_id"].astype("int64"), row=registered.index
    )
    cancels = frame[registered["is_cancellation"].to_numpy()]
    purchases = frame[~registered["is_cancellation"].to_numpy()].rename(columns={"row": "original"})
    matched: list[pd.DataFrame] = []
    while not cancels.empty and not purchases.empty:
        pairs = pd.merge_asof(
            cancels.sort_values("timestamp"),
            purchases.sort_values("timestamp")[[*keys, "timestamp", "original"]],
            on="timestamp",
            by=keys,
            direction="backward",
        ).dropna(subset=["original"])
        pairs = pairs.sort_values(["timestamp", "row"]).drop_duplicates("original", keep="first")
        if pairs.empty:
            break
        matched.append(pairs[["row", "original"]])
        cancels = cancels[~cancels["row"].isin(pairs["row"])]
        purchases = purchases[~purchases["original"].isin(pairs["original"])]
    if not matched:
        return pd.Series(dtype=lines.index.dtype)
    found = pd.concat(matched)
    return pd.Series(found["original"].astype(lines.index.dtype).to_numpy(), index=found["row"].to_numpy())


def _has_earlier_purchase(cancellations: pd.DataFrame, lines: pd.DataFrame) -> pd.Series:
    """Tell, per cancellation, whether its customer bought the product at or before it (any quantity)."""
    purchases = lines[~lines["is_cancellation"] & lines["customer_id"].notna()]
    keys = ["customer_id", "product_id"]
    found = pd.merge_asof(
        cancellations[[*keys, "timestamp"]].assign(row=cancellations.index).sort_values("timestamp"),
        purchases[[*keys, "timestamp"]].assign(bought=True).sort_values("timestamp"),
        on="timestamp",
        by=keys,
        direction="backward",
    )
    return found.set_index("row")["bought"].eq(True).reindex(cancellations.index, fill_value=False)


def clean_retail_lines(raw: pd.DataFrame) -> tuple[pd.DataFrame, CleaningReport]:
    """Clean the raw Online Retail rows by the rules of this module and say what each rule did.

    Args:
        raw: The file's rows (:data:`RAW_COLUMNS`).

    Returns:
        The kept lines (order_id, raw customer_id (Int64, missing for guests), product_id, description,
        quantity (positive), unit_price, timestamp (unix s; the source's UK times read as UTC), country,
        cancelled (bool), is_cancellation (bool: a ``C`` invoice line)) and the report, whose ``order lines``
        rows_in minus rows dropped equals rows_out.
    """
    report = CleaningReport(source="online_retail_dev.parquet", rows_in={TABLE: len(raw)})
    lines = drop_duplicates(raw[list(RAW_COLUMNS)], report, TABLE, "the source repeats some lines verbatim")
    upper = lines["StockCode"].str.upper()
    report.add(
        TABLE,
        "stock code case",
        "converted",
        int((upper != lines["StockCode"]).sum()),
        "lower-case letters in a stock code name the same product as upper-case ones",
        "StockCode",
    )
    lines = lines.assign(StockCode=upper)
    services = non_product_codes(lines)
    lines = drop_where(
        lines,
        lines["StockCode"].isin(services),
        report,
        TABLE,
        "non-product stock code",
        f"not goods: {', '.join(services)}",
        "StockCode",
    )
    is_cancellation = lines["InvoiceNo"].str.startswith("C")
    lines = drop_where(
        lines,
        (lines["Quantity"] < 0) & ~is_cancellation,
        report,
        TABLE,
        "stock adjustment",
        "negative quantity outside a cancellation invoice: damaged, lost or recounted stock",
        "Quantity",
    )
    lines = drop_where(
        lines,
        lines["UnitPrice"] <= 0,
        report,
        TABLE,
        "zero or negative unit price",
        "free replacements and stock notes; no price to learn from",
        "UnitPrice",
    )
    lines = drop_where(
        lines,
        lines["Description"].isna(),
        report,
        TABLE,
        "missing description",
        "a product needs a name",
        "Description",
    )
    lines = drop_where(
        lines,
        lines["Quantity"].abs() > OUTLIER_UNITS,
        report,
        TABLE,
        "outlier quantity",
        f"more than {OUTLIER_UNITS:,} units: the 74,215-unit order of 2011-01-18 and its "
        "cancellation (no other priced line is above 9,360 units)",
        "Quantity",
    )
    kept = pd.DataFrame(
        {
            "order_id": lines["InvoiceNo"],
            "customer_id": lines["CustomerID"].astype("Int64"),
            "product_id": lines["StockCode"],
            "description": lines["Description"],
            "quantity": lines["Quantity"].abs().astype("int64"),
            "unit_price": lines["UnitPrice"].astype("float64"),
            "timestamp": (lines["InvoiceDate"] - pd.Timestamp(0)) // pd.Timedelta(seconds=1),
            "country": lines["Country"],
            "is_cancellation": lines["InvoiceNo"].str.startswith("C"),
        }
    )
    originals = match_cancellations(kept)
    kept["cancelled"] = kept["is_cancellation"] | kept.index.isin(originals.to_numpy())
    cancellations = int(kept["is_cancellation"].sum())
    guests = int((kept["is_cancellation"] & kept["customer_id"].isna()).sum())
    report.add(
        TABLE,
        "cancellation line",
        "converted",
        cancellations,
        "C-invoice lines are kept as cancelled order lines with a positive quantity",
        "cancelled",
    )
    report.add(
        TABLE,
        "cancellation matched",
        "flagged",
        len(originals),
        "same customer, stock code and quantity, at or before: the original purchase is marked cancelled "
        "too, so it counts as neither a purchase nor revenue",
        "cancelled",
    )
    unmatched = kept[kept["is_cancellation"] & kept["customer_id"].notna() & ~kept.index.isin(originals.index)]
    earlier = _has_earlier_purchase(unmatched, kept).to_numpy()  # bought before, in another quantity
    partial = int(earlier.sum())
    report.add(
        TABLE,
        "cancellation unmatched: guest",
        "flagged",
        guests,
        "a guest cancellation cannot be tied to a customer's purchase; kept as a cancelled line",
        "cancelled",
    )
    report.add(
        TABLE,
        "cancellation unmatched: other quantity",
        "flagged",
        partial,
        "the customer bought the product earlier but in another quantity (mostly part of a line returned); "
        "kept as a cancelled line, the purchase stays a purchase",
        "cancelled",
    )
    alone = unmatched[~earlier]
    first_month = int((alone["timestamp"] < kept["timestamp"].min() + 31 * 86_400).sum())
    report.add(
        TABLE,
        "cancellation unmatched: no earlier purchase",
        "flagged",
        len(alone),
        f"the customer bought nothing of the product earlier in the file ({first_month} fall in its first "
        "month, cancelling orders placed before it starts); kept as a cancelled line",
        "cancelled",
    )
    report.add(
        TABLE,
        "missing customer id",
        "kept",
        int(kept["customer_id"].isna().sum()),
        "guest checkouts count in product statistics and prices, not in customers or purchase events",
        "customer_id",
    )
    report.rows_out = {TABLE: len(kept)}
    report.notes.append("invoice times are the source's UK local times, read as UTC (up to an hour off in summer)")
    return kept.reset_index(drop=True), report
