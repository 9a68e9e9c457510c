"""Stored shops: a shop's own files, validated in full, then saved without ever losing the previous copy.

:func:`ingest_shop_files` reads and validates every file first (:func:`tools.shop.shop_data.load_shop_files`: a bad
file raises :class:`~tools.shop.schema.ShopDataError` naming file, row and column, and nothing is written),
cleans the events (exact repeats dropped, recorded in a :class:`~tools.shop.cleaning.CleaningReport`), writes
the tables to a staging folder, and only then swaps it in place of the stored copy. Ids are already
pseudonymised when stored.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from agent.settings import Settings
from tools.shop.cleaning import CleaningReport, drop_duplicates
from tools.shop.schema import Offer
from tools.shop.shop_data import Shop, ShopDataError, load_shop_files

SHOPS_FOLDER = "shops"
_TABLES = {"customers": "customers.parquet", "products": "products.parquet", "interactions": "events.parquet"}
_ORDERS = "orders.parquet"
_OFFERS = "offers.json"
_META = "shop.json"
SHOP_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
RESERVED_NAMES = ("retail", "movielens", "hillstrom")
"""Names of the built-in shops (:mod:`tools.shop.directory`); an imported shop cannot take them."""
_NAME = re.compile(SHOP_NAME_PATTERN)


@dataclass(frozen=True)
class IngestReport:
    """What :func:`ingest_shop_files` stored.

    Attributes:
        name: Shop name.
        folder: Where the tables are.
        rows: Rows stored per table.
        cleaning: What cleaning did.
        replaced: True when a previous copy of the shop was replaced.
    """

    name: str
    folder: Path
    rows: dict[str, int]
    cleaning: CleaningReport
    replaced: bool


def shops_dir(settings: Settings) -> Path:
    """Return the folder of stored shops (``home/shops``)."""
    return settings.home / SHOPS_FOLDER


def _check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ShopDataError(f"shop name {name!r} must be 1–64 lower-case letters, digits, '-' or '_'")
    return name


def _names_products(activity: pd.DataFrame | None) -> bool:
    """True when the shop's events or order lines name any product (then its catalog must not be empty)."""
    return activity is not None and "product_id" in activity.columns and bool(activity["product_id"].notna().any())


def ingest_shop_files(
    settings: Settings,
    name: str,
    customers: Path,
    products: Path,
    events: Path | None,
    orders: Path | None = None,
    offers: Path | None = None,
) -> IngestReport:
    """Validate a shop's files completely, clean them, and store them atomically.

    Args:
        settings: Project settings (home folder, pseudonym key).
        name: Shop name (lower-case letters, digits, '-', '_').
        customers: Customers table (CSV or Parquet).
        products: Products table.
        events: Events table (rating-only interactions are valid events); None when ``orders`` is given.
        orders: Order lines table, or None.
        offers: Offers table, or None.

    Returns:
        What was stored.

    Raises:
        ShopDataError: Bad name or bad file; nothing stored before is changed.
    """
    _check_name(name)
    if name in RESERVED_NAMES:
        raise ShopDataError(f"shop name {name!r} is taken by a built-in shop ({', '.join(RESERVED_NAMES)})")
    shop = load_shop_files(customers, products, events, settings, name=name, orders=orders, offers=offers)
    activity = shop.orders if events is None and shop.orders is not None else shop.interactions
    for what, table, path in (("customers", shop.customers, customers), ("products", shop.products, products),
                              ("orders" if events is None else "events", activity, events or orders)):
        if what == "products" and not _names_products(activity):
            continue  # spend-only events (e.g. CDNOW) name no product: a shop without a catalog is valid
        if table is None or table.empty:  # an empty export would replace the stored shop with nothing
            raise ShopDataError(f"{path}: no {what} rows; nothing stored before is changed")
    report = CleaningReport(source=name, rows_in={"events": len(shop.interactions)})
    events_table = drop_duplicates(shop.interactions, report, "events", "the same event recorded twice")
    report.rows_out = {"events": len(events_table)}
    tables = {"customers": shop.customers, "products": shop.products, "interactions": events_table}
    order_lines = shop.orders
    if order_lines is not None:
        report.rows_in["orders"] = len(order_lines)
        order_lines = drop_duplicates(order_lines, report, "orders", "the same order line recorded twice")
        report.rows_out["orders"] = len(order_lines)
    root = shops_dir(settings)
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".staging-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        for key, frame in tables.items():
            frame.to_parquet(staging / _TABLES[key], index=False)
        if order_lines is not None:
            order_lines.to_parquet(staging / _ORDERS, index=False)
        offers_json = [o.model_dump(mode="json") for o in shop.offers]
        (staging / _OFFERS).write_text(json.dumps(offers_json, indent=1), encoding="utf-8")
        (staging / _META).write_text(json.dumps({"currency": shop.currency}), encoding="utf-8")
        (staging / "cleaning.json").write_text(report.model_dump_json(indent=1), encoding="utf-8")
    except Exception:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    target = root / name
    replaced = target.exists()
    old = root / f".old-{uuid.uuid4().hex}"
    if replaced:
        os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)
    rows = {_TABLES[k].removesuffix(".parquet"): len(v) for k, v in tables.items()}
    if order_lines is not None:
        rows["orders"] = len(order_lines)
    rows["offers"] = len(shop.offers)
    return IngestReport(name=name, folder=target, rows=rows, cleaning=report, replaced=replaced)


