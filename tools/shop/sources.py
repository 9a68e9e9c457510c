"""Real public datasets brought into the shop schema (:mod:`tools.shop.schema`), cleaned, with a report.

* MovieLens-100k → a video shop with ratings (:func:`load_movielens`).
* CDNOW → a music shop with purchases and money, for RFM (:func:`load_cdnow`).
* Women's E-Commerce Clothing Reviews → a catalog of real clothing items with anonymous reviews
  (:func:`~tools.shop.clothing_catalog.load_clothing_catalog`, in :mod:`tools.shop.clothing_catalog`). The source has
  no customer ids, so no customers are made up.
* Open Bandit Dataset sample → a campaign log with propensities (:func:`load_campaign_log`).

Each loader returns its :class:`~tools.shop.cleaning.CleaningReport` (what was dropped, imputed or flagged and
why). Fetch the raw files first with ``campaign data fetch`` (:mod:`tools.shop.datasets`); a loader whose file is
missing says so (:func:`tools.shop.datasets.require_fetched`).
"""

from __future__ import annotations

import pandas as pd

from agent.settings import Settings
from tools.shop.cleaning import CleaningReport, drop_duplicates, drop_missing, drop_where, flag, to_numbers
from tools.shop.clothing_catalog import load_clothing_catalog
from tools.shop.datasets import OBD_CAMPAIGNS, OBD_POLICIES, require_fetched
from tools.shop.schema import CampaignLogEntry, ShopDataError, validate_table
from tools.shop.shop_data import Shop, load_demo_shop, validate_shop_tables


def load_movielens(settings: Settings) -> tuple[Shop, CleaningReport]:
    """Load MovieLens-100k as a video shop and check it like any other source.

    The source is clean: the checks run and find nothing to drop, which the report shows.

    Args:
        settings: Project settings.

    Returns:
        The shop (see :func:`tools.shop.shop_data.load_demo_shop`) and its cleaning report.
    """
    shop = load_demo_shop(settings)
    report = CleaningReport(source="movielens-100k")
    report.rows_in = {
        "customers": len(shop.customers),
        "products": len(shop.products),
        "events": len(shop.interactions),
    }
    events = drop_duplicates(
        shop.interactions, report, "events", "a customer rates a movie once", subset=["customer_id", "product_id"]
    )
    flag(shop.products["year"].isna(), report, "products", "missing value", "release year unknown; kept", "year")
    placeholder = shop.products["genres"].map(lambda g: list(g) == ["unknown"])
    flag(placeholder, report, "products", "placeholder genre", "genre 'unknown' is ignored in interests", "genres")
    report.notes.append("zip codes are turned into broad regions and dropped; raw user ids are pseudonymised")
    report.rows_out = {"customers": len(shop.customers), "products": len(shop.products), "events": len(events)}
    return Shop(shop.name, shop.customers, shop.products, events), report


