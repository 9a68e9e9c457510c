"""A plan's segments: the retrieved audience split by the portrait segmenter, described for the copywriter.

The clustering and the names are :func:`tools.portraits.split_audience`'s (the same K-means on portrait
features and the same naming rule as the segments kept with the portrait index); this module numbers the
segments and writes the one-line description the copy prompt and the plan show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from agent.plan import Segment
from tools.portraits import split_audience
from tools.shop import Shop

MIN_SEGMENT_SIZE = 15


def form_segments(
    customer_ids: list[str],
    metadata: Sequence[Mapping[str, Any]] | pd.DataFrame,
    shop: Shop,
    max_segments: int,
    seed: int,
) -> list[Segment]:
    """Split the audience into at most ``max_segments`` segments of at least :data:`MIN_SEGMENT_SIZE` customers.

    An audience of fewer than :data:`MIN_SEGMENT_SIZE` customers is one segment.

    Args:
        customer_ids: Retrieved customers (pseudonymous ids).
        metadata: Their portrait metadata from the index, a dict or a table row per customer (needs
            ``lifecycle``; age, activity and RFM are read).
        shop: The shop (its events give the customers' interests, as the portraits compute them).
        max_segments: Upper bound on the number of segments.
        seed: K-means seed.

    Returns:
        Segments "S1", "S2" … largest first, with distinct names that say what sets each apart, e.g.
        "Sci-Fi & Horror lovers, lapsed 6–12 months, 25–34".
    """
    segments: list[Segment] = []
    for part in split_audience(shop, customer_ids, metadata, max_segments, MIN_SEGMENT_SIZE, seed):
        profile = part.profile
        stage, count = next(iter(profile.lifecycle_mix.items()))
        size = len(part.customer_ids)
        age = f"; median age {profile.median_age:.0f}" if profile.median_age is not None else ""
        description = (
            f"{size} customers; {count} of them {stage}{age}; "
            f"{'buy' if shop.has_monetary else 'watch'} more {', '.join(profile.loves) or 'of everything'} "
            "than the average customer"
        )
        segments.append(Segment(
            segment_id=f"S{len(segments) + 1}", name=profile.name, description=description, size=size,
            customer_ids=part.customer_ids, top_genres=list(profile.loves), lifecycle_mix=profile.lifecycle_mix,
            median_age=profile.median_age,
        ))
    return segments
