"""A portrait as the index stores it: the English text that is embedded and the metadata that filters.

:func:`portrait_text` describes a customer in plain English from the portrait's own facts (no id, name,
e-mail or zip code, no segment, no quintile), so the text and its embedding change only when the customer's
data does. :func:`portrait_metadata` gives the scalar Chroma metadata (demographics, activity, RFM, spend
band, segment) plus one boolean flag per genre of the shop, keyed by :func:`genre_key`. The portrait itself
and how it is computed are in :mod:`tools.portraits.building`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from tools.portraits.portrait import Portrait
from tools.shop import OUTSIDE_US

_VAGUE_OCCUPATIONS = frozenset({"other", "none", "unknown", ""})


def genre_key(genre: str) -> str:
    """Return the metadata key flagging an interest in a genre, e.g. ``"Sci-Fi"`` → ``"g_sci_fi"``.

    Args:
        genre: Genre name as in the shop's products.

    Returns:
        A key made of lower-case letters, digits and underscores.
    """
    return "g_" + re.sub(r"[^0-9a-z]+", "_", genre.lower().replace("'", "")).strip("_")


def _day(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).date().isoformat()


def _who(p: Portrait) -> str:
    """Describe the person, e.g. "24-year-old male technician"; "Customer" when nothing is recorded."""
    gender = {"m": "male", "f": "female"}.get((p.gender or "").lower(), (p.gender or "").lower())
    words = [f"{p.age}-year-old" if p.age is not None else "", gender]
    occupation = (p.occupation or "").strip()
    head = " ".join(w for w in words if w)
    if p.occupation is None:
        return head
    if occupation.lower() in _VAGUE_OCCUPATIONS:
        return f"{head or 'Customer'} (occupation: {occupation or 'unknown'})"
    return f"{head} {occupation}".strip()


def portrait_text(p: Portrait) -> str:
    """Write the English portrait text (no id, name, e-mail or zip code).

    Args:
        p: Portrait with every field but ``text``.

    Returns:
        E.g. "24-year-old male technician in the Mountain region. Active customer (272 ratings, mean 3.6,
        last active 1998-03-12). Loves Action, Sci-Fi, Thriller; favourites: Star Wars (1977), …"
    """
    who = _who(p)
    where = (
        "" if p.region is None else " living outside the US" if p.region == OUTSIDE_US else f" in the {p.region} region"
    )
    person = f"{who}{where}. " if who else f"Customer{where}. " if where else ""
    if p.n_ratings == 0 and p.n_purchases == 0:
        return f"{person}New customer without any activity yet."
    counts = []
    if p.n_ratings:
        counts.append(f"{p.n_ratings} ratings, mean {p.mean_rating:.1f}")
    if p.n_purchases:
        spent = f", spent {p.total_spend:.2f} in total" if p.total_spend is not None else ""
        counts.append(f"{p.n_purchases} purchase{'s' if p.n_purchases != 1 else ''}{spent}")
    activity = f"{p.lifecycle.capitalize()} customer ({'; '.join(counts)}, last active {_day(p.last_active)})."
    if not p.top_genres and not p.favourites and p.n_ratings == 0:
        return f"{person}{activity}"
    tastes = f"Loves {', '.join(p.top_genres)}" if p.top_genres else "No clear genre preference"
    liked = f"; favourites: {', '.join(p.favourites)}." if p.favourites else "."
    return f"{person}{activity} {tastes}{liked}"


def portrait_metadata(portrait: Portrait, genres: list[str]) -> dict[str, Any]:
    """Return the Chroma metadata of a portrait (scalars only, usable in ``where`` filters).

    Unknown values (no age, no money, no segment yet …) are left out rather than invented.

    Args:
        portrait: The portrait.
        genres: The shop's genre vocabulary; each gets a boolean flag (:func:`genre_key`), True when the
            genre is one of the portrait's top genres.

    Returns:
        age, gender, occupation, region, lifecycle, n_ratings, mean_rating, n_purchases, first_active,
        last_active, top_genres (comma-separated), recency_days, rfm_r, rfm_f, rfm (e.g. "545"), and where
        known total_spend, rfm_m, spend_band, segment and segment_name; plus one ``g_…`` flag per genre.
    """
    rfm = None
    if portrait.rfm_r is not None and portrait.rfm_f is not None:
        rfm = f"{portrait.rfm_r}{portrait.rfm_f}{portrait.rfm_m if portrait.rfm_m is not None else '-'}"
    meta: dict[str, Any] = {
        "age": portrait.age,
        "gender": portrait.gender,
        "occupation": portrait.occupation,
        "region": portrait.region,
        "lifecycle": portrait.lifecycle,
        "n_ratings": portrait.n_ratings,
        "mean_rating": portrait.mean_rating,
        "n_purchases": portrait.n_purchases,
        "total_spend": portrait.total_spend,
        "first_active": portrait.first_active,
        "last_active": portrait.last_active,
        "top_genres": ", ".join(portrait.top_genres),
        "recency_days": portrait.recency_days,
        "rfm_r": portrait.rfm_r,
        "rfm_f": portrait.rfm_f,
        "rfm_m": portrait.rfm_m,
        "rfm": rfm,
        "spend_band": portrait.spend_band,
        "segment": portrait.segment,
        "segment_name": portrait.segment_name,
    }
    meta = {key: value for key, value in meta.items() if value is not None}
    meta.update({genre_key(g): g in portrait.top_genres for g in genres})
    return meta
