"""Customer segments: K-means over portrait features, with readable names derived from each segment.

Features per customer (only those the shop records): age; log of days since the last event; log of the
number of events; mean rating; log of total spend; and the interest weight of every genre. Each is
standardised; the genre block is then scaled so that taste weighs :data:`TASTE_WEIGHT` times one
behavioural feature (whatever the number of genres). K-means (scikit-learn, fixed seed) groups the
customers; segment 0 is the largest.

Names come from the members of each segment: the two genres whose mean interest weight most exceeds the
shop's average (by at least 15%: "Sci-Fi & Action lovers"), or where there are no genres the median
spend and frequency scores ("big spenders, frequent"); then the most common lifecycle stage (for
"lapsed", with the median member's time since the last event: "lapsed 6–12 months"); then the age band of
the median member ("25–34"). A name that repeats gets " (2)", " (3)" …. The fitted model (scaler,
centroids, names) is kept with the index, so later rebuilds assign customers to the same segments instead
of reshuffling them.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.cluster import KMeans

from tools.portraits.portrait import Portrait

TASTE_WEIGHT = 3.0
DEFAULT_SEGMENTS = 8
MIN_MEMBERS_PER_SEGMENT = 20
_AGE_BANDS = ((0, 17, "under 18"), (18, 24, "18–24"), (25, 34, "25–34"), (35, 44, "35–44"), (45, 54, "45–54"),
              (55, 64, "55–64"), (65, 200, "65+"))  # fmt: skip


def age_band(age: float) -> str:
    """Return the marketing age band of an age, e.g. 29 → "25–34"."""
    return next(label for low, high, label in _AGE_BANDS if low <= age <= high)


def _feature_names(portraits: list[Portrait], genres: list[str]) -> list[str]:
    names = []
    if any(p.age is not None for p in portraits):
        names.append("age")
    names += ["log_recency_days", "log_events"]
    if any(p.n_ratings for p in portraits):
        names.append("mean_rating")
    if any(p.total_spend is not None for p in portraits):
        names.append("log_spend")
    return names + [f"genre:{g}" for g in genres]


def _raw_features(portraits: list[Portrait], names: list[str]) -> np.ndarray:
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
            k: Wanted number of segments; fewer when there are fewer than ``k *``
                :data:`MIN_MEMBERS_PER_SEGMENT` customers.
            seed: Random seed of K-means.

        Returns:
            The fitted model.

        Raises:
            ValueError: Fewer than two portraits.
        """
        if len(portraits) < 2:
            raise ValueError(f"need at least 2 customers to form segments, got {len(portraits)}")
        names = _feature_names(portraits, genres)
        raw = _raw_features(portraits, names)
        weights = np.array([TASTE_WEIGHT / max(len(genres), 1) if n.startswith("genre:") else 1.0 for n in names])
        std = raw.std(axis=0)
        scale = np.where(std > 0, std, 1.0) / np.sqrt(weights)
        mean = raw.mean(axis=0)
        scaled = (raw - mean) / scale
        k = max(2, min(k, len(portraits) // MIN_MEMBERS_PER_SEGMENT or 2, len(portraits)))
        kmeans = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(scaled)
        order = np.argsort(-np.bincount(kmeans.labels_, minlength=k), kind="stable")
        labels = np.argsort(order)[kmeans.labels_]
        centroids = kmeans.cluster_centers_[order]
        sizes = np.bincount(labels, minlength=k)
        model = cls(names, mean.tolist(), scale.tolist(), centroids.tolist(), [], sizes.tolist())
        model.names = _name_segments(portraits, labels, k, genres)
        return model


def _taste(members: list[Portrait], everyone: dict[str, float], genres: list[str]) -> str:
    mean = {g: float(np.mean([p.interests.get(g, 0.0) for p in members])) for g in genres}
    ahead = sorted(((mean[g] - everyone[g], g) for g in genres if mean[g] >= 1.15 * everyone[g] > 0), reverse=True)
    picked = [g for _, g in ahead[:2]]
    return f"{' & '.join(picked)} lovers" if picked else "broad tastes"


def _value(members: list[Portrait]) -> str:
    spend = [p.rfm_m for p in members if p.rfm_m is not None]
    freq = float(np.median([p.rfm_f or 1 for p in members]))
    parts = []
    if spend:
        m = float(np.median(spend))
        parts.append("big spenders" if m >= 4 else "mid spenders" if m >= 3 else "small spenders")
    events = float(np.median([p.n_ratings + p.n_purchases for p in members]))
    parts.append("frequent" if freq >= 4 else "one-time" if events <= 1 else "occasional")
    return ", ".join(parts) if spend else f"{parts[0]} customers"


def _stage(members: list[Portrait]) -> str:
    stage = Counter(p.lifecycle for p in members).most_common(1)[0][0]
    if stage != "lapsed":
        return stage
    days = float(np.median([p.recency_days or 0 for p in members]))
    return "lapsed " + ("12+ months" if days >= 365 else "6–12 months" if days >= 182 else "3–6 months")


def _name_segments(portraits: list[Portrait], labels: np.ndarray, k: int, genres: list[str]) -> list[str]:
    everyone = {g: float(np.mean([p.interests.get(g, 0.0) for p in portraits])) for g in genres}
    names: list[str] = []
    for segment in range(k):
        members = [p for p, label in zip(portraits, labels, strict=True) if label == segment]
        parts = [_taste(members, everyone, genres) if genres else _value(members)]
        parts.append(_stage(members))
        ages = [p.age for p in members if p.age is not None]
        if ages:
            parts.append(age_band(float(np.median(ages))))
        name = ", ".join(parts)
        repeat = sum(n == name or n.startswith(name + " (") for n in names)
        names.append(f"{name} ({repeat + 1})" if repeat else name)
    return names
