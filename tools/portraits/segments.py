"""Customer segments: K-means over portrait features, with readable names derived from each segment.

One segmenter serves two uses:

* :class:`SegmentModel`, fitted on every customer of the shop and kept with the portrait index, so later
  rebuilds assign customers to the same segments instead of reshuffling them;
* :func:`split_audience`, the plan-time split of a retrieved audience into a few segments of a least size.

Features per customer (only those the shop records): age; log of days since the last event; log of the
number of events; mean rating; log of total spend; and the interest weight of every genre. Each is
standardised over the customers being segmented; the genre block is then scaled so that taste weighs
:data:`TASTE_WEIGHT` times one behavioural feature (whatever the number of genres). K-means (scikit-learn,
fixed seed; :func:`cluster`) groups the customers into at most the wanted number of segments; while one has
fewer members than the least size, it groups them again into one segment fewer. Segment 0 is the largest.

Names (:func:`profile_segments`) come from the members of each segment: the two genres whose mean interest
weight most exceeds the shop's average (by at least 15%: "Sci-Fi & Action lovers"), or where there are no
genres the median spend and frequency scores ("big spenders, frequent"); then the most common lifecycle stage
(for "lapsed", with the median member's time since the last event: "lapsed 6–12 months"); then the age band
of the median member (:func:`age_band`, the one table of marketing age bands: "25–34"). Segments whose names
would be the same are told apart by how much they spend and how often they come ("…, frequent customers");
a name that still repeats gets " (2)", " (3)" ….
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans

from tools.portraits.building import shop_genres
from tools.portraits.interests import interest_weights
from tools.portraits.portrait import Portrait, PortraitConfig
from tools.shop import Shop

TASTE_WEIGHT = 3.0
TASTE_LIFT = 1.15  # a segment loves a genre when its mean interest is at least this times the shop's
DEFAULT_SEGMENTS = 8
MIN_MEMBERS_PER_SEGMENT = 20
MINIBATCH_SIZE = 4096
"""Rows per mini-batch of the plan segmentation's K-means. An audience of at most this many customers fits one
batch, so it is clustered by full K-means (what a single batch would be, with more starts)."""
#: The marketing age bands, as segment names show them: (first age past the band, label).
#: The click model buckets ages its own way (:data:`tools.effect.click_features.CLICK_FEATURE_AGE_BINS`).
AGE_BANDS: tuple[tuple[float, str], ...] = (
    (18, "under 18"), (25, "18–24"), (35, "25–34"), (45, "35–44"), (55, "45–54"), (65, "55–64"),
    (float("inf"), "65+"),
)  # fmt: skip


def age_band(age: float) -> str:
    """Return the marketing age band of an age, e.g. 29 → "25–34", 60 → "55–64", 24.5 (a median) → "18–24"."""
    return next(label for upper, label in AGE_BANDS if age < upper)


def _feature_names(portraits: Sequence[Portrait], genres: list[str]) -> list[str]:
    names = []
    if any(p.age is not None for p in portraits):
        names.append("age")
    names += ["log_recency_days", "log_events"]
    if any(p.n_ratings for p in portraits):
        names.append("mean_rating")
    if any(p.total_spend is not None for p in portraits):
        names.append("log_spend")
    return names + [f"genre:{g}" for g in genres]


def _raw_features(portraits: Sequence[Portrait], names: list[str]) -> np.ndarray:
    ages = [p.age for p in portraits if p.age is not None]
    median_age = float(np.median(ages)) if ages else 0.0
    columns = []
    for name in names:
        if name == "age":
            values = [p.age if p.age is not None else median_age for p in portraits]
        elif name == "log_recency_days":
            values = [np.log1p(p.recency_days or 0) for p in portraits]
        elif name == "log_events":
            values = [np.log1p(p.n_ratings + p.n_purchases) for p in portraits]
        elif name == "mean_rating":
            values = [p.mean_rating for p in portraits]
        elif name == "log_spend":
            values = [np.log1p(p.total_spend or 0.0) for p in portraits]
        else:
            genre = name.removeprefix("genre:")
            values = [p.interests.get(genre, 0.0) for p in portraits]
        columns.append(np.asarray(values, dtype=np.float64))
    return np.column_stack(columns) if columns else np.zeros((len(portraits), 0))


def _standardised(portraits: Sequence[Portrait], genres: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Return the feature names, per-feature mean and divisor (standard deviation over the feature weight)."""
    names = _feature_names(portraits, genres)
    raw = _raw_features(portraits, names)
    weights = np.array([TASTE_WEIGHT / max(len(genres), 1) if n.startswith("genre:") else 1.0 for n in names])
    std = raw.std(axis=0)
    return names, raw.mean(axis=0), np.where(std > 0, std, 1.0) / np.sqrt(weights)


