"""Interest weights, distinctive genres and favourite titles of customers, from their real events.

Interest weights: every event on a product adds ``strength * 0.5 ** (age_days / half_life_days)`` to the
genres of the product (split equally among them), where ``strength`` is ``rating / 5`` for a rating and 1
for an unrated event (a purchase), and ``age_days`` counts back from the shop's last event, not from today;
the weights of a customer are then scaled to sum to 1.
"""

from __future__ import annotations

from collections.abc import Collection

import pandas as pd

from tools.shop import Shop

#: Placeholder genre names that say nothing about taste (MovieLens tags two items "unknown").
PLACEHOLDER_GENRES = frozenset({"", "unknown", "(no genres listed)"})
_SECONDS_PER_DAY = 86_400


def interest_weights(shop: Shop, end: int, half_life_days: float,
                     customers: Collection[str] | None = None) -> pd.DataFrame:
    """Return rows (customer_id, genre, weight) with weights summing to 1 per customer.

    Args:
        shop: The shop.
        end: Unix seconds of the shop's last event.
        half_life_days: An event this many days before ``end`` counts half.
        customers: Only these customers' weights (a customer's weights read only its own events); None: every
            customer's.

    Returns:
        The weights, heaviest first within each customer.
    """
    events = shop.interactions[shop.interactions["product_id"].notna()]
    if customers is not None:
        events = events[events["customer_id"].isin(customers)]
    rated = events.merge(shop.products[["product_id", "genres"]], on="product_id", how="inner")
    rated["genres"] = rated["genres"].map(
        lambda gs: [g for g in gs if g not in PLACEHOLDER_GENRES] if isinstance(gs, list) else []
    )
    rated = rated[rated["genres"].map(len) > 0]
    age_days = (end - rated["timestamp"]) / _SECONDS_PER_DAY
    strength = (rated["rating"] / 5.0).fillna(1.0)
    rated = rated.assign(weight=strength * 0.5 ** (age_days / half_life_days) / rated["genres"].map(len))
    per_genre = rated[["customer_id", "genres", "weight"]].explode("genres").rename(columns={"genres": "genre"})
    summed = per_genre.groupby(["customer_id", "genre"], as_index=False)["weight"].sum()
    summed["weight"] /= summed.groupby("customer_id")["weight"].transform("sum")
    return summed.sort_values(["customer_id", "weight", "genre"], ascending=[True, False, True])


def top_genres(weights: pd.DataFrame, count: int, min_interest: float) -> dict[str, tuple[str, ...]]:
    """Pick the genres each customer over-indexes on (lift over the average customer's weight).

    Args:
        weights: Output of :func:`interest_weights`.
        count: At most this many genres per customer.
        min_interest: Minimum weight of a picked genre.

    Returns:
        Customer id to genres, highest lift first; a customer without a genre of lift >= 1 and weight >=
        ``min_interest`` gets the heaviest genre.
    """
    n_customers = max(weights["customer_id"].nunique(), 1)
    baseline = weights.groupby("genre")["weight"].sum() / n_customers
    lift = weights["weight"] / weights["genre"].map(baseline)
    ranked = weights.assign(lift=lift).sort_values(["customer_id", "lift"], ascending=[True, False])
    strong = ranked[(ranked["weight"] >= min_interest) & (ranked["lift"] >= 1.0)]
    tops = strong.groupby("customer_id").head(count).groupby("customer_id")["genre"].agg(tuple)
    fallback = weights.groupby("customer_id")["genre"].first().map(lambda g: (g,))
    return {**fallback.to_dict(), **tops.to_dict()}


def favourites(shop: Shop, count: int) -> dict[str, tuple[str, ...]]:
    """Return each customer's best-rated titles ("Title (year)"), most recent first among equal ratings.

    Args:
        shop: The shop.
        count: Titles per customer.

    Returns:
        Customer id to titles (customers without product events are absent).
    """
    products = shop.products[["product_id", "title", "year"]]
    events = shop.interactions[shop.interactions["product_id"].notna()]
    rated = events.merge(products, on="product_id", how="inner")
    rated = rated.sort_values(
        ["customer_id", "rating", "timestamp"], ascending=[True, False, False], na_position="last"
    )
    best = rated.groupby("customer_id").head(count)
    labels = [
        f"{title} ({year})" if pd.notna(year) else str(title)
        for title, year in zip(best["title"], best["year"], strict=True)
    ]
    grouped = pd.Series(labels, index=best["customer_id"].to_numpy(), dtype=object).groupby(level=0).agg(tuple)
    return grouped.to_dict()
