"""Customer segments: K-means over portrait features, with readable names derived from each segment.

One segmenter serves two uses:

* :class:`SegmentModel`, fitted on every customer of the shop and kept with the portrait index, so later
  rebuilds assign customers to the same segments instead of reshuffling them;
* :func:`split_audience`, the plan-time split of a retrieved audience into a few segments of a least size.
  Above :data:`PLANNING_SAMPLE` customers it is fitted and named on a planning sample (:func:`planning_sample`)
  and every customer is assigned to the nearest centre.

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
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import pairwise_distances_argmin

from tools.portraits.building import shop_genres
from tools.portraits.heap import return_freed_memory
from tools.portraits.interests import interest_weights
from tools.portraits.portrait import Portrait, PortraitConfig
from tools.shop import Shop

TASTE_WEIGHT = 3.0
TASTE_LIFT = 1.15  # a segment loves a genre when its mean interest is at least this times the shop's
DEFAULT_SEGMENTS = 8
MIN_MEMBERS_PER_SEGMENT = 20
PLANNING_SAMPLE = 4096
"""Customers a plan's segments are fitted, named and estimated on (:func:`planning_sample`). The real shops'
audiences are smaller: there the sample is the whole audience."""
#: The marketing age bands, as segment names show them: (first age past the band, label).
#: The click model buckets ages its own way (:data:`tools.effect.click_features.CLICK_FEATURE_AGE_BINS`).
AGE_BANDS: tuple[tuple[float, str], ...] = (
    (18, "under 18"), (25, "18–24"), (35, "25–34"), (45, "35–44"), (55, "45–54"), (65, "55–64"),
    (float("inf"), "65+"),
)  # fmt: skip


def age_band(age: float) -> str:
    """Return the marketing age band of an age, e.g. 29 → "25–34", 60 → "55–64", 24.5 (a median) → "18–24"."""
    return next(label for upper, label in AGE_BANDS if age < upper)


@dataclass(frozen=True)
class SegmentColumns:
    """What segmentation reads of each customer, one array per attribute (row ``i`` is customer ``i``).

    Columns instead of one :class:`Portrait` per customer: a whole matched audience (470,420 customers of the 1M
    scale test) as portrait objects with their interest dicts took gigabytes; as arrays it takes a few bytes per
    customer and attribute. Unknown values are NaN (age, recency, spend, RFM scores) or None (region).

    Attributes:
        customer_ids: The customers, in order.
        genres: The genre vocabulary, in the order of the columns of :attr:`interests`.
        age: Age in years.
        recency_days: Days from the last event to the shop's last event.
        n_ratings: Ratings given.
        n_purchases: Purchase events.
        mean_rating: Mean rating (0.0 without ratings).
        total_spend: Money spent.
        rfm_f: Frequency score 1–5.
        rfm_m: Monetary score 1–5.
        lifecycle: "new", "active" or "lapsed".
        region: Broad region.
        interests: Interest weight of each genre (customers × genres).
    """

    customer_ids: list[str]
    genres: list[str]
    age: np.ndarray
    recency_days: np.ndarray
    n_ratings: np.ndarray
    n_purchases: np.ndarray
    mean_rating: np.ndarray
    total_spend: np.ndarray
    rfm_f: np.ndarray
    rfm_m: np.ndarray
    lifecycle: np.ndarray
    region: np.ndarray
    interests: np.ndarray

    def __len__(self) -> int:
        return len(self.customer_ids)

    def take(self, rows: np.ndarray) -> SegmentColumns:
        """Return the customers at ``rows`` (positions), in that order."""
        return SegmentColumns(
            [self.customer_ids[n] for n in rows], self.genres,
            *(getattr(self, f.name)[rows] for f in fields(self) if f.name not in ("customer_ids", "genres")),
        )

    @classmethod
    def from_portraits(cls, portraits: Sequence[Portrait], genres: list[str]) -> SegmentColumns:
        """Read the columns off built portraits (the index-wide segment model's input)."""

        def numbers(name: str) -> np.ndarray:
            return np.array([getattr(p, name) for p in portraits], dtype=np.float64)  # None becomes NaN

        return cls(
            [p.customer_id for p in portraits], list(genres),
            numbers("age"), numbers("recency_days"), numbers("n_ratings"), numbers("n_purchases"),
            numbers("mean_rating"), numbers("total_spend"), numbers("rfm_f"), numbers("rfm_m"),
            np.array([p.lifecycle for p in portraits], dtype=object),
            np.array([p.region for p in portraits], dtype=object),
            np.array([[p.interests.get(g, 0.0) for g in genres] for p in portraits], dtype=np.float64)
            .reshape(len(portraits), len(genres)),
        )

    @classmethod
    def from_metadata(cls, customer_ids: Sequence[str], metadata: pd.DataFrame, weights: pd.DataFrame,
                      genres: list[str]) -> SegmentColumns:
        """Read the columns off index metadata (a row per customer) and interest weights.

        Args:
            customer_ids: The customers (distinct), in the order of ``metadata``'s rows.
            metadata: Their portrait metadata as the index keeps it (needs ``lifecycle``; a missing column means
                unknown, or 0 for counts and the mean rating).
            weights: Interest weights (``customer_id``, ``genre``, ``weight``), as the portraits compute them;
                rows of other customers or genres are ignored.
            genres: The genre vocabulary.

        Raises:
            ValueError: A customer appears twice, or ``lifecycle`` is missing or unknown for a customer.
        """
        if "lifecycle" not in metadata.columns or metadata["lifecycle"].isna().any():
            raise ValueError("every customer's metadata needs its lifecycle")

        def numbers(key: str, missing: float = np.nan) -> np.ndarray:
            if key not in metadata.columns:
                return np.full(len(metadata), missing)
            values = pd.to_numeric(metadata[key], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            return values if np.isnan(missing) else np.where(np.isnan(values), missing, values)

        index = pd.Index(customer_ids)
        if not index.is_unique:
            raise ValueError("a customer appears more than once in the audience")
        interests = np.zeros((len(customer_ids), len(genres)))
        rows = index.get_indexer(weights["customer_id"])
        columns = pd.Index(genres).get_indexer(weights["genre"])
        known = (rows >= 0) & (columns >= 0)
        interests[rows[known], columns[known]] = weights["weight"].to_numpy(dtype=np.float64)[known]
        region = (metadata["region"].astype(object).where(metadata["region"].notna(), None).to_numpy()
                  if "region" in metadata.columns else np.full(len(metadata), None, dtype=object))
        return cls(
            list(customer_ids), list(genres),
            numbers("age"), numbers("recency_days"), numbers("n_ratings", 0.0), numbers("n_purchases", 0.0),
            numbers("mean_rating", 0.0), numbers("total_spend"), numbers("rfm_f"), numbers("rfm_m"),
            metadata["lifecycle"].to_numpy(dtype=object), region, interests,
        )


def _known(values: np.ndarray) -> np.ndarray:
    return values[~np.isnan(values)]


def _feature_names(columns: SegmentColumns) -> list[str]:
    names = []
    if len(_known(columns.age)):
        names.append("age")
    names += ["log_recency_days", "log_events"]
    if (columns.n_ratings > 0).any():
        names.append("mean_rating")
    if len(_known(columns.total_spend)):
        names.append("log_spend")
    return names + [f"genre:{g}" for g in columns.genres]


def _raw_features(columns: SegmentColumns, names: list[str]) -> np.ndarray:
    ages = _known(columns.age)
    median_age = float(np.median(ages)) if len(ages) else 0.0
    genre_column = {g: n for n, g in enumerate(columns.genres)}
    features = []
    for name in names:
        if name == "age":
            values = np.where(np.isnan(columns.age), median_age, columns.age)
        elif name == "log_recency_days":
            values = np.log1p(np.nan_to_num(columns.recency_days, nan=0.0))
        elif name == "log_events":
            values = np.log1p(columns.n_ratings + columns.n_purchases)
        elif name == "mean_rating":
            values = columns.mean_rating
        elif name == "log_spend":
            values = np.log1p(np.nan_to_num(columns.total_spend, nan=0.0))
        else:
            values = columns.interests[:, genre_column[name.removeprefix("genre:")]]
        features.append(np.asarray(values, dtype=np.float64))
    return np.column_stack(features) if features else np.zeros((len(columns), 0))


def _standardised(columns: SegmentColumns) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Return the feature names, per-feature mean and divisor (standard deviation over the feature weight)."""
    names = _feature_names(columns)
    raw = _raw_features(columns, names)
    weights = np.array([TASTE_WEIGHT / max(len(columns.genres), 1) if n.startswith("genre:") else 1.0
                        for n in names])
    std = raw.std(axis=0)
    return names, raw.mean(axis=0), np.where(std > 0, std, 1.0) / np.sqrt(weights)


def cluster(points: np.ndarray, k: int, min_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Group rows with K-means into at most ``k`` segments of at least ``min_size`` rows each.

    Fewer segments when there are fewer than ``k * min_size`` rows, or when K-means leaves a segment smaller
    than ``min_size`` (it is then run again with one segment fewer); never fewer than one segment, so fewer
    than ``min_size`` rows make one small segment.

    Args:
        points: One row per customer (scaled features).
        k: Wanted number of segments.
        min_size: Least members per segment.
        seed: Random seed of K-means (the result is deterministic for a seed).

    Returns:
        The segment of each row (0 is the largest, ties in K-means order) and the segment centres in that
        order.
    """
    k = max(1, min(k, len(points) // max(min_size, 1)))
    while k > 1:
        kmeans = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(points)
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


def _loves(members: SegmentColumns, everyone: Mapping[str, float]) -> tuple[str, ...]:
    genres = members.genres
    mean = dict(zip(genres, members.interests.mean(axis=0).tolist(), strict=True))
    shop = {g: everyone.get(g, 0.0) for g in genres}
    ahead = sorted(((mean[g] - shop[g], g) for g in genres if mean[g] >= TASTE_LIFT * shop[g] > 0), reverse=True)
    return tuple(g for _, g in ahead[:2])


def _value(members: SegmentColumns) -> str:
    spend = _known(members.rfm_m)
    freq = float(np.median(np.nan_to_num(members.rfm_f, nan=1.0)))
    parts = []
    if len(spend):
        m = float(np.median(spend))
        parts.append("big spenders" if m >= 4 else "mid spenders" if m >= 3 else "small spenders")
    events = float(np.median(members.n_ratings + members.n_purchases))
    parts.append("frequent" if freq >= 4 else "one-time" if events <= 1 else "occasional")
    return ", ".join(parts) if len(spend) else f"{parts[0]} customers"


def _stage(members: SegmentColumns) -> str:
    stage = Counter(members.lifecycle.tolist()).most_common(1)[0][0]
    if stage != "lapsed":
        return str(stage)
    days = float(np.median(np.nan_to_num(members.recency_days, nan=0.0)))
    return "lapsed " + ("12+ months" if days >= 365 else "6–12 months" if days >= 182 else "3–6 months")


def _region(members: SegmentColumns) -> str | None:
    """Return "mostly <region>" when most members share a region, else None."""
    regions = Counter(r for r in members.region.tolist() if r)
    if not regions:
        return None
    region, count = regions.most_common(1)[0]
    return f"mostly {region}" if count > len(members) / 2 else "many countries"


def _spend(members: SegmentColumns) -> str | None:
    """Return the members' median total spend, e.g. "median spend 1,250", or None without money."""
    spend = _known(members.total_spend)
    return f"median spend {float(np.median(spend)):,.0f}" if len(spend) else None


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


def profile_segments(groups: Sequence[SegmentColumns], everyone: Mapping[str, float]) -> list[SegmentProfile]:
    """Name and describe segments from their members (the one naming rule of segments; see the module).

    Args:
        groups: The members of each segment (none empty), in segment order; their genre vocabulary (empty:
            segments are named by spend and frequency).
        everyone: The shop's average interest weight per genre.

    Returns:
        One profile per segment, in the same order; no two names alike.
    """
    names: list[str] = []
    qualifiers: list[list[str | None]] = []
    facts: list[tuple[tuple[str, ...], dict[str, int], float | None]] = []
    money = any(len(_known(members.rfm_m)) for members in groups)
    fans = "buyers" if money else "lovers"  # a shop of purchases: what they buy; of ratings: what they love
    for members in groups:
        genres = members.genres
        loves = _loves(members, everyone) if genres else ()
        parts = [(f"{' & '.join(loves)} {fans}" if loves else "broad tastes") if genres else _value(members)]
        parts.append(_stage(members))
        ages = _known(members.age)
        median_age = float(np.median(ages)) if len(ages) else None
        if median_age is not None:
            parts.append(age_band(median_age))
        names.append(", ".join(parts))
        qualifiers.append([_value(members) if genres else None, _region(members), _spend(members)])
        facts.append((loves, {str(k): n for k, n in Counter(members.lifecycle.tolist()).most_common()}, median_age))
    return [SegmentProfile(name, *fact) for name, fact in zip(_distinct(names, qualifiers), facts, strict=True)]


def _average_interests(columns: SegmentColumns) -> dict[str, float]:
    return dict(zip(columns.genres, columns.interests.mean(axis=0).tolist(), strict=True))


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
        return self.features == _feature_names(SegmentColumns.from_portraits(portraits, genres))

    def _scaled(self, columns: SegmentColumns) -> np.ndarray:
        return (_raw_features(columns, self.features) - np.asarray(self.mean)) / np.asarray(self.scale)

    def assign(self, portraits: list[Portrait]) -> np.ndarray:
        """Return the segment id of each portrait (nearest centre).

        Args:
            portraits: Portraits with the features of :attr:`features`.

        Returns:
            Integer array of segment ids.
        """
        genres = [f.removeprefix("genre:") for f in self.features if f.startswith("genre:")]
        scaled = self._scaled(SegmentColumns.from_portraits(portraits, genres))
        return pairwise_distances_argmin(scaled, np.asarray(self.centroids))

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
        columns = SegmentColumns.from_portraits(portraits, genres)
        names, mean, scale = _standardised(columns)
        labels, centroids = cluster((_raw_features(columns, names) - mean) / scale, k, MIN_MEMBERS_PER_SEGMENT, seed)
        groups = [columns.take(np.flatnonzero(labels == s)) for s in range(len(centroids))]
        profiles = profile_segments(groups, _average_interests(columns))
        return cls(
            names, mean.tolist(), scale.tolist(), centroids.tolist(), [p.name for p in profiles],
            [len(g) for g in groups],
        )


def planning_sample(customer_ids: Sequence[str]) -> np.ndarray:
    """Return the rows of an audience's planning sample: all of them, or the :data:`PLANNING_SAMPLE` smallest ids.

    Customer ids are pseudonyms (keyed hashes; a scale test's replica ids follow the replica index, and each
    replica's real customer is drawn at random), so the customers with the smallest ids are a uniform sample.
    Unlike a seeded random draw, it stays the same sample when the audience grows by customers whose ids sort
    after it: a plan's segments, names and estimates read the same for an audience of the same make-up at any
    size (the scale test's 10k shop is the first 10k replicas of the 1M one), and the LLM is asked the same
    questions.

    Args:
        customer_ids: The audience, in any order.

    Returns:
        Row numbers into ``customer_ids``: ``0 .. n-1`` in the given order for an audience of at most
        :data:`PLANNING_SAMPLE`, else the rows of the smallest ids, in id order.
    """
    if len(customer_ids) <= PLANNING_SAMPLE:
        return np.arange(len(customer_ids))
    return np.argsort(np.asarray(customer_ids, dtype=str), kind="stable")[:PLANNING_SAMPLE]


@dataclass(frozen=True)
class AudienceSegment:
    """One segment of a retrieved audience (see :func:`split_audience`).

    Attributes:
        customer_ids: Its members, in the order they were given.
        profile: Its name and what its members have in common, from its members in the planning sample
            (all of them up to :data:`PLANNING_SAMPLE` customers).
        sample_ids: Its members in the audience's planning sample (:func:`planning_sample`), in id order above
            :data:`PLANNING_SAMPLE`; what a plan's estimates of the segment read.
        lifecycle_mix: Lifecycle stage to number of members, of every member, commonest first.
    """

    customer_ids: list[str]
    profile: SegmentProfile
    sample_ids: list[str]
    lifecycle_mix: dict[str, int]


def split_audience(
    shop: Shop,
    customer_ids: Sequence[str],
    metadata: Sequence[Mapping[str, Any]] | pd.DataFrame,
    max_segments: int,
    min_size: int,
    seed: int,
    config: PortraitConfig | None = None,
) -> list[AudienceSegment]:
    """Split a retrieved audience into at most ``max_segments`` segments of at least ``min_size`` members.

    K-means (:func:`cluster`: full, 10 seeded starts) is fitted on the audience's planning sample
    (:func:`planning_sample`: the whole audience up to :data:`PLANNING_SAMPLE` customers), on the portrait features
    as :class:`SegmentModel` uses them, standardised over the sample; above it, every customer of the audience is
    then assigned to the nearest centre, which costs time in proportion to the audience. Segments are named by
    :func:`profile_segments` from their members in the sample, against the shop's average interests (over its
    first :data:`PLANNING_SAMPLE` customers by id when it has more). So the segments' names and what a plan
    estimates on them depend on the audience's make-up, not on its size. Interest weights are computed from the
    shop's events as the portraits compute them. The audience is held as :class:`SegmentColumns`, never as an
    object per customer.

    Args:
        shop: The shop the audience belongs to.
        customer_ids: The audience (distinct pseudonymous ids, at least one).
        metadata: Their portrait metadata from the index, a dict or a table row per customer (needs
            ``lifecycle``; reads age, activity and RFM).
        max_segments: Upper bound on the number of segments.
        min_size: Least members per segment (an audience smaller than this is one segment).
        seed: Random seed of K-means.
        config: The portrait knobs the index was built with (half-life of interests); the defaults when None.

    Returns:
        The segments, largest first; names are distinct.

    Raises:
        ValueError: No customer, not one metadata row per customer, or a customer without a lifecycle.
    """
    if not len(customer_ids) or len(customer_ids) != len(metadata):
        raise ValueError(f"need one metadata row per customer, got {len(customer_ids)} ids, {len(metadata)} rows")
    table = metadata if isinstance(metadata, pd.DataFrame) else pd.DataFrame.from_records(list(metadata))
    genres = shop_genres(shop)
    end = int(shop.interactions["timestamp"].max()) if len(shop.interactions) else 0
    shop_sample = _shop_sample(shop)
    needed = None if shop_sample is None else {*customer_ids, *shop_sample}  # not the rest of a large shop
    weights = interest_weights(shop, end, (config or PortraitConfig()).half_life_days, needed)
    everyone = _shop_interests(shop, weights, shop_sample)
    columns = SegmentColumns.from_metadata(customer_ids, table.reset_index(drop=True), weights, genres)
    rows = planning_sample(customer_ids)
    sample = columns.take(rows)
    names, mean, scale = _standardised(sample)
    labels, centroids = cluster((_raw_features(sample, names) - mean) / scale, max_segments, min_size, seed)
    # every customer to the nearest centre fitted on the sample (a whole-audience sample is already labelled)
    labels_all = labels if len(sample) == len(columns) else \
        pairwise_distances_argmin((_raw_features(columns, names) - mean) / scale, centroids)
    picked = [sample.take(np.flatnonzero(labels == s)) for s in range(len(centroids))]
    segments: list[AudienceSegment] = []
    for s, profile in enumerate(profile_segments(picked, everyone)):
        members = np.flatnonzero(labels_all == s)
        mix = Counter(columns.lifecycle[members].tolist()).most_common()
        segments.append(AudienceSegment(
            [columns.customer_ids[i] for i in members], profile, list(picked[s].customer_ids),
            {str(stage): int(n) for stage, n in mix}))
    del weights, columns, sample, picked
    return_freed_memory()  # the shop-wide interest weights and the features, dropped (gigabytes at 1M)
    return segments


def _shop_sample(shop: Shop) -> list[str] | None:
    """Return the shop's first :data:`PLANNING_SAMPLE` customers by id when it has more, else None (all of them)."""
    if len(shop.customers) <= PLANNING_SAMPLE:
        return None
    ids = shop.customers["customer_id"].tolist()
    return [ids[i] for i in planning_sample(ids)]


def _shop_interests(shop: Shop, weights: pd.DataFrame, sample: list[str] | None) -> dict[str, float]:
    """The shop's average interest weight per genre: over every customer, or over ``sample`` (:func:`_shop_sample`).

    Sampled like the audience (:func:`planning_sample`), so a shop that grows by customers whose ids sort later
    names segments against the same average.
    """
    if sample is not None:
        weights = weights[weights["customer_id"].isin(set(sample))]
    return (weights.groupby("genre")["weight"].sum() / max(len(shop.customers) if sample is None else len(sample), 1)
            ).to_dict()
