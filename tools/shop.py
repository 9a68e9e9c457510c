"""The shop: its customers, products and interactions, and the loaders that bring them in.

A shop brings three tables as CSV or Parquet files; :class:`Customer`, :class:`Product` and
:class:`Interaction` document one row of each (in CSV, ``genres`` is one ``|``-separated string).
:func:`load_shop_files` validates every row (vectorised, with the model's own types and bounds) and the
references between the tables; :func:`load_demo_shop` turns MovieLens-100k into a video shop.

Customer ids are pseudonymised on load with a keyed hash (:func:`pseudonymise`); raw ids and zip codes
are never kept in a :class:`Shop`.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

import annotated_types
import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from pydantic.fields import FieldInfo

from agent.settings import Settings

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


class ShopDataError(ValueError):
    """Shop data is missing or invalid; names the file, 1-based data row and column where known.

    Attributes:
        file: File name (or dataset) concerned.
        row: 1-based data row (the header is not counted), or None.
        column: Column name, or None.
    """

    def __init__(
        self, message: str, file: str | None = None, row: int | None = None, column: str | None = None
    ):
        super().__init__(message)
        self.file = file
        self.row = row
        self.column = column


class Customer(BaseModel):
    """One row of the customers table."""

    customer_id: str = Field(min_length=1, description="The shop's customer id (pseudonymised on load).")
    age: Annotated[int, Field(ge=0, le=120)]
    gender: str = Field(min_length=1, description="As the shop records it, e.g. 'F' or 'M'.")
    occupation: str = Field(min_length=1)
    region: str = Field(min_length=1, description="Broad region, e.g. 'Midwest'.")


class Product(BaseModel):
    """One row of the products table (in CSV, ``genres`` is a ``|``-separated string)."""

    product_id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    year: int | None = None
    genres: list[str] = Field(default_factory=list)


class Interaction(BaseModel):
    """One rating of a product by a customer."""

    customer_id: str = Field(min_length=1)
    product_id: str = Field(min_length=1)
    rating: Annotated[float, Field(ge=1, le=5)]
    timestamp: Annotated[int, Field(ge=0, description="Unix seconds.")]


@dataclass(frozen=True)
class Shop:
    """A shop's data in memory.

    Attributes:
        name: Short name, e.g. ``"movielens-100k"``.
        customers: customer_id (str, pseudonymised), age (int), gender (str), occupation (str), region (str).
        products: product_id (str), title (str), year (Int64 nullable), genres (list[str]).
        interactions: customer_id (str), product_id (str), rating (float), timestamp (int64 unix s).
    """

    name: str
    customers: pd.DataFrame
    products: pd.DataFrame
    interactions: pd.DataFrame


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


def _fail(file: str, row: int, column: str, problem: str) -> ShopDataError:
    return ShopDataError(f"{file} row {row}, column '{column}': {problem}", file=file, row=row, column=column)


def _column_rule(field: FieldInfo) -> tuple[str, bool, tuple[Any, Any]]:
    """Return (kind 'str'|'int'|'float'|'list', nullable, (ge, le)) of a model field."""
    nullable = type(None) in get_args(field.annotation)
    base = (
        next(a for a in get_args(field.annotation) if a is not type(None)) if nullable else field.annotation
    )
    kinds: dict[Any, str] = {str: "str", int: "int", float: "float"}
    kind = "list" if get_origin(base) is list else kinds[base]
    low = next((m.ge for m in field.metadata if isinstance(m, annotated_types.Ge)), None)
    high = next((m.le for m in field.metadata if isinstance(m, annotated_types.Le)), None)
    return kind, nullable, (low, high)


def _blank(value: Any) -> Any:
    """Return ``""`` for a missing cell, a stripped string for text, the value itself otherwise."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list | tuple | np.ndarray):
        return value
    return "" if value is None or pd.isna(value) else value


def _validate_column(
    raw: pd.Series, kind: str, nullable: bool, bounds: tuple[Any, Any], file: str
) -> pd.Series:
    """Check and convert one column; raise ShopDataError at its first bad row."""
    column = str(raw.name)
    as_text = raw.map(_blank)
    empty = as_text.map(lambda v: isinstance(v, str) and v == "")
    if not nullable and kind != "list" and empty.any():
        raise _fail(file, int(empty.to_numpy().argmax()) + 1, column, "value is empty")
    if kind == "str":
        return as_text.map(lambda v: str(v).strip())
    if kind == "list":
        return as_text.map(
            lambda v: (
                [str(g).strip() for g in v if str(g).strip()]
                if not isinstance(v, str)
                else [g.strip() for g in v.split("|") if g.strip()]
            )
        )
    numbers = pd.to_numeric(as_text.where(~empty, None), errors="coerce")
    wrong = ~empty & numbers.isna()
    if kind == "int":
        wrong |= ~empty & numbers.notna() & (numbers % 1 != 0)
    if wrong.any():
        row = int(wrong.to_numpy().argmax())
        noun = "an integer" if kind == "int" else "a number"
        raise _fail(file, row + 1, column, f"value {raw.iloc[row]!r} is not {noun}")
    low, high = bounds
    out_of_range = (numbers < low if low is not None else False) | (
        numbers > high if high is not None else False
    )
    if isinstance(out_of_range, pd.Series) and out_of_range.any():
        row = int(out_of_range.to_numpy().argmax())
        raise _fail(file, row + 1, column, f"value {raw.iloc[row]!r} is outside {low}..{high}")
    if kind == "float":
        return numbers.astype("float64")
    return numbers.astype("Int64") if nullable else numbers.astype("int64")


