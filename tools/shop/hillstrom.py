"""The shop ``hillstrom``: the customers of the MineThatData e-mail experiment (Kevin Hillstrom, 2008).

``hillstrom_dev.csv`` (``settings.shared_data_dir``; 48,000 of the experiment's 64,000 rows) is a real campaign:
customers who bought in the last twelve months were randomly sent a men's e-mail, a women's e-mail or no e-mail,
and whether each visited the site in the next two weeks was recorded. :func:`load_hillstrom_shop` makes it a
:class:`~tools.shop.shop_data.Shop` of its own:

* customers — one per row, ``customer_id`` the row number (``"0"``, ``"1"``, …: the file has no customer id and
  the row number names no one, so it is kept as is, which lets an experiment's outcomes be matched to customers);
  ``region`` is the zip code area (Urban, Suburban, Rural; the source spells "Surburban", corrected); the
  source's own columns ``recency`` (months since the last purchase), ``history`` (dollars spent in the past year),
  ``mens`` / ``womens`` (bought men's / women's merchandise in the past year), ``zip_code``, ``newbie`` (new
  customer in the past twelve months) and ``channel`` (Phone, Web, Multichannel) are kept beside them;
* products — the two campaigns: :data:`MENS_EMAIL` and :data:`WOMENS_EMAIL`, each with the merchandise line it
  promotes as its genre and category (the experiment's third arm, no e-mail, is the holdout, not a product);
* interactions — DERIVED, not logged: the file records no single purchase, only the facts above, so each customer
  gets one purchase event per merchandise line bought in the past year (``mens`` / ``womens``), dated at their last
  purchase (``today`` − ``recency`` × 30 days; the month is what the source gives), with no amount: the source
  gives the year's spend (``history``, kept in the customers table) but not per line, and a portrait text per
  exact amount would make 48,000 distinct texts to embed. Portraits (text and index metadata: region, lifecycle,
  recency, the merchandise lines as genre flags) are built from these.

The experiment's date is not in the file: the shop's "today" is :data:`TODAY` (2008-03-01, a nominal date before
the e-mails of March 2008), so dates in portraits are approximate to the month.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from agent.settings import Settings
from tools.shop.cleaning import CleaningReport
from tools.shop.schema import ShopDataError
from tools.shop.shop_data import Shop

__all__ = [
    "ARM_PRODUCTS",
    "HILLSTROM_FILE",
    "HILLSTROM_SHOP_NAME",
    "MENS_EMAIL",
    "TODAY",
    "WOMENS_EMAIL",
    "hillstrom_cleaning_report",
    "load_hillstrom_shop",
]

HILLSTROM_FILE = "hillstrom_dev.csv"
HILLSTROM_SHOP_NAME = "hillstrom"
MENS_EMAIL = "mens_email"
WOMENS_EMAIL = "womens_email"
ARM_PRODUCTS = {"Mens E-Mail": MENS_EMAIL, "Womens E-Mail": WOMENS_EMAIL}
"""The experiment's ``segment`` value of each e-mail arm to the product (campaign) it is in this shop."""
TODAY = pd.Timestamp("2008-03-01", tz="UTC")
"""The shop's nominal "today" (the file gives no date): the e-mails went out in March 2008."""
_DAYS_PER_MONTH = 30
_COLUMNS = ("recency", "history", "mens", "womens", "zip_code", "newbie", "channel", "segment", "visit")
_ZIP_AREAS = {"Urban": "Urban", "Surburban": "Suburban", "Rural": "Rural"}
_LINES = {"mens": (MENS_EMAIL, "Men's merchandise"), "womens": (WOMENS_EMAIL, "Women's merchandise")}


def _read(settings: Settings) -> pd.DataFrame:
    """Read the experiment file and check its columns and values."""
    path = settings.shared_data_dir / HILLSTROM_FILE
    if not path.is_file():
        raise ShopDataError(f"{path}: the Hillstrom experiment file is missing; it ships in the repository's data/ "
                            "folder (set shared_data_dir to the folder holding it)", file=HILLSTROM_FILE)
    data = pd.read_csv(path)
    missing = [c for c in _COLUMNS if c not in data.columns]
    if missing:
        raise ShopDataError(f"{HILLSTROM_FILE}: missing column(s) {missing}", file=HILLSTROM_FILE, column=missing[0])
    unknown = ~data["zip_code"].isin(list(_ZIP_AREAS))
    if unknown.any():
        row = int(unknown.to_numpy().argmax())
        raise ShopDataError(f"{HILLSTROM_FILE} row {row + 1}: unknown zip_code {data['zip_code'].iloc[row]!r}",
                            file=HILLSTROM_FILE, row=row + 1, column="zip_code")
    return data


