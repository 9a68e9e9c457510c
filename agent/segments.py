"""Forming segments from a retrieved audience: K-means on portrait embeddings, named from behaviour."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans

from agent.plan import Segment

MIN_SEGMENT_SIZE = 15


def _age_band(age: float) -> str:
    for upper, label in ((18, "under 18"), (25, "18–24"), (35, "25–34"), (45, "35–44"), (55, "45–54")):
        if age < upper:
            return label
    return "55+"


def genre_shares(interactions: pd.DataFrame, products: pd.DataFrame, customer_ids: list[str]) -> pd.Series:
    """Share of each genre among the ratings of ``customer_ids`` (a title with k genres counts 1/k each)."""
    rated = interactions[interactions["customer_id"].isin(customer_ids)][["product_id"]]
    genres = products.set_index("product_id")["genres"]
    exploded = rated.join(genres, on="product_id").explode("genres").dropna(subset=["genres"])
    if exploded.empty:
        return pd.Series(dtype=float)
    weights = 1.0 / exploded.groupby(level=0)["genres"].transform("size")
    shares = weights.groupby(exploded["genres"]).sum()
    return (shares / shares.sum()).sort_values(ascending=False)


def distinctive_genres(segment: pd.Series, baseline: pd.Series, n: int = 2) -> list[str]:
    """Genres the segment over-indexes on, best ``n``: share × log(lift over the baseline), lift > 1 only.

    Plain share would name every segment after Drama and Comedy, the commonest genres; share × log-lift
    favours what sets the segment apart while ignoring rare genres with noisy lifts.
    """
    lift = segment / baseline.reindex(segment.index).replace(0, np.nan)
    score = (segment * np.log(lift)).dropna()
    score = score[score > 0].sort_values(ascending=False)
    return [str(g) for g in score.index[:n]]


def form_segments(
    customer_ids: list[str],
    metadata: list[dict[str, object]],
    embeddings: np.ndarray,
    interactions: pd.DataFrame,
    products: pd.DataFrame,
    max_segments: int,
    seed: int,
) -> list[Segment]:
    """Cluster the audience into at most ``max_segments`` segments of at least 15 customers each.

    Args:
        customer_ids: Retrieved customers (pseudonymous ids).
        metadata: Their portrait metadata (needs ``age`` and ``lifecycle``).
        embeddings: Their portrait embeddings, one row each.
        interactions: The shop's interactions (for naming segments by what they watch).
        products: The shop's products.
        max_segments: Upper bound on the number of segments.
        seed: K-means seed.

    Returns:
        Segments, largest first, each named from its distinctive genres, lifecycle and age.
    """
    n = len(customer_ids)
    k = max(1, min(max_segments, n // MIN_SEGMENT_SIZE))
    labels = np.zeros(n, dtype=int)
    if k > 1:
        labels = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(embeddings)
    baseline = genre_shares(interactions, products, list(interactions["customer_id"].unique()))
    segments: list[Segment] = []
    for label in sorted(set(labels), key=lambda lab: -int((labels == lab).sum())):
        members = [i for i in range(n) if labels[i] == label]
        ids = [customer_ids[i] for i in members]
        ages = [float(metadata[i]["age"]) for i in members]  # type: ignore[arg-type]
        lifecycle = Counter(str(metadata[i]["lifecycle"]) for i in members)
        top = distinctive_genres(genre_shares(interactions, products, ids), baseline)
        stage, count = lifecycle.most_common(1)[0]
        median_age = float(np.median(ages))
        name = f"{stage.capitalize()} {' & '.join(top) or 'general'} fans, {_age_band(median_age)}"
        description = (
            f"{len(ids)} customers; {count} of them {stage}; median age {median_age:.0f}; "
            f"watch more {', '.join(top) or 'of everything'} than the average customer"
        )
        segments.append(Segment(
            segment_id=f"S{len(segments) + 1}", name=name, description=description, size=len(ids),
            customer_ids=ids, top_genres=top, lifecycle_mix=dict(lifecycle), median_age=median_age,
        ))
    return segments
