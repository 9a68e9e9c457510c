"""The one documented data schema of a shop, and vectorised validation of tables against it.

Every source (MovieLens, CDNOW, the clothing reviews, the Open Bandit logs, or a shop's own CSV/Parquet
files) is brought into these row models:

* :class:`Customer` — one person (pseudonymised id; demographics optional, never names, e-mails or zips).
* :class:`Product` — one catalog item (``genres`` holds genres or categories; in CSV a ``|``-separated string),
  with its category, attributes, current price and currency where the shop has them.
* :class:`OrderLine` — one line of an order: product, quantity, unit price, time, and whether it was cancelled.
* :class:`Offer` — a promotion: code, percentage or amount off, validity window, eligible products or categories.
* :class:`Event` — one thing a customer did: a rating, a purchase (with money), a view …
* :class:`Review` — one anonymous product review (the clothing data has no customer ids: none are invented).
* :class:`CampaignLogEntry` — one logged campaign impression with the propensity of the logging policy.

:func:`validate_table` checks a whole table column by column (types, nullability, ``ge``/``gt``/``le``
bounds of the model's fields) and raises :class:`ShopDataError` naming file, 1-based data row and column.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, get_args, get_origin

import annotated_types
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.fields import FieldInfo

from tools.untrusted_text import text_problem

EVENT_TYPES = ("rating", "purchase", "view", "click", "review")
# A rating at or above this counts as liking the product (MovieLens stars 1–5): the recommenders' "liked" and the
# click model's positive label.
LIKED_RATING = 4.0


class ShopDataError(ValueError):
    """Shop data is missing or invalid; names the file, 1-based data row and column where known.

    Attributes:
        file: File name (or dataset) concerned.
        row: 1-based data row (the header is not counted), or None.
        column: Column name, or None.
    """

    def __init__(self, message: str, file: str | None = None, row: int | None = None, column: str | None = None):
        super().__init__(message)
        self.file = file
        self.row = row
        self.column = column


class Customer(BaseModel):
    """One row of the customers table; demographics are optional (CDNOW has none)."""

    customer_id: str = Field(min_length=1, description="The shop's customer id (pseudonymised on load).")
    age: Annotated[int | None, Field(ge=0, le=120)] = None
    gender: str | None = Field(None, description="As the shop records it, e.g. 'F' or 'M'.")
    occupation: str | None = None
    region: str | None = Field(None, description="Broad region, e.g. 'Midwest' (never a zip code).")


class Product(BaseModel):
    """One row of the products table (in CSV, ``genres`` is a ``|``-separated string)."""

    product_id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    year: int | None = None
    genres: list[str] = Field(default_factory=list, description="Genres or categories, e.g. ['Dresses'].")
    description: str | None = Field(None, description="Catalog text.")
    price: Annotated[float | None, Field(ge=0, description="Current unit price, in ``currency``.")] = None
    category: str | None = Field(None, description="Product category, e.g. 'Lanterns'.")
    attributes: list[str] = Field(
        default_factory=list,
        description="Attributes as 'name:value' (in CSV '|'-separated), e.g. ['colour:white', 'theme:Christmas'].",
    )
    currency: str | None = Field(None, description="ISO 4217 code of ``price``, e.g. 'GBP'.")


class OrderLine(BaseModel):
    """One line of an order: a quantity of one product at a unit price (1 in ``cancelled`` marks a cancellation)."""

    order_id: str = Field(min_length=1)
    customer_id: str | None = Field(None, description="The shop's customer id; empty for a guest checkout.")
    product_id: str = Field(min_length=1)
    quantity: Annotated[int, Field(ge=1, description="Units ordered (a cancellation repeats the units it cancels).")]
    unit_price: Annotated[float, Field(ge=0, description="Price of one unit, in the shop's currency.")]
    timestamp: Annotated[int, Field(ge=0, description="Unix seconds.")]
    cancelled: Annotated[int | None, Field(ge=0, le=1, description="1 when the line cancels an order.")] = None


OFFER_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$"


class Offer(BaseModel):
    """A promotion the shop runs: a code giving a percentage or an amount off, in a window, on some products.

    Exactly one of ``percent_off`` and ``amount_off`` is given. With neither ``product_ids`` nor ``categories``
    the offer is valid on every product.
    """

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=OFFER_CODE_PATTERN, description="The code customers enter, e.g. 'XMAS10'.")
    percent_off: Annotated[float | None, Field(gt=0, le=100, description="Discount in percent, e.g. 10.")] = None
    amount_off: Annotated[float | None, Field(gt=0, description="Discount in the shop's currency per unit.")] = None
    valid_from: date | None = Field(None, description="First day the code works (inclusive).")
    valid_to: date | None = Field(None, description="Last day the code works (inclusive).")
    product_ids: list[str] = Field(default_factory=list, description="Products it applies to (empty: see categories).")
    categories: list[str] = Field(default_factory=list, description="Categories it applies to (empty: see products).")
    description: str | None = Field(None, max_length=200, description="What the offer is, in words.")

    @model_validator(mode="after")
    def _one_discount_and_a_window(self) -> Offer:
        if (self.percent_off is None) == (self.amount_off is None):
            raise ValueError("an offer gives exactly one of percent_off (0–100) and amount_off")
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError(f"valid_to {self.valid_to} is before valid_from {self.valid_from}")
        problem = text_problem(self.description) if self.description else None
        if problem:  # an offer's words reach copy prompts and the page
            raise ValueError(f"description: {problem}")
        return self

    def applies_to(self, product_id: str, category: str | None) -> bool:
        """Tell whether the offer covers a product (by id or category; an offer naming neither covers all)."""
        if not self.product_ids and not self.categories:
            return True
        return product_id in self.product_ids or (category is not None and category in self.categories)

    def price_after(self, price: float) -> float:
        """Return ``price`` after the discount, rounded to the penny (never below 0)."""
        if self.percent_off is not None:
            return round(price * (1 - self.percent_off / 100), 2)
        return round(max(price - (self.amount_off or 0.0), 0.0), 2)


class Interaction(BaseModel):
    """One rating of a product by a customer (the rating-only form of :class:`Event`)."""

    customer_id: str = Field(min_length=1)
    product_id: str = Field(min_length=1)
    rating: Annotated[float, Field(ge=1, le=5)]
    timestamp: Annotated[int, Field(ge=0, description="Unix seconds.")]


class Event(BaseModel):
    """One thing a customer did. A file of :class:`Interaction` rows is a valid events file too.

    ``event_type`` is one of :data:`EVENT_TYPES`; when the column is absent it is inferred: "rating" when a
    rating is given, else "purchase" when a value is given.
    """

    customer_id: str = Field(min_length=1)
    timestamp: Annotated[int, Field(ge=0, description="Unix seconds.")]
    product_id: str | None = None
    event_type: str | None = None
    rating: Annotated[float | None, Field(ge=1, le=5)] = None
    value: Annotated[float | None, Field(ge=0, description="Money spent, in the shop's currency.")] = None
    quantity: Annotated[int | None, Field(ge=0)] = None


class Review(BaseModel):
    """One anonymous product review (no customer id: the source has none)."""

    product_id: str = Field(min_length=1)
    rating: Annotated[float, Field(ge=1, le=5)]
    title: str | None = None
    text: str | None = None
    reviewer_age: Annotated[int | None, Field(ge=0, le=120)] = None
    recommended: Annotated[int | None, Field(ge=0, le=1)] = None
    positive_feedback: Annotated[int | None, Field(ge=0)] = None


class CampaignLogEntry(BaseModel):
    """One logged impression of a campaign.

    What was shown, where, whether it was clicked, and how likely the logging policy was to show it
    (needed for off-policy evaluation).
    """

    timestamp: Annotated[float, Field(ge=0, description="Unix seconds.")]
    campaign: str = Field(min_length=1, description="e.g. 'all', 'men', 'women'.")
    policy: str = Field(min_length=1, description="Logging policy, e.g. 'random' or 'bts'.")
    product_id: str = Field(min_length=1)
    position: Annotated[int, Field(ge=1)]
    clicked: Annotated[int, Field(ge=0, le=1)]
    propensity: Annotated[float, Field(gt=0, le=1)]
    customer_id: str | None = Field(None, description="Pseudonymised id when the log has one (OBD has none).")
    context: str | None = Field(None, description="Hashed context features, '|'-separated.")


def fail(file: str, row: int, column: str, problem: str) -> ShopDataError:
    """Return the error for one bad cell (1-based data row)."""
    return ShopDataError(f"{file} row {row}, column '{column}': {problem}", file=file, row=row, column=column)


def _column_rule(field: FieldInfo) -> tuple[str, bool, tuple[Any, Any, bool]]:
    """Return (kind 'str'|'int'|'float'|'list', nullable, (low, high, low_is_strict)) of a model field."""
    nullable = type(None) in get_args(field.annotation)
    base = next(a for a in get_args(field.annotation) if a is not type(None)) if nullable else field.annotation
    kinds: dict[Any, str] = {str: "str", int: "int", float: "float"}
    kind = "list" if get_origin(base) is list else kinds[base]
    metadata = list(field.metadata)
    low = next((m.ge for m in metadata if isinstance(m, annotated_types.Ge)), None)
    strict = next((m.gt for m in metadata if isinstance(m, annotated_types.Gt)), None)
    high = next((m.le for m in metadata if isinstance(m, annotated_types.Le)), None)
    return kind, nullable, (strict if strict is not None else low, high, strict is not None)


def _blank(value: Any) -> Any:
    """Return ``""`` for a missing cell, a stripped string for text, the value itself otherwise."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list | tuple | np.ndarray):
        return value
    return "" if value is None or pd.isna(value) else value