def _products() -> pd.DataFrame:
    """The two campaigns as products (no price: an e-mail is not sold)."""
    return pd.DataFrame({
        "product_id": [MENS_EMAIL, WOMENS_EMAIL],
        "title": ["Men's merchandise e-mail", "Women's merchandise e-mail"],
        "year": pd.array([None, None], dtype="Int64"),
        "genres": [[_LINES["mens"][1]], [_LINES["womens"][1]]],
        "description": ["The experiment's e-mail featuring men's merchandise",
                        "The experiment's e-mail featuring women's merchandise"],
        "category": [_LINES["mens"][1], _LINES["womens"][1]],
    })


def _events(data: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
    """DERIVED purchase events: one per merchandise line bought in the past year, dated at the last purchase."""
    last = int(TODAY.timestamp()) - data["recency"].astype("int64") * _DAYS_PER_MONTH * 86_400
    parts = []
    for flag, (product, _) in _LINES.items():
        bought = data[flag].astype(int).eq(1)
        parts.append(pd.DataFrame({
            "customer_id": ids[bought].to_numpy(),
            "product_id": product,
            "rating": np.nan,
            "timestamp": last[bought].to_numpy(),
            "event_type": "purchase",
        }))
    events = pd.concat(parts, ignore_index=True)
    return events.sort_values(["timestamp", "customer_id"], kind="stable").reset_index(drop=True)


def load_hillstrom_shop(settings: Settings, rows: int | None = None) -> Shop:
    """Load the Hillstrom experiment's customers as the shop ``hillstrom`` (see the module docstring).

    Args:
        settings: Project settings (``shared_data_dir`` holds the file).
        rows: Only the first ``rows`` customers (a smaller shop for tests and demos); None: all 48,000.

    Returns:
        The shop: customers (row numbers as ids, the source's columns beside the schema's), the two campaigns as
        products, derived purchase events; no orders, no prices.

    Raises:
        ShopDataError: The file is missing or malformed.
    """
    data = _read(settings)
    if rows is not None:
        data = data.iloc[:rows]
    ids = pd.Series(data.index.astype(str), index=data.index)
    customers = pd.DataFrame({
        "customer_id": ids.to_numpy(),
        "age": pd.array([None] * len(data), dtype="Int64"),
        "gender": None,
        "occupation": None,
        "region": data["zip_code"].map(_ZIP_AREAS).to_numpy(),
        **{c: data[c].to_numpy() for c in ("recency", "history", "mens", "womens", "zip_code", "newbie", "channel")},
    })
    return Shop(name=HILLSTROM_SHOP_NAME, customers=customers, products=_products(),
                interactions=_events(data, ids), currency=None)


def hillstrom_cleaning_report(settings: Settings) -> CleaningReport:
    """Say what loading the experiment file into the shop changed or derived (nothing is dropped).

    Raises:
        ShopDataError: The file is missing or malformed.
    """
    data = _read(settings)
    report = CleaningReport(source="hillstrom", rows_in={"customers": len(data)})
    report.rows_out = {"customers": len(data), "products": 2,
                       "events": int(data["mens"].astype(int).sum() + data["womens"].astype(int).sum())}
    report.add("customers", "misspelt zip code area", "converted", int(data["zip_code"].eq("Surburban").sum()),
               "the source spells 'Surburban'; the region reads 'Suburban'")
    report.notes.append("events are derived: one purchase per merchandise line bought in the past year, dated at "
                        "the last purchase (today - recency months), without an amount (the year's spend stays in "
                        "customers)")
    report.notes.append(f"the file has no date: the shop's today is {TODAY.date()} (nominal, before March 2008)")
    report.notes.append("visits (the experiment's outcome) are not part of the shop: they are a campaign's outcomes")
    return report
