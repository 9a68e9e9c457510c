"""The shop: its customers, products and events, and the loaders that bring them in.

A shop brings its tables as CSV or Parquet files in the schema of :mod:`tools.shop.schema` (customers,
products, events; in CSV, ``genres`` is one ``|``-separated string). :func:`load_shop_files` validates
every row (vectorised, with the model's own types and bounds) and the references between the tables;
:func:`load_demo_shop` turns MovieLens-100k into a video shop. Other real sources are in
:mod:`tools.shop.sources`, and :mod:`tools.shop.library` stores a validated shop without ever losing the
previous one.

Customer ids are pseudonymised on load with a keyed hash (:func:`pseudonymise`); raw ids and zip codes
are never kept in a :class:`Shop`.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ValidationError

from agent.settings import Settings
from tools.shop.schema import (
    Customer,
    Event,
    Interaction,
    Offer,
    OrderLine,
    Product,
    ShopDataError,
    fail,
    first_bad,
    infer_event_types,
    validate_table,
)
from tools.untrusted_text import text_problem

__all__ = [
    "OUTSIDE_US",
    "ZIP_REGIONS",
    "Customer",
    "Event",
    "Interaction",
    "Offer",
    "OrderLine",
    "Product",
    "Shop",
    "ShopDataError",
    "events_from_orders",
    "load_demo_shop",
    "load_shop_files",
    "product_model",
    "pseudonymise",
    "read_offers",
    "validate_table",
    "zip_region",
]

DEMO_DIR_NAME = "ml-100k"

#: First digit of a US zip code to a broad region (USPS numbering runs from the north-east to the west).
ZIP_REGIONS: dict[str, str] = {
    "0": "Northeast", "1": "Northeast",
    "2": "Southeast", "3": "Southeast",
    "4": "Midwest", "5": "Midwest",
    "6": "Central",
    "7": "South Central",
    "8": "Mountain",
    "9": "West",
}  # fmt: skip
OUTSIDE_US = "outside US"


@dataclass(frozen=True)
class Shop:
    """A shop's data in memory: one domain model for every shop (MovieLens maps onto it as ratings, no prices).

    Attributes:
        name: Short name, e.g. ``"movielens"`` or ``"retail"``.
        customers: customer_id (str, pseudonymised), age, gender, occupation, region (any may be missing).
        products: product_id (str), title (str), year (Int64 nullable), genres (list[str]); shops with a
            catalog add description, price (current unit price), category, attributes ('name:value' list) and
            currency.
        interactions: The events: customer_id (str), product_id (str or None), rating (float, NaN when the
            event is not a rating), timestamp (int64 unix s); shops with purchases add ``event_type``,
            ``value`` (money) and ``quantity``. A shop with orders has one purchase event per registered,
            uncancelled order line (:func:`events_from_orders`).
        orders: Order lines (:class:`~tools.shop.schema.OrderLine` columns; ``customer_id`` pseudonymised, None
            for guests; ``cancelled`` bool), or None for a shop without orders.
        offers: The shop's own offers (a brief may add one).
        price_history: Every unit price a product sold at (product_id, unit_price, lines, units, first_sold,
            last_sold, kind: "current", "bulk", "guest" or "past"), or None.
        currency: ISO 4217 code of every price (e.g. "GBP"), or None for a shop without prices.
    """

    name: str
    customers: pd.DataFrame
    products: pd.DataFrame
    interactions: pd.DataFrame
    orders: pd.DataFrame | None = None
    offers: tuple[Offer, ...] = ()
    price_history: pd.DataFrame | None = None
    currency: str | None = None

    @property
    def has_monetary(self) -> bool:
        """Tell whether events carry money (a ``value`` column with at least one amount)."""
        return "value" in self.interactions.columns and bool(self.interactions["value"].notna().any())

    @property
    def has_prices(self) -> bool:
        """Tell whether the catalog states current prices (then copy may state them)."""
        return "price" in self.products.columns and bool(self.products["price"].notna().any())

    @property
    def has_ratings(self) -> bool:
        """Tell whether the events are ratings (MovieLens): the click model's ``p_like`` needs them."""
        return bool(self.interactions["rating"].notna().any())

    def product(self, product_id: str) -> Product | None:
        """Return one catalog row as a :class:`~tools.shop.schema.Product`, None when the catalog has no such id."""
        rows = self.products.loc[self.products["product_id"].astype(str) == str(product_id)]
        return product_model(rows.iloc[0].to_dict()) if len(rows) else None

    @property
    def today(self) -> pd.Timestamp:
        """The shop's "today": the time of its last event (UTC), which a plan's dates count from."""
        return pd.Timestamp(int(self.interactions["timestamp"].max()), unit="s", tz="UTC")


