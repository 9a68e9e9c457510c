"""Customer portraits: what each customer is like, computed from a shop's real interactions.

A portrait holds a customer's demographics, activity (number and mean of ratings, first and last
activity, lifecycle stage), interest weights per genre, favourite titles, and a short English text
that is embedded for semantic audience search. It never holds raw ids, names, e-mails or zip codes:
only the pseudonymised customer id of the :class:`~tools.shop.Shop`.

Interest weights: every rating adds ``rating / 5 * 0.5 ** (age_days / half_life_days)`` to the genres
of the rated product (split equally among them), where ``age_days`` counts back from the shop's last
event, not from today; the weights of a customer are then scaled to sum to 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

import pandas as pd

from tools.shop import OUTSIDE_US, Shop

Lifecycle = Literal["new", "active", "lapsed"]
LIFECYCLES: tuple[Lifecycle, ...] = ("new", "active", "lapsed")
#: Placeholder genre names that say nothing about taste (MovieLens tags two items "unknown").
PLACEHOLDER_GENRES = frozenset({"", "unknown", "(no genres listed)"})
_SECONDS_PER_DAY = 86_400
_VAGUE_OCCUPATIONS = frozenset({"other", "none", "unknown", ""})


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
        age: Age in years.
        gender: As recorded by the shop.
        occupation: As recorded by the shop.
        region: Broad region.
        n_ratings: Number of ratings.
        mean_rating: Mean rating (0.0 without ratings).
        first_active: Unix seconds of the first rating (0 without ratings).
        last_active: Unix seconds of the last rating (0 without ratings).
        lifecycle: "new", "active" or "lapsed" (see :meth:`PortraitConfig.lifecycle_rule`).
        interests: Genre to weight (sums to 1), highest first.
        top_genres: Distinctive interests, highest lift first (see :class:`PortraitConfig`).
        favourites: Favourite titles ("Title (year)"), best rated and most recent first.
        text: English description used for embedding.
    """

    customer_id: str
    age: int
    gender: str
    occupation: str
    region: str
    n_ratings: int
    mean_rating: float
    first_active: int
    last_active: int
    lifecycle: Lifecycle
    interests: dict[str, float] = field(default_factory=dict)
    top_genres: tuple[str, ...] = ()
    favourites: tuple[str, ...] = ()
    text: str = ""


def genre_key(genre: str) -> str:
    """Return the metadata key flagging an interest in a genre, e.g. ``"Sci-Fi"`` → ``"g_sci_fi"``.

    Args:
        genre: Genre name as in the shop's products.

    Returns:
        A key made of lower-case letters, digits and underscores.
    """
    return "g_" + re.sub(r"[^0-9a-z]+", "_", genre.lower().replace("'", "")).strip("_")


def shop_genres(shop: Shop) -> list[str]:
    """Return the sorted genre vocabulary of a shop's products (placeholders left out).

    Args:
        shop: The shop.

    Returns:
        Genre names.
    """
    names = {g for genres in shop.products["genres"] for g in genres}
    return sorted(names - PLACEHOLDER_GENRES)


def _day(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).date().isoformat()


def portrait_text(p: Portrait) -> str:
    """Write the English portrait text (no id, name, e-mail or zip code).

    Args:
        p: Portrait with every field but ``text``.

    Returns:
        E.g. "24-year-old male technician in the Mountain region. Active customer (272 ratings, mean 3.6,
        last active 1998-03-12). Loves Action, Sci-Fi, Thriller; favourites: Star Wars (1977), …"
    """
    gender = {"m": "male", "f": "female"}.get(p.gender.lower(), p.gender.lower())
    occupation = p.occupation.strip()
    who = f"{p.age}-year-old {gender}"
    who += (
        f" (occupation: {occupation or 'unknown'})"
        if occupation.lower() in _VAGUE_OCCUPATIONS
        else f" {occupation}"
    )
    where = "living outside the US" if p.region == OUTSIDE_US else f"in the {p.region} region"
    if p.n_ratings == 0:
        return f"{who} {where}. New customer without any rating yet."
    activity = (
        f"{p.lifecycle.capitalize()} customer ({p.n_ratings} ratings, mean {p.mean_rating:.1f}, "
        f"last active {_day(p.last_active)})."
    )
    tastes = f"Loves {', '.join(p.top_genres)}" if p.top_genres else "No clear genre preference"
    favourites = f"; favourites: {', '.join(p.favourites)}." if p.favourites else "."
    return f"{who} {where}. {activity} {tastes}{favourites}"


def _interest_weights(shop: Shop, end: int, half_life_days: float) -> pd.DataFrame:
    """Return rows (customer_id, genre, weight) with weights summing to 1 per customer."""
    rated = shop.interactions.merge(shop.products[["product_id", "genres"]], on="product_id", how="left")
    rated["genres"] = rated["genres"].map(
        lambda gs: [g for g in gs if g not in PLACEHOLDER_GENRES] if isinstance(gs, list) else []
    )
    rated = rated[rated["genres"].map(len) > 0]
    age_days = (end - rated["timestamp"]) / _SECONDS_PER_DAY
    rated = rated.assign(
        weight=rated["rating"] / 5.0 * 0.5 ** (age_days / half_life_days) / rated["genres"].map(len)
    )
    per_genre = (
        rated[["customer_id", "genres", "weight"]].explode("genres").rename(columns={"genres": "genre"})
    )
    summed = per_genre.groupby(["customer_id", "genre"], as_index=False)["weight"].sum()
    summed["weight"] /= summed.groupby("customer_id")["weight"].transform("sum")
    return summed.sort_values(["customer_id", "weight", "genre"], ascending=[True, False, True])