def cluster(
    points: np.ndarray, k: int, min_size: int, seed: int, minibatch: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Group rows with K-means into at most ``k`` segments of at least ``min_size`` rows each.

    Fewer segments when there are fewer than ``k * min_size`` rows, or when K-means leaves a segment smaller
    than ``min_size`` (it is then run again with one segment fewer); never fewer than one segment, so fewer
    than ``min_size`` rows make one small segment.

    Args:
        points: One row per customer (scaled features).
        k: Wanted number of segments.
        min_size: Least members per segment.
        seed: Random seed of K-means (the result is deterministic for a seed).
        minibatch: Mini-batch K-means (batches of :data:`MINIBATCH_SIZE` rows, 3 seeded starts), whose cost grows
            linearly with the rows, for a whole audience; False: full K-means with 10 starts.

    Returns:
        The segment of each row (0 is the largest, ties in K-means order) and the segment centres in that
        order.
    """
    k = max(1, min(k, len(points) // max(min_size, 1)))
    while k > 1:
        kmeans = (MiniBatchKMeans(n_clusters=k, batch_size=MINIBATCH_SIZE, n_init=3, random_state=seed)
                  if minibatch else KMeans(n_clusters=k, n_init=10, random_state=seed)).fit(points)
        sizes = np.bincount(kmeans.labels_, minlength=k)
        if sizes.min() >= min_size:
            order = np.argsort(-sizes, kind="stable")
            return np.argsort(order)[kmeans.labels_], kmeans.cluster_centers_[order]
        k -= 1
    return np.zeros(len(points), dtype=np.int64), points.mean(axis=0, keepdims=True)


@dataclass(frozen=True)
class SegmentProfile:
    """A segment described from its members, as a marketer reads it.

    Attributes:
        name: Readable name, distinct among the segments named together, e.g.
            "Sci-Fi & Horror lovers, lapsed 6–12 months, 25–34".
        loves: Genres the members over-index on compared with the shop's average (at most two, strongest
            first); empty for broad tastes or a shop without genres.
        lifecycle_mix: Lifecycle stage to number of members, commonest first.
        median_age: Median age of the members whose age is known, or None.
    """

    name: str
    loves: tuple[str, ...]
    lifecycle_mix: dict[str, int]
    median_age: float | None


def _loves(members: Sequence[Portrait], everyone: Mapping[str, float], genres: list[str]) -> tuple[str, ...]:
    mean = {g: float(np.mean([p.interests.get(g, 0.0) for p in members])) for g in genres}
    shop = {g: everyone.get(g, 0.0) for g in genres}
    ahead = sorted(((mean[g] - shop[g], g) for g in genres if mean[g] >= TASTE_LIFT * shop[g] > 0), reverse=True)
    return tuple(g for _, g in ahead[:2])


def _value(members: Sequence[Portrait]) -> str:
    spend = [p.rfm_m for p in members if p.rfm_m is not None]
    freq = float(np.median([p.rfm_f or 1 for p in members]))
    parts = []
    if spend:
        m = float(np.median(spend))
        parts.append("big spenders" if m >= 4 else "mid spenders" if m >= 3 else "small spenders")
    events = float(np.median([p.n_ratings + p.n_purchases for p in members]))
    parts.append("frequent" if freq >= 4 else "one-time" if events <= 1 else "occasional")
    return ", ".join(parts) if spend else f"{parts[0]} customers"


def _stage(members: Sequence[Portrait]) -> str:
    stage = Counter(p.lifecycle for p in members).most_common(1)[0][0]
    if stage != "lapsed":
        return stage
    days = float(np.median([p.recency_days or 0 for p in members]))
    return "lapsed " + ("12+ months" if days >= 365 else "6–12 months" if days >= 182 else "3–6 months")


def _region(members: Sequence[Portrait]) -> str | None:
    """Return "mostly <region>" when most members share a region, else None."""
    regions = Counter(p.region for p in members if p.region)
    if not regions:
        return None
    region, count = regions.most_common(1)[0]
    return f"mostly {region}" if count > len(members) / 2 else "many countries"


def _spend(members: Sequence[Portrait]) -> str | None:
    """Return the members' median total spend, e.g. "median spend 1,250", or None without money."""
    spend = [p.total_spend for p in members if p.total_spend is not None]
    return f"median spend {float(np.median(spend)):,.0f}" if spend else None