def _split_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [g.strip() for g in value.split("|") if g.strip()]
    return [str(g).strip() for g in value if str(g).strip()]


def _validate_column(raw: pd.Series, kind: str, nullable: bool, bounds: tuple[Any, Any, bool], file: str) -> pd.Series:
    """Check and convert one column; raise ShopDataError at its first bad row."""
    column = str(raw.name)
    as_text = raw.map(_blank).astype(object)
    empty = as_text.map(lambda v: isinstance(v, str) and v == "").astype(bool)
    if not nullable and kind != "list" and empty.any():
        raise fail(file, int(empty.to_numpy().argmax()) + 1, column, "value is empty")
    if kind == "str":
        text = as_text.map(lambda v: str(v).strip()).astype(object)
        return text.where(~empty, None) if nullable else text
    if kind == "list":
        return as_text.map(_split_list).astype(object)
    numbers = pd.to_numeric(as_text.where(~empty, None), errors="coerce").astype("float64")
    wrong = ~empty & numbers.isna()
    if kind == "int":
        wrong |= ~empty & numbers.notna() & (numbers % 1 != 0)
    if wrong.any():
        row = int(wrong.to_numpy().argmax())
        noun = "an integer" if kind == "int" else "a number"
        raise fail(file, row + 1, column, f"value {raw.iloc[row]!r} is not {noun}")
    low, high, strict = bounds
    never = pd.Series(False, index=numbers.index)
    too_low = (numbers <= low if strict else numbers < low) if low is not None else never
    too_high = numbers > high if high is not None else never
    outside = (too_low | too_high).fillna(False).astype(bool)
    if outside.any():
        row = int(outside.to_numpy().argmax())
        interval = f"{'(' if strict else ''}{low}..{high}{')' if strict else ''}"
        raise fail(file, row + 1, column, f"value {raw.iloc[row]!r} is outside {interval}")
    if kind == "float":
        return numbers
    return numbers.astype("Int64") if nullable else numbers.astype("int64")