def _read_table(path: Path) -> pd.DataFrame:
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
    raise ShopDataError(
        f"{path.name}: unsupported file type {suffix!r} (use .csv or .parquet)", file=path.name
    )


def validate_table(frame: pd.DataFrame, model: type[BaseModel], file: str) -> pd.DataFrame:
    """Validate every row of a table against a row model and return it with proper dtypes.

    Checks are vectorised per column, using the model's field types, nullability and ``ge``/``le``
    bounds; the first failure is reported with file, 1-based data row and column.

    Args:
        frame: Table as read (CSV cells as strings, or Parquet columns).
        model: :class:`Customer`, :class:`Product` or :class:`Interaction`.
        file: File name used in error messages.

    Returns:
        A new frame holding exactly the model's columns, converted.

    Raises:
        ShopDataError: Missing column or invalid value.
    """
    missing = [
        name for name, f in model.model_fields.items() if f.is_required() and name not in frame.columns
    ]
    if missing:
        raise ShopDataError(
            f"{file}: missing column(s) {', '.join(repr(m) for m in missing)}; "
            f"expected {', '.join(model.model_fields)}",
            file=file,
            column=missing[0],
        )
    columns: dict[str, pd.Series] = {}
    for name, field in model.model_fields.items():
        kind, nullable, bounds = _column_rule(field)
        raw = (
            frame[name] if name in frame.columns else pd.Series([None] * len(frame), name=name, dtype=object)
        )
        columns[name] = _validate_column(raw.reset_index(drop=True), kind, nullable, bounds, file)
    return pd.DataFrame(columns)


def _first_bad(mask: pd.Series, frame: pd.DataFrame, column: str, file: str, problem: str) -> None:
    """Raise ShopDataError at the first row where ``mask`` is True (``problem`` gets the value)."""
    if mask.any():
        row = int(mask.to_numpy().argmax())
        raise _fail(file, row + 1, column, problem.format(value=repr(frame[column].iloc[row])))


def load_shop_files(
    customers: Path, products: Path, interactions: Path, settings: Settings, name: str = "custom"
) -> Shop:
    """Load and validate a shop from three CSV or Parquet files (chosen by suffix).

    Customer ids are pseudonymised with ``settings.pseudonym_key`` after validation.

    Args:
        customers: Table of :class:`Customer` rows.
        products: Table of :class:`Product` rows.
        interactions: Table of :class:`Interaction` rows.
        settings: Project settings (gives the pseudonym key).
        name: Name of the shop.

    Returns:
        The validated :class:`Shop`.

    Raises:
        ShopDataError: A file is missing or unreadable, a column is missing, a value is invalid, an id is
            duplicated, or an interaction references an unknown customer or product.
    """
    files = {"customers": Path(customers), "products": Path(products), "interactions": Path(interactions)}
    models: dict[str, type[BaseModel]] = {
        "customers": Customer,
        "products": Product,
        "interactions": Interaction,
    }
    tables = {k: validate_table(_read_table(p), models[k], p.name) for k, p in files.items()}
    cust, prod, inter = tables["customers"], tables["products"], tables["interactions"]
    _first_bad(
        cust["customer_id"].duplicated(), cust, "customer_id", files["customers"].name, "duplicate id {value}"
    )
    _first_bad(
        prod["product_id"].duplicated(), prod, "product_id", files["products"].name, "duplicate id {value}"
    )
    for column, known, what in (("customer_id", cust, "customer"), ("product_id", prod, "product")):
        unknown = ~inter[column].isin(known[column])
        _first_bad(unknown, inter, column, files["interactions"].name, f"unknown {what} {{value}}")
    key = settings.pseudonym_key.get_secret_value()
    for table in (cust, inter):
        table["customer_id"] = table["customer_id"].map(lambda raw: pseudonymise(raw, key))
    return Shop(name=name, customers=cust, products=prod, interactions=inter)


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
            f"MovieLens-100k is missing in {folder} ({', '.join(absent)}): "
            "run `campaign data fetch` or `make setup`",
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