def _plain(cell: Any) -> Any:
    """Return a table cell as plain Python: lists of text for arrays, None for a missing value."""
    if isinstance(cell, list | tuple | np.ndarray):
        return [str(x) for x in cell]
    return None if pd.isna(cell) else cell


def product_model(record: Mapping[str, Any]) -> Product:
    """Return a products-table row (a mapping of column to cell) as a :class:`~tools.shop.schema.Product`.

    Columns outside the model are ignored; arrays become lists and missing cells None.
    """
    fields = {k: _plain(record[k]) for k in Product.model_fields if k in record}
    return Product.model_validate({**fields, "product_id": str(fields["product_id"])})


def pseudonymise(raw_id: str, key: str) -> str:
    """Return a stable pseudonym for a customer id: ``"c_"`` + 16 hex chars of HMAC-SHA256.

    Args:
        raw_id: The shop's own customer id.
        key: Secret key (``settings.pseudonym_key``); another key gives other pseudonyms.

    Returns:
        The pseudonym, e.g. ``"c_3f9a0b1c2d3e4f50"``.
    """
    digest = hmac.new(key.encode("utf-8"), str(raw_id).encode("utf-8"), hashlib.sha256).hexdigest()
    return "c_" + digest[:16]


def zip_region(zip_code: str) -> str:
    """Map a US zip code to a broad region by its first digit (:data:`ZIP_REGIONS`).

    Args:
        zip_code: Zip or postal code as recorded.

    Returns:
        The region; :data:`OUTSIDE_US` for a non-numeric code (e.g. a Canadian postal code).
    """
    code = str(zip_code).strip()
    return ZIP_REGIONS[code[0]] if code.isdigit() else OUTSIDE_US


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV (all cells as text) or Parquet file."""
    if not path.is_file():
        raise ShopDataError(f"{path}: file not found", file=path.name)
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise ShopDataError(f"{path.name}: cannot be read: {exc}", file=path.name) from exc
    raise ShopDataError(f"{path.name}: unsupported file type {suffix!r} (use .csv or .parquet)", file=path.name)


def events_from_orders(orders: pd.DataFrame) -> pd.DataFrame:
    """Return one purchase event per registered, uncancelled order line (guest lines have no customer).

    Args:
        orders: Order lines with pseudonymised ``customer_id`` (None for guests) and a bool ``cancelled``.

    Returns:
        Events: customer_id, product_id, rating (NaN), timestamp, event_type "purchase", value (quantity ×
        unit price) and quantity.
    """
    kept = orders[orders["customer_id"].notna() & ~orders["cancelled"].astype(bool)]
    return pd.DataFrame({
        "customer_id": kept["customer_id"].astype(str).to_numpy(),
        "product_id": kept["product_id"].astype(str).to_numpy(),
        "rating": float("nan"),
        "timestamp": kept["timestamp"].astype("int64").to_numpy(),
        "event_type": "purchase",
        "value": (kept["quantity"] * kept["unit_price"]).astype("float64").round(2).to_numpy(),
        "quantity": kept["quantity"].astype("Int64").to_numpy(),
    })


def read_offers(frame: pd.DataFrame, file: str, products: pd.DataFrame) -> tuple[Offer, ...]:
    """Validate an offers table row by row against :class:`~tools.shop.schema.Offer` and the catalog.

    ``product_ids`` and ``categories`` are ``|``-separated in CSV. Every product and category an offer names
    must be in ``products``.

    Args:
        frame: The table as read.
        file: File name for errors.
        products: The validated products table.

    Returns:
        The offers.

    Raises:
        ShopDataError: naming file, 1-based row and column of the first bad cell (or a repeated code).
    """
    known_products = set(products["product_id"])
    known_categories = set(products["category"].dropna()) if "category" in products.columns else set()
    offers: list[Offer] = []
    for row, record in enumerate(frame.to_dict("records"), start=1):
        cells = {k: (v.strip() if isinstance(v, str) else v) for k, v in record.items()}
        cells = {k: v for k, v in cells.items() if not (v is None or v == "" or (isinstance(v, float) and pd.isna(v)))}
        for key in ("product_ids", "categories"):
            if isinstance(cells.get(key), str):
                cells[key] = [x.strip() for x in cells[key].split("|") if x.strip()]
        try:
            offer = Offer.model_validate(cells)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            column = str(first["loc"][0]) if first["loc"] else "percent_off"
            raise fail(file, row, column, first["msg"].removeprefix("Value error, ")) from None
        unknown = [p for p in offer.product_ids if p not in known_products]
        if unknown:
            raise fail(file, row, "product_ids", f"unknown product {unknown[0]!r}: the shop does not sell it")
        unknown = [c for c in offer.categories if c not in known_categories]
        if unknown:
            raise fail(file, row, "categories", f"unknown category {unknown[0]!r}")
        if any(o.code.casefold() == offer.code.casefold() for o in offers):
            raise fail(file, row, "code", f"offer code {offer.code!r} is repeated")
        offers.append(offer)
    return tuple(offers)


def validate_shop_tables(
    frames: dict[str, pd.DataFrame], names: dict[str, str], settings: Settings, name: str = "custom"
) -> Shop:
    """Validate raw customers, products and events tables and return the pseudonymised shop.

    Args:
        frames: Keys ``customers``, ``products``, ``interactions`` (events; optional when orders are given) and
            optionally ``orders`` and ``offers`` to the raw tables.
        names: The same keys to file names used in error messages.
        settings: Project settings (gives the pseudonym key).
        name: Name of the shop.

    Returns:
        The validated :class:`Shop`; events keep ``event_type``/``value``/``quantity`` only when used. Order
        lines of registered customers become purchase events too.

    Raises:
        ShopDataError: A column is missing, a value is invalid, an id is duplicated, an event or order line
            references an unknown customer or product, or an offer an unknown product or category.
    """
    if "interactions" not in frames and "orders" not in frames:
        raise ShopDataError("a shop needs an events file, an orders file, or both")
    models: dict[str, type[BaseModel]] = {"customers": Customer, "products": Product, "interactions": Event,
                                          "orders": OrderLine}
    tables = {k: validate_table(frames[k], model, names[k]) for k, model in models.items() if k in frames}
    cust, prod = tables["customers"], tables["products"]
    inter = tables.get("interactions", validate_table(pd.DataFrame(columns=["customer_id", "timestamp"]), Event, "-"))
    first_bad(cust["customer_id"].duplicated(), cust, "customer_id", names["customers"], "duplicate id {value}")
    first_bad(prod["product_id"].duplicated(), prod, "product_id", names["products"], "duplicate id {value}")
    for table, file, columns in ((prod, names["products"], ("title", "description", "category")),
                                 (cust, names["customers"], ("gender", "occupation", "region"))):
        for column in columns:  # pasted text reaches prompts, copy and the page: no markup, no instructions
            problems = table[column].map(lambda v: text_problem(v) if isinstance(v, str) else None)
            first_bad(problems.notna(), table, column, file, "{value}: unsafe text (markup or words to the assistant)")
    key = settings.pseudonym_key.get_secret_value()
    orders = tables.get("orders")
    if orders is not None:
        file = names["orders"]
        first_bad(~orders["product_id"].isin(prod["product_id"]), orders, "product_id", file, "unknown product {value}")
        guest = orders["customer_id"].isna()
        first_bad(~guest & ~orders["customer_id"].isin(cust["customer_id"]), orders, "customer_id", file,
                  "unknown customer {value}")
        orders["cancelled"] = orders["cancelled"].fillna(0).astype(bool)
        orders["customer_id"] = orders["customer_id"].map(lambda raw: pseudonymise(raw, key), na_action="ignore")
    offers = read_offers(frames["offers"], names["offers"], prod) if "offers" in frames else ()
    events_file = names.get("interactions", "events")
    inter["event_type"] = infer_event_types(inter, events_file)
    first_bad(
        ~inter["customer_id"].isin(cust["customer_id"]),
        inter,
        "customer_id",
        events_file,
        "unknown customer {value}",
    )
    known = inter["product_id"].isna() | inter["product_id"].isin(prod["product_id"])
    first_bad(~known, inter, "product_id", events_file, "unknown product {value}")
    for table in (cust, inter):
        table["customer_id"] = table["customer_id"].map(lambda raw: pseudonymise(raw, key))
    if orders is not None:
        inter = pd.concat([inter, events_from_orders(orders)], ignore_index=True)
    core = ["customer_id", "product_id", "rating", "timestamp"]
    extra = ["event_type"] if set(inter["event_type"]) != {"rating"} else []
    extra += [c for c in ("value", "quantity") if inter[c].notna().any()]
    catalog = ["description", "price", "category", "attributes", "currency"]
    used = [c for c in catalog if prod[c].map(lambda v: bool(v) if isinstance(v, list) else pd.notna(v)).any()]
    currencies = sorted(set(prod["currency"].dropna()))
    if len(currencies) > 1:
        raise ShopDataError(f"{names['products']}: prices in several currencies ({', '.join(currencies)}); use one",
                            file=names["products"], column="currency")
    return Shop(name=name, customers=cust, products=prod[[*prod.columns[:4], *used]], interactions=inter[core + extra],
                orders=orders, offers=offers, currency=currencies[0] if currencies else None)


def load_shop_files(
    customers: Path,
    products: Path,
    interactions: Path | None,
    settings: Settings,
    name: str = "custom",
    orders: Path | None = None,
    offers: Path | None = None,
) -> Shop:
    """Load and validate a shop from its CSV or Parquet files (chosen by suffix).

    Everything is read and validated before anything is returned, so a bad file changes nothing.
    Customer ids are pseudonymised with ``settings.pseudonym_key`` after validation.

    Args:
        customers: Table of :class:`~tools.shop.schema.Customer` rows.
        products: Table of :class:`~tools.shop.schema.Product` rows.
        interactions: Table of :class:`~tools.shop.schema.Event` rows (rating-only :class:`Interaction` rows are
            valid events); may be None when ``orders`` is given.
        settings: Project settings (gives the pseudonym key).
        name: Name of the shop.
        orders: Table of :class:`~tools.shop.schema.OrderLine` rows, or None.
        offers: Table of :class:`~tools.shop.schema.Offer` rows, or None.

    Returns:
        The validated :class:`Shop`.

    Raises:
        ShopDataError: A file is missing or unreadable, a column is missing, a value is invalid, an id is
            duplicated, or a row references an unknown customer, product or category.
    """
    given = {"customers": customers, "products": products, "interactions": interactions, "orders": orders,
             "offers": offers}
    files = {k: Path(p) for k, p in given.items() if p is not None}
    frames = {k: read_table(p) for k, p in files.items()}
    return validate_shop_tables(frames, {k: p.name for k, p in files.items()}, settings, name)


def _read_recbole(path: Path) -> pd.DataFrame:
    """Read a RecBole atomic file (tab-separated, headers like ``user_id:token``) as text."""
    frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, quoting=csv.QUOTE_NONE)
    frame.columns = [c.split(":", 1)[0] for c in frame.columns]
    return frame


def load_demo_shop(settings: Settings) -> Shop:
    """Load MovieLens-100k (as fetched from the ``recbole`` wheel) as a video shop.

    Customers get pseudonymised ids and a region derived from their zip code (:func:`zip_region`);
    raw user ids and zip codes are dropped. Products keep MovieLens ids as strings and RecBole's titles;
    a release year that is not a number (one item has none) becomes missing.

    Args:
        settings: Project settings (gives ``data_dir`` and the pseudonym key).

    Returns:
        The demo :class:`Shop` (943 customers, 1,682 products, 100,000 interactions).

    Raises:
        ShopDataError: The dataset has not been fetched yet.
    """
    folder = settings.data_dir / DEMO_DIR_NAME
    files = {ext: folder / f"ml-100k.{ext}" for ext in ("user", "item", "inter")}
    absent = [p.name for p in files.values() if not p.is_file()]
    if absent:
        raise ShopDataError(
            f"MovieLens-100k is missing in {folder} ({', '.join(absent)}): run `campaign data fetch` or `make setup`",
            file=absent[0],
        )
    key = settings.pseudonym_key.get_secret_value()
    users = _read_recbole(files["user"])
    customers = users[["gender", "occupation"]].assign(
        customer_id=users["user_id"].map(lambda raw: pseudonymise(raw, key)),
        age=users["age"].astype("int64"),
        region=users["zip_code"].map(zip_region),
    )[["customer_id", "age", "gender", "occupation", "region"]]
    items = _read_recbole(files["item"])
    products = pd.DataFrame({"product_id": items["item_id"], "title": items["movie_title"]}).assign(
        year=pd.to_numeric(items["release_year"], errors="coerce").astype("Int64"),
        genres=items["class"].str.split(),
    )
    ratings = _read_recbole(files["inter"])
    pseudonyms = dict(zip(users["user_id"], customers["customer_id"], strict=True))
    interactions = pd.DataFrame({"customer_id": ratings["user_id"].map(pseudonyms)}).assign(
        product_id=ratings["item_id"],
        rating=ratings["rating"].astype("float64"),
        timestamp=ratings["timestamp"].astype("float64").astype("int64"),
    )
    if interactions["customer_id"].isna().any():
        raise ShopDataError("ml-100k.inter references a user missing from ml-100k.user", file="ml-100k.inter")
    return Shop(name="movielens", customers=customers, products=products, interactions=interactions)
