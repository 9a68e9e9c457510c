"""The demo gift shop ``retail``: UCI Online Retail (a UK online gift wholesaler, 2010-12-01 to 2011-11-08).

:func:`load_retail_shop` reads ``online_retail_dev.parquet`` from ``settings.shared_data_dir``, cleans it
(:mod:`tools.shop.retail_cleaning`, every rule counted in :func:`retail_cleaning_report`) and builds a
:class:`~tools.shop.shop_data.Shop`:

* products — one per stock code: ``title`` is the display form (:func:`~tools.shop.product_naming.display_name`)
  of the code's most frequent description; ``category``, ``attributes`` and ``genres`` (category then themes) are
  DERIVED from that name by keyword lexicons (:mod:`tools.shop.product_naming`; coverage measured by
  :func:`retail_catalog_coverage`); ``price`` is the current price (:mod:`tools.shop.pricing`), None for a
  product sold only in cancelled lines; currency GBP; no description or year;
* customers — registered customers, pseudonymised, with their most frequent country as region (the source
  has no demographics);
* orders — every kept line, guests (customer_id None) and cancellations included;
* interactions — one purchase event per registered, uncancelled line
  (:func:`~tools.shop.shop_data.events_from_orders`);
* price_history — every price each product sold at (:func:`~tools.shop.pricing.price_history`).

Building takes a few seconds, so the built tables and the report are cached as Parquet and JSON under
``settings.data_dir / "retail" / <key>``, where the key hashes the source file, :data:`CODE_VERSION` and the
pseudonym key; the folder is written under a temporary name and renamed into place, so a reader never sees half
of it. Every load, the first one included, returns the tables as read back from the cache, so both are the same.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pandas as pd

from agent.settings import Settings
from tools.shop.cleaning import CleaningReport
from tools.shop.pricing import current_prices, price_history
from tools.shop.product_naming import CatalogCoverage, catalog_coverage, display_name, name_attributes, product_type
from tools.shop.retail_cleaning import clean_retail_lines, most_frequent_value
from tools.shop.schema import ShopDataError
from tools.shop.shop_data import Shop, events_from_orders, pseudonymise

__all__ = [
    "RETAIL_FILE",
    "RETAIL_SHOP_NAME",
    "load_retail_shop",
    "retail_catalog_coverage",
    "retail_cleaning_report",
]

RETAIL_FILE = "online_retail_dev.parquet"
RETAIL_SHOP_NAME = "retail"
CURRENCY = "GBP"

#: Version of the cleaning, naming and pricing rules: change it whenever they change, so cached tables are rebuilt.
CODE_VERSION = "retail-1"
CACHE_DIR_NAME = "retail"
_TABLES = ("customers", "products", "interactions", "orders", "price_history")
_REPORT_FILE = "cleaning_report.json"


def _source_path(settings: Settings) -> Path:
    """Return the Online Retail file, or say where it was expected."""
    path = settings.shared_data_dir / RETAIL_FILE
    if not path.is_file():
        raise ShopDataError(
            f"{path}: the Online Retail file is missing; it ships in the repository's data/ folder "
            "(set shared_data_dir to the folder holding it)",
            file=RETAIL_FILE,
        )
    return path


def _read_source(path: Path) -> pd.DataFrame:
    """Read the raw Online Retail rows."""
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise ShopDataError(f"{path.name}: cannot be read: {exc}", file=RETAIL_FILE) from exc


def _product_names(lines: pd.DataFrame) -> pd.Series:
    """Return each product's most frequent description (whitespace collapsed; ties: the one used latest)."""
    named = lines.assign(description=lines["description"].str.replace(r"\s+", " ", regex=True).str.strip())
    counts = named.groupby(["product_id", "description"], as_index=False).agg(
        lines=("timestamp", "size"), last=("timestamp", "max")
    )
    usual = counts.sort_values(["product_id", "lines", "last"], ascending=[True, False, False])
    return usual.drop_duplicates("product_id").set_index("product_id")["description"]


def _products(lines: pd.DataFrame, prices: pd.DataFrame) -> pd.DataFrame:
    """Build the products table from the kept lines and the current prices."""
    names = _product_names(lines)
    types = names.map(product_type)
    attributes = names.map(name_attributes)
    category = [found[1] if found else None for found in types]
    themes = [[v.split(":", 1)[1] for v in values if v.startswith("theme:")] for values in attributes]
    genres = [([c] if c else []) + t for c, t in zip(category, themes, strict=True)]
    return pd.DataFrame(
        {
            "product_id": names.index.astype(str),
            "title": names.map(display_name).to_numpy(),
            "year": pd.array([None] * len(names), dtype="Int64"),
            "genres": genres,
            "description": pd.Series([None] * len(names), dtype=object),
            "price": names.index.map(prices.set_index("product_id")["price"]).astype("float64"),
            "category": pd.Series(category, dtype=object),
            "attributes": attributes.to_numpy(),
            "currency": CURRENCY,
        }
    )