def validate_table(frame: pd.DataFrame, model: type[BaseModel], file: str) -> pd.DataFrame:
    """Validate every row of a table against a row model and return it with proper dtypes.

    Checks are vectorised per column, using the model's field types, nullability and ``ge``/``gt``/``le``
    bounds; the first failure is reported with file, 1-based data row and column. Optional columns absent
    from the file come back empty (None / NaN).

    Args:
        frame: Table as read (CSV cells as strings, or Parquet columns).
        model: One of the row models of this module.
        file: File name used in error messages.

    Returns:
        A new frame holding exactly the model's columns, converted.

    Raises:
        ShopDataError: Missing column or invalid value.
    """
    missing = [name for name, f in model.model_fields.items() if f.is_required() and name not in frame.columns]
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
        if name in frame.columns:
            raw = frame[name].reset_index(drop=True)
        else:
            raw = pd.Series([[] if kind == "list" else None] * len(frame), name=name, dtype=object)
        columns[name] = _validate_column(raw, kind, nullable, bounds, file)
    return pd.DataFrame(columns)


def first_bad(mask: pd.Series, frame: pd.DataFrame, column: str, file: str, problem: str) -> None:
    """Raise ShopDataError at the first row where ``mask`` is True (``problem`` may use ``{value}``)."""
    if mask.any():
        row = int(mask.to_numpy().argmax())
        raise fail(file, row + 1, column, problem.format(value=repr(frame[column].iloc[row])))


def infer_event_types(events: pd.DataFrame, file: str) -> pd.Series:
    """Return the event types, inferring missing ones and rejecting unknown ones.

    Args:
        events: A validated :class:`Event` table.
        file: File name for error messages.

    Returns:
        The ``event_type`` column, every value in :data:`EVENT_TYPES`.

    Raises:
        ShopDataError: An unknown event type, or a row whose type cannot be inferred.
    """
    inferred = np.where(events["rating"].notna(), "rating", np.where(events["value"].notna(), "purchase", ""))
    types = events["event_type"].where(events["event_type"].notna(), pd.Series(inferred, index=events.index))
    types = types.astype(object).map(lambda t: str(t).lower())
    unknown = ~types.isin(EVENT_TYPES)
    if unknown.any():
        row = int(unknown.to_numpy().argmax())
        shown = events["event_type"].iloc[row]
        problem = (
            f"unknown event type {shown!r} (use one of {', '.join(EVENT_TYPES)})"
            if shown is not None
            else "no event_type, rating or value: cannot tell what the event is"
        )
        raise fail(file, row + 1, "event_type", problem)
    return types
