"""The portrait of one customer, its lifecycle stages and the knobs that build it.

A portrait holds a customer's demographics (any may be unknown), activity (ratings, purchases and money, first
and last activity, lifecycle stage), RFM scores, interest weights per genre and favourite titles, the customer's
segment, and a short English text that is embedded for semantic audience search. It never holds raw ids, names,
e-mails or zip codes: only the pseudonymised customer id of the shop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Lifecycle = Literal["new", "active", "lapsed"]
LIFECYCLES: tuple[Lifecycle, ...] = ("new", "active", "lapsed")


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
        segment_name: Readable segment name, e.g. "Sci-Fi & Action lovers, lapsed 3–6 months, 25–34".
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