def _build(settings: Settings, path: Path) -> tuple[Shop, CleaningReport]:
    """Clean the source and build the shop and its report."""
    lines, report = clean_retail_lines(_read_source(path))
    key = settings.pseudonym_key.get_secret_value()
    raw_ids = lines["customer_id"].dropna().unique()
    pseudonyms = pd.Series([pseudonymise(str(raw), key) for raw in raw_ids], index=raw_ids)
    orders = pd.DataFrame(
        {
            "order_id": lines["order_id"].astype(str),
            "customer_id": lines["customer_id"]
            .map(pseudonyms)
            .astype(object)
            .where(lines["customer_id"].notna(), None),
            "product_id": lines["product_id"].astype(str),
            "quantity": lines["quantity"].astype("int64"),
            "unit_price": lines["unit_price"].astype("float64"),
            "timestamp": lines["timestamp"].astype("int64"),
            "cancelled": lines["cancelled"].astype(bool),
        }
    )
    prices = current_prices(orders)
    registered = orders.assign(country=lines["country"])[orders["customer_id"].notna()]
    region = most_frequent_value(registered, "customer_id", "country")
    customers = pd.DataFrame(
        {
            "customer_id": region.index.astype(str),
            "age": pd.array([None] * len(region), dtype="Int64"),
            "gender": None,
            "occupation": None,
            "region": region.to_numpy(),
        }
    )
    products = _products(lines, prices)
    shop = Shop(
        name=RETAIL_SHOP_NAME,
        customers=customers,
        products=products,
        interactions=events_from_orders(orders),
        orders=orders,
        offers=(),
        price_history=price_history(orders, prices),
        currency=CURRENCY,
    )
    rules = prices["rule"].value_counts()
    report.rows_out.update({"products": len(products), "customers": len(customers)})
    report.notes.append(
        "current price by rule: "
        + ", ".join(f"{rule} {int(n)}" for rule, n in rules.items())
        + f"; {int(products['price'].isna().sum())} products sold only in cancelled lines have none"
    )
    several = lines.groupby("product_id")["description"].nunique().gt(1).sum()
    report.notes.append(f"{several} products are described in several ways; each keeps its most frequent name")
    return shop, report


def _cache_folder(settings: Settings, source: Path) -> Path:
    """Return the cache folder of this source file, rule version and pseudonym key."""
    digest = hashlib.sha256(CODE_VERSION.encode())
    digest.update(hashlib.sha256(settings.pseudonym_key.get_secret_value().encode()).digest())
    with source.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return settings.data_dir / CACHE_DIR_NAME / digest.hexdigest()[:24]


def _write_cache(shop: Shop, report: CleaningReport, folder: Path) -> None:
    """Write the tables and the report to a temporary folder, then rename it to ``folder``."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.parent / f".{folder.name}.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        for table in _TABLES:
            getattr(shop, table).to_parquet(staging / f"{table}.parquet", index=False)
        (staging / _REPORT_FILE).write_text(report.model_dump_json(indent=1), encoding="utf-8")
        os.replace(staging, folder)
    except OSError:
        if not (folder / _REPORT_FILE).is_file():  # another process may have won the race; else it is an error
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _read_cache(folder: Path) -> tuple[Shop, CleaningReport]:
    """Read the cached tables and report back into a shop (list columns become lists again)."""
    tables = {table: pd.read_parquet(folder / f"{table}.parquet") for table in _TABLES}
    products = tables["products"]
    for column in ("genres", "attributes"):
        products[column] = products[column].map(list)
    products["description"] = products["description"].astype(object).where(products["description"].notna(), None)
    products["category"] = products["category"].astype(object).where(products["category"].notna(), None)
    orders = tables["orders"]
    orders["customer_id"] = orders["customer_id"].astype(object).where(orders["customer_id"].notna(), None)
    customers = tables["customers"]
    for column in ("gender", "occupation"):
        customers[column] = customers[column].astype(object).where(customers[column].notna(), None)
    shop = Shop(
        name=RETAIL_SHOP_NAME,
        customers=customers,
        products=products,
        interactions=tables["interactions"],
        orders=orders,
        offers=(),
        price_history=tables["price_history"],
        currency=CURRENCY,
    )
    report = CleaningReport.model_validate_json((folder / _REPORT_FILE).read_text(encoding="utf-8"))
    return shop, report


def _load(settings: Settings) -> tuple[Shop, CleaningReport]:
    """Return the shop and report from the cache, building and caching them first when absent."""
    source = _source_path(settings)
    folder = _cache_folder(settings, source)
    if not (folder / _REPORT_FILE).is_file():
        _write_cache(*_build(settings, source), folder)
    return _read_cache(folder)


def load_retail_shop(settings: Settings) -> Shop:
    """Load UCI Online Retail as the demo gift shop ``retail``.

    Args:
        settings: Project settings (``shared_data_dir`` holds the file; ``data_dir`` the cache; the pseudonym key).

    Returns:
        The shop (see the module docstring).

    Raises:
        ShopDataError: The file is missing or unreadable.
        OSError: The cache cannot be written.
    """
    return _load(settings)[0]


def retail_cleaning_report(settings: Settings) -> CleaningReport:
    """Return what cleaning did to Online Retail: every rule with its count and reason.

    Args:
        settings: Project settings.

    Returns:
        The report; for table ``"order lines"`` rows_in minus the rows dropped equals rows_out.

    Raises:
        ShopDataError: The file is missing or unreadable.
        OSError: The cache cannot be written.
    """
    return _load(settings)[1]


def retail_catalog_coverage(shop: Shop) -> CatalogCoverage:
    """Measure how many products, and how much revenue, carry a category and each derived attribute kind.

    Args:
        shop: The shop from :func:`load_retail_shop` (any shop with categories, attributes and orders).

    Returns:
        The coverage (:func:`~tools.shop.product_naming.catalog_coverage`).

    Raises:
        ShopDataError: The shop has no orders to weigh revenue by.
    """
    if shop.orders is None:
        raise ShopDataError(f"shop {shop.name!r} has no orders: revenue coverage needs them")
    return catalog_coverage(shop.products, shop.orders)