def _distinct(names: list[str], qualifiers: list[list[str | None]]) -> list[str]:
    """Tell repeated names apart by the first qualifier that differs among them, then by " (2)", " (3)" …."""
    out = list(names)
    for name in dict.fromkeys(names):
        same = [i for i, n in enumerate(names) if n == name]
        if len(same) < 2:
            continue
        for level in range(len(qualifiers[same[0]])):
            values = [qualifiers[i][level] for i in same]
            if len(set(values)) == len(values) and all(values):
                for i in same:
                    out[i] = f"{name}, {qualifiers[i][level]}"
                break
        else:
            for level in range(len(qualifiers[same[0]])):
                if len({qualifiers[i][level] for i in same}) > 1:
                    for i in same:
                        out[i] = f"{name}, {qualifiers[i][level]}" if qualifiers[i][level] else name
                    break
    seen: Counter[str] = Counter()
    for i, name in enumerate(out):
        seen[name] += 1
        if seen[name] > 1:
            out[i] = f"{name} ({seen[name]})"
    return out


def profile_segments(
    groups: Sequence[Sequence[Portrait]], genres: list[str], everyone: Mapping[str, float]
) -> list[SegmentProfile]:
    """Name and describe segments from their members (the one naming rule of segments; see the module).

    Args:
        groups: The members of each segment (none empty), in segment order.
        genres: The shop's genre vocabulary (empty: segments are named by spend and frequency).
        everyone: The shop's average interest weight per genre.

    Returns:
        One profile per segment, in the same order; no two names alike.
    """
    names: list[str] = []
    qualifiers: list[list[str | None]] = []
    facts: list[tuple[tuple[str, ...], dict[str, int], float | None]] = []
    money = any(p.rfm_m is not None for members in groups for p in members)
    fans = "buyers" if money else "lovers"  # a shop of purchases: what they buy; of ratings: what they love
    for members in groups:
        loves = _loves(members, everyone, genres) if genres else ()
        parts = [(f"{' & '.join(loves)} {fans}" if loves else "broad tastes") if genres else _value(members)]
        parts.append(_stage(members))
        ages = [p.age for p in members if p.age is not None]
        median_age = float(np.median(ages)) if ages else None
        if median_age is not None:
            parts.append(age_band(median_age))
        names.append(", ".join(parts))
        qualifiers.append([_value(members) if genres else None, _region(members), _spend(members)])
        facts.append((loves, dict(Counter(p.lifecycle for p in members).most_common()), median_age))
    return [SegmentProfile(name, *fact) for name, fact in zip(_distinct(names, qualifiers), facts, strict=True)]


def _average_interests(portraits: Sequence[Portrait], genres: list[str]) -> dict[str, float]:
    return {g: float(np.mean([p.interests.get(g, 0.0) for p in portraits])) for g in genres}