def load_stored_shop(settings: Settings, name: str) -> Shop:
    """Load a shop stored by :func:`ingest_shop_files`.

    Args:
        settings: Project settings.
        name: Shop name.

    Returns:
        The shop.

    Raises:
        ShopDataError: No such stored shop.
    """
    folder = shops_dir(settings) / _check_name(name)
    if not folder.is_dir():
        known = ", ".join(stored_shops(settings)) or "none"
        raise ShopDataError(f"no stored shop {name!r} (stored: {known})")
    frames = {key: pd.read_parquet(folder / file) for key, file in _TABLES.items()}
    for column in ("genres", "attributes"):
        if column in frames["products"].columns:
            frames["products"][column] = frames["products"][column].map(lambda g: [str(x) for x in g])
    orders = pd.read_parquet(folder / _ORDERS) if (folder / _ORDERS).is_file() else None
    offers_file, meta_file = folder / _OFFERS, folder / _META
    offers = json.loads(offers_file.read_text(encoding="utf-8")) if offers_file.is_file() else []
    meta = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.is_file() else {}
    return Shop(name=name, **frames, orders=orders, offers=tuple(Offer.model_validate(o) for o in offers),
                currency=meta.get("currency"))


def stored_shops(settings: Settings) -> list[str]:
    """Return the names of the stored shops."""
    root = shops_dir(settings)
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) if root.is_dir() else []


def erase_from_shops(settings: Settings, customer_id: str) -> dict[str, int]:
    """Remove a customer's rows from every stored shop table; return rows removed per file.

    Args:
        settings: Project settings.
        customer_id: Pseudonymised id.

    Returns:
        ``"<shop>/<file>"`` to rows removed (files without the customer are left untouched).
    """
    removed: dict[str, int] = {}
    for name in stored_shops(settings):
        for file in (_TABLES["customers"], _TABLES["interactions"], _ORDERS):
            path = shops_dir(settings) / name / file
            if not path.is_file():
                continue
            frame = pd.read_parquet(path)
            hit = frame["customer_id"] == customer_id
            if hit.any():
                partial = path.with_name(path.name + ".part")
                frame.loc[~hit].to_parquet(partial, index=False)
                os.replace(partial, path)
                removed[f"{name}/{file}"] = int(hit.sum())
    return removed


def cleaning_report(settings: Settings, name: str) -> CleaningReport:
    """Return the cleaning report saved with a stored shop."""
    path = shops_dir(settings) / _check_name(name) / "cleaning.json"
    return CleaningReport.model_validate(json.loads(path.read_text(encoding="utf-8")))