def load_cdnow(settings: Settings) -> tuple[Shop, CleaningReport]:
    """Load the CDNOW purchases (1997–1998) as a shop of purchase events with money.

    Customers have pseudonymised ids and no demographics (the source has none); events are purchases with
    ``value`` (US dollars) and ``quantity`` (number of CDs), dated at midnight UTC; there are no products.

    Args:
        settings: Project settings.

    Returns:
        The shop (name ``"cdnow"``) and its cleaning report.

    Raises:
        ShopDataError: The dataset has not been fetched.
    """
    path = require_fetched(settings.data_dir / "cdnow" / "CDNOW_master.txt")
    raw = pd.read_csv(path, sep=r"\s+", dtype=str, keep_default_na=False)
    report = CleaningReport(source="cdnow", rows_in={"events": len(raw)})
    frame = raw.replace("", None)
    frame = to_numbers(frame, "number_of_cds", report, "events", integer=True)
    frame = to_numbers(frame, "dollar_value", report, "events")
    frame["date"] = pd.to_datetime(frame["date"], format="%Y%m%d", errors="coerce", utc=True)
    frame = drop_missing(
        frame,
        ["customer_id", "date", "number_of_cds", "dollar_value"],
        report,
        "events",
        "a purchase needs a customer, a date, a quantity and an amount",
    )
    frame = drop_where(
        frame,
        frame["dollar_value"] < 0,
        report,
        "events",
        "negative amount",
        "refunds are not purchases",
        "dollar_value",
    )
    frame = drop_where(
        frame,
        frame["number_of_cds"] < 1,
        report,
        "events",
        "no item bought",
        "a purchase of zero CDs is not a purchase",
        "number_of_cds",
    )
    same = frame.duplicated(keep="first")
    report.add(
        "events",
        "identical rows",
        "kept",
        int(same.sum()),
        "CDNOW has no order id: two identical orders on one day cannot be told from a double entry",
    )
    flag(
        frame["dollar_value"] == 0,
        report,
        "events",
        "zero amount",
        "free or fully discounted orders; kept as purchases worth $0",
        "dollar_value",
    )
    high = frame["dollar_value"].quantile(0.999)
    flag(
        frame["dollar_value"] > high,
        report,
        "events",
        "outlier amount",
        f"above the 99.9th percentile (${high:.2f}); real money, kept (segments use log spend)",
        "dollar_value",
    )
    events = pd.DataFrame(
        {
            "customer_id": frame["customer_id"],
            "timestamp": (frame["date"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1),
            "event_type": "purchase",
            "value": frame["dollar_value"],
            "quantity": frame["number_of_cds"],
        }
    )
    customers = pd.DataFrame({"customer_id": pd.unique(events["customer_id"])})
    products = pd.DataFrame({"product_id": pd.Series(dtype=str), "title": pd.Series(dtype=str)})
    names = {"customers": "CDNOW customers", "products": "CDNOW products", "interactions": "CDNOW_master.txt"}
    shop = validate_shop_tables(
        {"customers": customers, "products": products, "interactions": events}, names, settings, "cdnow"
    )
    report.rows_out = {"events": len(shop.interactions), "customers": len(shop.customers)}
    report.notes.append("no demographics and no product ids in CDNOW: portraits use purchases and money only")
    return shop, report


def load_campaign_log(
    settings: Settings, policy: str = "random", campaign: str = "all"
) -> tuple[pd.DataFrame, CleaningReport]:
    """Load one Open Bandit Dataset sample file (10,000 logged impressions) as a campaign log.

    Args:
        settings: Project settings.
        policy: Logging policy, "random" or "bts".
        campaign: "all", "men" or "women".

    Returns:
        :class:`~tools.shop.schema.CampaignLogEntry` rows and the cleaning report.

    Raises:
        ShopDataError: Unknown policy or campaign, or the dataset has not been fetched.
    """
    if policy not in OBD_POLICIES or campaign not in OBD_CAMPAIGNS:
        raise ShopDataError(
            f"unknown Open Bandit log {policy}/{campaign}: policies {OBD_POLICIES}, campaigns {OBD_CAMPAIGNS}"
        )
    path = require_fetched(settings.data_dir / "obd" / policy / campaign / f"{campaign}.csv")
    raw = pd.read_csv(path, index_col=0)
    report = CleaningReport(source=f"open-bandit {policy}/{campaign}", rows_in={"impressions": len(raw)})
    frame = drop_duplicates(raw, report, "impressions", "the same impression logged twice")
    frame = frame.assign(timestamp=pd.to_datetime(frame["timestamp"], errors="coerce", utc=True))
    frame = drop_missing(
        frame,
        ["timestamp", "item_id", "position", "click", "propensity_score"],
        report,
        "impressions",
        "an impression needs time, item, position, click and propensity",
    )
    bad = (frame["propensity_score"] <= 0) | (frame["propensity_score"] > 1)
    frame = drop_where(
        frame,
        bad,
        report,
        "impressions",
        "propensity outside (0, 1]",
        "off-policy estimates divide by it",
        "propensity_score",
    )
    features = [c for c in frame.columns if c.startswith("user_feature_")]
    log = validate_table(
        pd.DataFrame(
            {
                "timestamp": frame["timestamp"].map(lambda t: t.timestamp()),
                "campaign": campaign,
                "policy": policy,
                "product_id": frame["item_id"].astype(str),
                "position": frame["position"],
                "clicked": frame["click"],
                "propensity": frame["propensity_score"],
                "context": frame[features].astype(str).agg("|".join, axis=1) if features else None,
            }
        ),
        CampaignLogEntry,
        path.name,
    )
    affinity = sum(c.startswith("user-item_affinity_") for c in raw.columns)
    report.notes.append(f"{affinity} user-item affinity columns are not carried into the campaign log")
    report.notes.append("user features are hashed by the source; there is no user id, so customer_id is empty")
    report.rows_out = {"impressions": len(log)}
    return log.assign(clicked=log["clicked"].astype("int64"), position=log["position"].astype("int64")), report


def describe_sources(settings: Settings) -> dict[str, CleaningReport]:
    """Load every source once and return its cleaning report (for the CLI and the docs).

    Args:
        settings: Project settings.

    Returns:
        Source name to report.
    """
    reports = {
        "movielens-100k": load_movielens(settings)[1],
        "cdnow": load_cdnow(settings)[1],
        "clothing-reviews": load_clothing_catalog(settings).report,
    }
    reports["open-bandit random/all"] = load_campaign_log(settings)[1]
    return reports
