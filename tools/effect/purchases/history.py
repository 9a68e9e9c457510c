"""Purchase history of the retail shop as order lines, and a later-period file cleaned the same way.

Both sides of a time-based evaluation use the same line table, :data:`LINE_COLUMNS`: a registered customer's
(pseudonymised) id, product, invoice, unix time, quantity, unit price and ``revenue`` = quantity × unit price.
The rules are those of the issue: a customer id, positive quantity and price, not cancelled (no ``C`` invoice;
in the shop, no line matched to a cancellation either) and a stock code starting with five digits.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from agent.settings import Settings
from tools.shop import RAW_COLUMNS, ShopDataError, pseudonymise

LINE_COLUMNS = ("customer_id", "product_id", "order_id", "timestamp", "quantity", "unit_price", "revenue")
DAY = 86_400
VALIDATION_CUT = int(pd.Timestamp("2011-10-09").timestamp())
"""Start of the validation month carved from the dev data (2011-10-09..2011-11-08)."""
DEV_END = int(pd.Timestamp("2011-11-09").timestamp())
"""End of the dev data (its last invoice is on 2011-11-08): the cut for scoring a later file."""
PRODUCT_CODE = r"^\d{5}"


def _lines(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the line table in :data:`LINE_COLUMNS` order with ``revenue`` added."""
    out = frame.assign(revenue=frame["quantity"] * frame["unit_price"])
    return out[list(LINE_COLUMNS)].reset_index(drop=True)


def shop_history(orders: pd.DataFrame, cut: int | None = None, product_pattern: str | None = PRODUCT_CODE
                 ) -> pd.DataFrame:
    """Return the shop's purchase lines (before ``cut`` if given) by the rules of this module.

    Args:
        orders: The retail shop's ``orders`` table (``customer_id`` pseudonymised, None for guests).
        cut: Unix time; only lines strictly before it are kept. None keeps all.
        product_pattern: Regular expression a product id must match (default: the retail shop's five-digit stock
            codes, which leave out postage, fees and samples); None keeps every product (an imported shop).

    Returns:
        The lines in :data:`LINE_COLUMNS`.
    """
    keep = (
        orders["customer_id"].notna()
        & ~orders["cancelled"].astype(bool)
        & (orders["quantity"] > 0)
        & (orders["unit_price"] > 0)
    )
    if product_pattern is not None:
        keep &= orders["product_id"].astype(str).str.match(product_pattern)
    if cut is not None:
        keep &= orders["timestamp"] < cut
    lines = orders[keep].astype({"customer_id": str, "product_id": str, "order_id": str})
    return _lines(lines.astype({"timestamp": "int64", "quantity": "int64", "unit_price": "float64"}))


def clean_later_lines(raw: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Clean a file in the format of ``online_retail_dev.parquet`` into purchase lines.

    Keeps rows with a customer id, ``Quantity`` > 0, ``UnitPrice`` > 0, an ``InvoiceNo`` not starting with ``C``
    and a (upper-cased) ``StockCode`` starting with five digits. Customer ids are pseudonymised exactly as the
    retail shop does (the integer id as text, e.g. ``"17850"``, HMAC with ``settings.pseudonym_key``), so they
    match the shop's customers.

    Args:
        raw: The file's rows (columns InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice,
            CustomerID, Country).
        settings: Project settings (the pseudonym key).

    Returns:
        The lines in :data:`LINE_COLUMNS`.

    Raises:
        ShopDataError: A required column is missing or of the wrong type.
    """
    missing = [c for c in RAW_COLUMNS if c not in raw.columns and c not in ("Description", "Country")]
    if missing:
        raise ShopDataError(f"missing column(s) {', '.join(missing)}; expected {', '.join(RAW_COLUMNS)}",
                            column=missing[0])
    try:
        ids = pd.to_numeric(raw["CustomerID"], errors="raise").astype("Int64")
        quantity = pd.to_numeric(raw["Quantity"], errors="raise")
        price = pd.to_numeric(raw["UnitPrice"], errors="raise").astype("float64")
        when = pd.to_datetime(raw["InvoiceDate"], errors="raise")
    except (ValueError, TypeError) as exc:
        raise ShopDataError(f"cannot read the file's columns: {exc}") from exc
    codes = raw["StockCode"].astype(str).str.upper()
    invoices = raw["InvoiceNo"].astype(str)
    keep = (
        ids.notna().to_numpy()
        & (quantity > 0).to_numpy()
        & (price > 0).to_numpy()
        & ~invoices.str.upper().str.startswith("C").to_numpy()
        & codes.str.match(PRODUCT_CODE).to_numpy()
    )
    key = settings.pseudonym_key.get_secret_value()
    kept_ids = ids[keep]
    pseudonyms = {raw_id: pseudonymise(str(raw_id), key) for raw_id in kept_ids.unique()}
    lines = pd.DataFrame(
        {
            "customer_id": kept_ids.map(pseudonyms).astype(str).to_numpy(),
            "product_id": codes[keep].to_numpy(),
            "order_id": invoices[keep].to_numpy(),
            "timestamp": ((when[keep] - pd.Timestamp(0)) // pd.Timedelta(seconds=1)).astype("int64").to_numpy(),
            "quantity": quantity[keep].astype("int64").to_numpy(),
            "unit_price": price[keep].to_numpy(),
        }
    )
    return _lines(lines)


def read_later_file(path: Path, settings: Settings) -> pd.DataFrame:
    """Read and clean a later-period parquet (or CSV) file; one-line :class:`ShopDataError` if it cannot be read.

    Args:
        path: The file.
        settings: Project settings (the pseudonym key).

    Returns:
        The cleaned lines (:func:`clean_later_lines`).
    """
    if not path.is_file():
        raise ShopDataError(f"{path}: no such file", file=path.name)
    try:
        raw = pd.read_csv(path, dtype={"InvoiceNo": str, "StockCode": str}) if path.suffix.lower() == ".csv" \
            else pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise ShopDataError(f"{path.name}: cannot be read: {str(exc).splitlines()[0]}", file=path.name) from exc
    try:
        return clean_later_lines(raw, settings)
    except ShopDataError as exc:
        raise ShopDataError(f"{path.name}: {exc}", file=path.name, column=exc.column) from exc
