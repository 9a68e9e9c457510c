"""Customer portraits: what each customer is like, computed from a shop's real interactions.

A portrait holds a customer's demographics (any may be unknown), activity (ratings, purchases and
money, first and last activity, lifecycle stage), RFM scores (:mod:`tools.portraits.rfm`), interest weights per
genre and favourite titles (:mod:`tools.portraits.interests`), the customer's segment (set by
:mod:`tools.portraits.segments` when indexed), and a short English text that is embedded for semantic audience
search. It never holds raw ids, names, e-mails or zip codes: only the pseudonymised customer id of the
:class:`~tools.shop.shop_data.Shop`. The text holds only facts about the customer (no segment, no quintile), so it
changes only when the customer's own data does.

This module builds the portraits (:class:`~tools.portraits.portrait.Portrait`) of a shop; the text and the index
metadata are written by :mod:`tools.portraits.documents`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pandas as pd

from tools.portraits.documents import portrait_text
from tools.portraits.interests import PLACEHOLDER_GENRES, favourites, interest_weights, top_genres
from tools.portraits.portrait import Lifecycle, Portrait, PortraitConfig
from tools.portraits.rfm import compute_rfm
from tools.shop import Shop

_SECONDS_PER_DAY = 86_400

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
