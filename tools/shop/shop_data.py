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
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pydantic import BaseModel

from agent.settings import Settings
from tools.shop.schema import (
    Customer,
    Event,
    Interaction,
    Product,
    ShopDataError,
    first_bad,
    infer_event_types,
    validate_table,
)

__all__ = [
    "OUTSIDE_US",
    "ZIP_REGIONS",
    "Customer",
    "Event",
    "Interaction",
    "Product",
    "Shop",
    "ShopDataError",
    "load_demo_shop",
    "load_shop_files",
    "pseudonymise",
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
    """A shop's data in memory.

    Attributes:
        name: Short name, e.g. ``"movielens-100k"``.
        customers: customer_id (str, pseudonymised), age, gender, occupation, region (any may be missing).
        products: product_id (str), title (str), year (Int64 nullable), genres (list[str]).
        interactions: The events: customer_id (str), product_id (str or None), rating (float, NaN when the
            event is not a rating), timestamp (int64 unix s); shops with purchases add ``event_type``,
            ``value`` (money) and ``quantity``.
    """

    name: str
    customers: pd.DataFrame
    products: pd.DataFrame
    interactions: pd.DataFrame

    @property
    def has_monetary(self) -> bool:
        """Tell whether events carry money (a ``value`` column with at least one amount)."""
        return "value" in self.interactions.columns and bool(self.interactions["value"].notna().any())


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


def validate_shop_tables(
    frames: dict[str, pd.DataFrame], names: dict[str, str], settings: Settings, name: str = "custom"
) -> Shop:
    """Validate raw customers, products and events tables and return the pseudonymised shop.

    Args:
        frames: Keys ``customers``, ``products``, ``interactions`` (events) to the raw tables.
        names: The same keys to file names used in error messages.
        settings: Project settings (gives the pseudonym key).
        name: Name of the shop.

    Returns:
        The validated :class:`Shop`; events keep ``event_type``/``value``/``quantity`` only when used.

    Raises:
        ShopDataError: A column is missing, a value is invalid, an id is duplicated, or an event
            references an unknown customer or product.
    """
    models: dict[str, type[BaseModel]] = {"customers": Customer, "products": Product, "interactions": Event}
    tables = {k: validate_table(frames[k], models[k], names[k]) for k in models}
    cust, prod, inter = tables["customers"], tables["products"], tables["interactions"]
    first_bad(cust["customer_id"].duplicated(), cust, "customer_id", names["customers"], "duplicate id {value}")
    first_bad(prod["product_id"].duplicated(), prod, "product_id", names["products"], "duplicate id {value}")
    inter["event_type"] = infer_event_types(inter, names["interactions"])
    first_bad(
        ~inter["customer_id"].isin(cust["customer_id"]),
        inter,
        "customer_id",
        names["interactions"],
        "unknown customer {value}",
    )
    known = inter["product_id"].isna() | inter["product_id"].isin(prod["product_id"])
    first_bad(~known, inter, "product_id", names["interactions"], "unknown product {value}")
    key = settings.pseudonym_key.get_secret_value()
    for table in (cust, inter):
        table["customer_id"] = table["customer_id"].map(lambda raw: pseudonymise(raw, key))
    core = ["customer_id", "product_id", "rating", "timestamp"]
    extra = ["event_type"] if set(inter["event_type"]) != {"rating"} else []
    extra += [c for c in ("value", "quantity") if inter[c].notna().any()]
    products = prod if prod["description"].notna().any() or prod["price"].notna().any() else prod.iloc[:, :4]
    return Shop(name=name, customers=cust, products=products, interactions=inter[core + extra])


def load_shop_files(
    customers: Path, products: Path, interactions: Path, settings: Settings, name: str = "custom"
) -> Shop:
    """Load and validate a shop from three CSV or Parquet files (chosen by suffix).

    Everything is read and validated before anything is returned, so a bad file changes nothing.
    Customer ids are pseudonymised with ``settings.pseudonym_key`` after validation.

    Args:
        customers: Table of :class:`~tools.shop.schema.Customer` rows.
        products: Table of :class:`~tools.shop.schema.Product` rows.
        interactions: Table of :class:`~tools.shop.schema.Event` rows (rating-only :class:`Interaction` rows are
            valid events).
        settings: Project settings (gives the pseudonym key).
        name: Name of the shop.

    Returns:
        The validated :class:`Shop`.

    Raises:
        ShopDataError: A file is missing or unreadable, a column is missing, a value is invalid, an id is
            duplicated, or an interaction references an unknown customer or product.
    """
    files = {"customers": Path(customers), "products": Path(products), "interactions": Path(interactions)}
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
    return Shop(name="movielens-100k", customers=customers, products=products, interactions=interactions)
