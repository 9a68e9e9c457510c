"""Customer portraits: what each customer is like, computed from a shop's real interactions.

A portrait holds a customer's demographics (any may be unknown), activity (ratings, purchases and
money, first and last activity, lifecycle stage), RFM scores (:mod:`tools.rfm`), interest weights per
genre and favourite titles (:mod:`tools.interests`), the customer's segment (set by
:mod:`tools.segments` when indexed), and a short English text that is embedded for semantic audience
search. It never holds raw ids, names, e-mails or zip codes: only the pseudonymised customer id of the
:class:`~tools.shop.Shop`. The text holds only facts about the customer (no segment, no quintile), so it
changes only when the customer's own data does.

This module holds the portrait, its knobs and :func:`build_portraits`; the text and the index metadata are
written by :mod:`tools.portrait_documents` (:func:`portrait_text`, :func:`portrait_metadata` and
:func:`genre_key` are importable from here too).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import pandas as pd

from tools.interests import PLACEHOLDER_GENRES, favourites, interest_weights, top_genres
from tools.portrait_documents import genre_key, portrait_metadata, portrait_text
from tools.rfm import compute_rfm
from tools.shop import Shop

__all__ = [
    "LIFECYCLES",
    "PLACEHOLDER_GENRES",
    "Lifecycle",
    "Portrait",
    "PortraitConfig",
    "build_portraits",
    "genre_key",
    "portrait_metadata",
    "portrait_text",
    "shop_genres",
]

Lifecycle = Literal["new", "active", "lapsed"]
LIFECYCLES: tuple[Lifecycle, ...] = ("new", "active", "lapsed")
_SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class PortraitConfig:
    """Knobs of portrait building.

    Attributes:
        half_life_days: A rating this many days before the shop's last event counts half.
        top_genres: At most this many genres are named as a customer's interests (and flagged in the
            index): those with weight >= ``min_interest`` and the highest lift (weight over the average
            customer's weight for the genre, at least 1), so "Loves" names what sets a customer apart
            rather than the genres everybody watches; a customer without such a genre gets the heaviest.
        min_interest: Minimum interest weight of a top genre.
        favourites: Number of favourite titles named in the text.
        new_within_days: "new" when the first rating is at most this many days before the last event.
        lapsed_after_days: "lapsed" when the last rating is more than this many days before the last event.
    """

    half_life_days: float = 90.0
    top_genres: int = 3
    min_interest: float = 0.05
    favourites: int = 3
    new_within_days: int = 30
    lapsed_after_days: int = 90

    def lifecycle_rule(self) -> str:
        """Return the lifecycle rule in words (for prompts, reports and the CLI)."""
        return (
            f"new: first rating within the {self.new_within_days} days before the shop's last event; "
            f"lapsed: no rating in the {self.lapsed_after_days} days before it; active: everyone else "
            "(a customer without any rating counts as new)"
        )


@dataclass(frozen=True)
class Portrait:
    """One customer's portrait.

    Attributes:
        customer_id: Pseudonymised id.
        age: Age in years, or None when the shop does not record it.
        gender: As recorded by the shop, or None.
        occupation: As recorded by the shop, or None.
        region: Broad region, or None.
        n_ratings: Number of ratings.
        mean_rating: Mean rating (0.0 without ratings).
        first_active: Unix seconds of the first event (0 without events).
        last_active: Unix seconds of the last event (0 without events).
        lifecycle: "new", "active" or "lapsed" (see :meth:`PortraitConfig.lifecycle_rule`).
        interests: Genre to weight (sums to 1), highest first.
        top_genres: Distinctive interests, highest lift first (see :class:`PortraitConfig`).
        favourites: Favourite titles ("Title (year)"), best rated and most recent first.
        text: English description used for embedding.
        n_purchases: Number of purchase events.
        total_spend: Money spent (None when the shop records no money).
        recency_days: Days from the last event to the shop's last event (None without events).
        rfm_r: Recency score 1–5 (None without events).
        rfm_f: Frequency score 1–5.
        rfm_m: Monetary score 1–5 (None when the shop records no money).
        spend_band: "low", "medium" or "high" from ``rfm_m`` (None without money).
        segment: Segment id (set when the portrait is indexed).
        segment_name: Readable segment name, e.g. "Sci-Fi & Action lovers, lapsed, 25–34".
    """

    customer_id: str
    age: int | None
    gender: str | None
    occupation: str | None
    region: str | None
    n_ratings: int
    mean_rating: float
    first_active: int
    last_active: int
    lifecycle: Lifecycle
    interests: dict[str, float] = field(default_factory=dict)
    top_genres: tuple[str, ...] = ()
    favourites: tuple[str, ...] = ()
    text: str = ""
    n_purchases: int = 0
    total_spend: float | None = None
    recency_days: int | None = None
    rfm_r: int | None = None
    rfm_f: int | None = None
    rfm_m: int | None = None
    spend_band: str | None = None
    segment: int | None = None
    segment_name: str | None = None


def shop_genres(shop: Shop) -> list[str]:
    """Return the sorted genre vocabulary of a shop's products (placeholders left out).

    Args:
        shop: The shop.

    Returns:
        Genre names.
    """
    names = {g for genres in shop.products["genres"] for g in genres}
    return sorted(names - PLACEHOLDER_GENRES)


def _optional(value: Any, kind: type) -> Any:
    return None if value is None or pd.isna(value) else kind(value)


def build_portraits(shop: Shop, config: PortraitConfig | None = None) -> list[Portrait]:
    """Compute the portrait of every customer of a shop (segments are left unset).

    Args:
        shop: The shop.
        config: Knobs; defaults to :class:`PortraitConfig`'s defaults.

    Returns:
        One portrait per customer, in the order of ``shop.customers``.
    """
    config = config or PortraitConfig()
    inter = shop.interactions
    end = int(inter["timestamp"].max()) if len(inter) else 0
    is_purchase = inter["event_type"].eq("purchase") if "event_type" in inter.columns else inter["rating"].isna()
    stats = (
        inter.assign(_purchase=is_purchase)
        .groupby("customer_id")
        .agg(
            n_ratings=("rating", "count"),
            mean_rating=("rating", "mean"),
            n_purchases=("_purchase", "sum"),
            first_active=("timestamp", "min"),
            last_active=("timestamp", "max"),
        )
    )
    rfm = compute_rfm(shop)
    weights = interest_weights(shop, end, config.half_life_days)
    interests = {
        cid: dict(zip(group["genre"], group["weight"].round(4), strict=True))
        for cid, group in weights.groupby("customer_id", sort=False)
    }
    tops = top_genres(weights, config.top_genres, config.min_interest)
    liked = favourites(shop, config.favourites)
    stat_rows = stats.to_dict("index")
    rfm_rows = rfm.to_dict("index")
    portraits = []
    for row in shop.customers.itertuples(index=False):
        cid = str(row.customer_id)
        st = stat_rows.get(cid)
        first = int(st["first_active"]) if st else 0
        last = int(st["last_active"]) if st else 0
        lifecycle: Lifecycle = "new"
        if st and end - last > config.lapsed_after_days * _SECONDS_PER_DAY:
            lifecycle = "lapsed"
        elif st and end - first > config.new_within_days * _SECONDS_PER_DAY:
            lifecycle = "active"
        scores = rfm_rows.get(cid, {})
        money = _optional(scores.get("monetary"), float) if shop.has_monetary else None
        draft = Portrait(
            customer_id=cid,
            age=_optional(row.age, int),
            gender=_optional(row.gender, str),
            occupation=_optional(row.occupation, str),
            region=_optional(row.region, str),
            n_ratings=int(st["n_ratings"]) if st else 0,
            mean_rating=round(float(st["mean_rating"]), 3) if st and st["n_ratings"] else 0.0,
            first_active=first,
            last_active=last,
            lifecycle=lifecycle,
            interests=interests.get(cid, {}),
            top_genres=tops.get(cid, ()),
            favourites=liked.get(cid, ()),
            n_purchases=int(st["n_purchases"]) if st else 0,
            total_spend=money if money is not None else (0.0 if shop.has_monetary else None),
            recency_days=_optional(scores.get("recency_days"), int),
            rfm_r=_optional(scores.get("r"), int),
            rfm_f=_optional(scores.get("f"), int),
            rfm_m=_optional(scores.get("m"), int),
            spend_band=_optional(scores.get("spend_band"), str),
        )
        portraits.append(replace(draft, text=portrait_text(draft)))
    return portraits