@dataclass
class SegmentModel:
    """A fitted segmentation: what it was fitted on, how to scale, where the centres are, their names.

    Attributes:
        features: Feature names, in column order.
        mean: Per-feature mean used for standardising.
        scale: Per-feature divisor (standard deviation times the inverse feature weight).
        centroids: Segment centres in the scaled space, segment 0 first.
        names: Readable segment names.
        sizes: Members per segment when fitted.
    """

    features: list[str]
    mean: list[float]
    scale: list[float]
    centroids: list[list[float]]
    names: list[str]
    sizes: list[int]

    def to_json(self) -> str:
        """Serialise (stored with the portrait index)."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> SegmentModel:
        """Load a model written by :meth:`to_json`."""
        return cls(**json.loads(text))

    def fits(self, portraits: list[Portrait], genres: list[str]) -> bool:
        """Tell whether this model was fitted on the same features the portraits have now."""
        return self.features == _feature_names(portraits, genres)

    def _scaled(self, portraits: list[Portrait]) -> np.ndarray:
        return (_raw_features(portraits, self.features) - np.asarray(self.mean)) / np.asarray(self.scale)

    def assign(self, portraits: list[Portrait]) -> np.ndarray:
        """Return the segment id of each portrait (nearest centre).

        Args:
            portraits: Portraits with the features of :attr:`features`.

        Returns:
            Integer array of segment ids.
        """
        scaled = self._scaled(portraits)
        centres = np.asarray(self.centroids)
        distances = ((scaled[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        return distances.argmin(axis=1)

    @classmethod
    def fit(
        cls, portraits: list[Portrait], genres: list[str], k: int = DEFAULT_SEGMENTS, seed: int = 42
    ) -> SegmentModel:
        """Fit K-means on the portraits and name the segments.

        Args:
            portraits: Portraits of the shop's customers (at least 2).
            genres: The shop's genre vocabulary.
            k: Wanted number of segments; fewer when a segment would have fewer than
                :data:`MIN_MEMBERS_PER_SEGMENT` members (see :func:`cluster`).
            seed: Random seed of K-means.

        Returns:
            The fitted model.

        Raises:
            ValueError: Fewer than two portraits.
        """
        if len(portraits) < 2:
            raise ValueError(f"need at least 2 customers to form segments, got {len(portraits)}")
        names, mean, scale = _standardised(portraits, genres)
        labels, centroids = cluster((_raw_features(portraits, names) - mean) / scale, k, MIN_MEMBERS_PER_SEGMENT, seed)
        groups = [[p for p, label in zip(portraits, labels, strict=True) if label == s] for s in range(len(centroids))]
        profiles = profile_segments(groups, genres, _average_interests(portraits, genres))
        return cls(
            names, mean.tolist(), scale.tolist(), centroids.tolist(), [p.name for p in profiles],
            [len(g) for g in groups],
        )


@dataclass(frozen=True)
class AudienceSegment:
    """One segment of a retrieved audience (see :func:`split_audience`).

    Attributes:
        customer_ids: Its members, in the order they were given.
        profile: Its name and what its members have in common.
    """

    customer_ids: list[str]
    profile: SegmentProfile


def _known(meta: Mapping[str, Any], key: str, kind: type) -> Any:
    value = meta.get(key)
    return None if value is None else kind(value)


def _portrait_of(customer_id: str, meta: Mapping[str, Any], interests: dict[str, float]) -> Portrait:
    """Rebuild what segmentation reads of a portrait from its index metadata and its interest weights."""
    return Portrait(
        customer_id=customer_id,
        age=_known(meta, "age", int),
        gender=_known(meta, "gender", str),
        occupation=_known(meta, "occupation", str),
        region=_known(meta, "region", str),
        n_ratings=int(meta.get("n_ratings", 0)),
        mean_rating=float(meta.get("mean_rating", 0.0)),
        first_active=int(meta.get("first_active", 0)),
        last_active=int(meta.get("last_active", 0)),
        lifecycle=meta["lifecycle"],
        interests=interests,
        n_purchases=int(meta.get("n_purchases", 0)),
        total_spend=_known(meta, "total_spend", float),
        recency_days=_known(meta, "recency_days", int),
        rfm_r=_known(meta, "rfm_r", int),
        rfm_f=_known(meta, "rfm_f", int),
        rfm_m=_known(meta, "rfm_m", int),
        spend_band=_known(meta, "spend_band", str),
    )


def split_audience(
    shop: Shop,
    customer_ids: Sequence[str],
    metadata: Sequence[Mapping[str, Any]],
    max_segments: int,
    min_size: int,
    seed: int,
    config: PortraitConfig | None = None,
) -> list[AudienceSegment]:
    """Split a retrieved audience into at most ``max_segments`` segments of at least ``min_size`` members.

    The audience's portrait features (as :class:`SegmentModel` uses them, standardised over the audience) are
    grouped by :func:`cluster` (every customer of the audience; mini-batch K-means, seeded, above
    :data:`MINIBATCH_SIZE` customers) and named by :func:`profile_segments` against the whole shop's average
    interests. Interest weights are computed from the shop's events as the portraits compute them.

    Args:
        shop: The shop the audience belongs to.
        customer_ids: The audience (pseudonymous ids, at least one).
        metadata: Their portrait metadata from the index (needs ``lifecycle``; reads age, activity and RFM).
        max_segments: Upper bound on the number of segments.
        min_size: Least members per segment (an audience smaller than this is one segment).
        seed: Random seed of K-means.
        config: The portrait knobs the index was built with (half-life of interests); the defaults when None.

    Returns:
        The segments, largest first; names are distinct.

    Raises:
        ValueError: No customer, or not one metadata row per customer.
    """
    if not customer_ids or len(customer_ids) != len(metadata):
        raise ValueError(f"need one metadata row per customer, got {len(customer_ids)} ids, {len(metadata)} rows")
    genres = shop_genres(shop)
    end = int(shop.interactions["timestamp"].max()) if len(shop.interactions) else 0
    weights = interest_weights(shop, end, (config or PortraitConfig()).half_life_days)
    everyone = (weights.groupby("genre")["weight"].sum() / max(len(shop.customers), 1)).to_dict()
    wanted = weights[weights["customer_id"].isin(set(customer_ids))]
    interests = {
        str(cid): dict(zip(group["genre"], group["weight"], strict=True))
        for cid, group in wanted.groupby("customer_id", sort=False)
    }
    portraits = [
        _portrait_of(cid, meta, interests.get(cid, {})) for cid, meta in zip(customer_ids, metadata, strict=True)
    ]
    names, mean, scale = _standardised(portraits, genres)
    labels, centroids = cluster((_raw_features(portraits, names) - mean) / scale, max_segments, min_size, seed,
                                minibatch=len(portraits) > MINIBATCH_SIZE)
    chosen = [np.flatnonzero(labels == s) for s in range(len(centroids))]
    groups = [[portraits[i] for i in rows] for rows in chosen]
    return [
        AudienceSegment([p.customer_id for p in members], profile)
        for members, profile in zip(groups, profile_segments(groups, genres, everyone), strict=True)
    ]