def _top_genres(weights: pd.DataFrame, config: PortraitConfig) -> dict[str, tuple[str, ...]]:
    """Pick the genres each customer over-indexes on (lift over the average customer's weight)."""
    n_customers = max(weights["customer_id"].nunique(), 1)
    baseline = weights.groupby("genre")["weight"].sum() / n_customers
    lift = weights["weight"] / weights["genre"].map(baseline)
    ranked = weights.assign(lift=lift).sort_values(["customer_id", "lift"], ascending=[True, False])
    strong = ranked[(ranked["weight"] >= config.min_interest) & (ranked["lift"] >= 1.0)]
    tops = strong.groupby("customer_id").head(config.top_genres).groupby("customer_id")["genre"].agg(tuple)
    fallback = weights.groupby("customer_id")["genre"].first().map(lambda g: (g,))
    return {**fallback.to_dict(), **tops.to_dict()}


def _favourites(shop: Shop, count: int) -> dict[str, tuple[str, ...]]:
    """Return each customer's best-rated titles, most recent first among equal ratings."""
    products = shop.products[["product_id", "title", "year"]]
    rated = shop.interactions.merge(products, on="product_id", how="left")
    rated = rated.sort_values(["customer_id", "rating", "timestamp"], ascending=[True, False, False])
    best = rated.groupby("customer_id").head(count)
    labels = [
        f"{title} ({year})" if pd.notna(year) else str(title)
        for title, year in zip(best["title"], best["year"], strict=True)
    ]
    grouped = pd.Series(labels, index=best["customer_id"].to_numpy()).groupby(level=0).agg(tuple)
    return grouped.to_dict()


def build_portraits(shop: Shop, config: PortraitConfig | None = None) -> list[Portrait]:
    """Compute the portrait of every customer of a shop.

    Args:
        shop: The shop.
        config: Knobs; defaults to :class:`PortraitConfig`'s defaults.

    Returns:
        One portrait per customer, in the order of ``shop.customers``.
    """
    config = config or PortraitConfig()
    inter = shop.interactions
    end = int(inter["timestamp"].max()) if len(inter) else 0
    stats = inter.groupby("customer_id").agg(
        n_ratings=("rating", "size"),
        mean_rating=("rating", "mean"),
        first_active=("timestamp", "min"),
        last_active=("timestamp", "max"),
    )
    weights = _interest_weights(shop, end, config.half_life_days)
    interests = {
        cid: dict(zip(group["genre"], group["weight"].round(4), strict=True))
        for cid, group in weights.groupby("customer_id", sort=False)
    }
    tops = _top_genres(weights, config)
    favourites = _favourites(shop, config.favourites)
    portraits = []
    for row in shop.customers.itertuples(index=False):
        cid = str(row.customer_id)
        has = cid in stats.index
        first = int(stats.at[cid, "first_active"]) if has else 0
        last = int(stats.at[cid, "last_active"]) if has else 0
        lifecycle: Lifecycle = "new"
        if has and end - last > config.lapsed_after_days * _SECONDS_PER_DAY:
            lifecycle = "lapsed"
        elif has and end - first > config.new_within_days * _SECONDS_PER_DAY:
            lifecycle = "active"
        mine = interests.get(cid, {})
        draft = Portrait(
            customer_id=cid,
            age=int(row.age),
            gender=str(row.gender),
            occupation=str(row.occupation),
            region=str(row.region),
            n_ratings=int(stats.at[cid, "n_ratings"]) if has else 0,
            mean_rating=round(float(stats.at[cid, "mean_rating"]), 3) if has else 0.0,
            first_active=first,
            last_active=last,
            lifecycle=lifecycle,
            interests=mine,
            top_genres=tops.get(cid, ()),
            favourites=favourites.get(cid, ()),
        )
        portraits.append(replace(draft, text=portrait_text(draft)))
    return portraits


def portrait_metadata(portrait: Portrait, genres: list[str]) -> dict[str, Any]:
    """Return the Chroma metadata of a portrait (scalars only, usable in ``where`` filters).

    Args:
        portrait: The portrait.
        genres: The shop's genre vocabulary; each gets a boolean flag (:func:`genre_key`), True when the
            genre is one of the portrait's top genres.

    Returns:
        age, gender, occupation, region, lifecycle, n_ratings, mean_rating, first_active, last_active,
        top_genres (comma-separated) and one ``g_…`` flag per genre.
    """
    meta: dict[str, Any] = {
        "age": portrait.age,
        "gender": portrait.gender,
        "occupation": portrait.occupation,
        "region": portrait.region,
        "lifecycle": portrait.lifecycle,
        "n_ratings": portrait.n_ratings,
        "mean_rating": portrait.mean_rating,
        "first_active": portrait.first_active,
        "last_active": portrait.last_active,
        "top_genres": ", ".join(portrait.top_genres),
    }
    meta.update({genre_key(g): g in portrait.top_genres for g in genres})
    return meta
