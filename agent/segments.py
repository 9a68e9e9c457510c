"""A plan's segments: the retrieved audience split by the portrait segmenter, described for the copywriter.

The clustering and the names are :func:`tools.portraits.split_audience`'s (the same K-means on portrait
features and the same naming rule as the segments kept with the portrait index); this module numbers the
segments and writes the one-line description the copy prompt and the plan show.

Above :data:`tools.portraits.PLANNING_SAMPLE` customers the segments are fitted and named on the audience's
planning sample, and the description states the sample's shares ("all lapsed", "about 85% lapsed") instead of
head counts: everything the LLM is told about a segment then reads the same for an audience of the same make-up
at any size, so a plan for 1M customers asks the LLM the same questions as one for 10k. Smaller audiences are
their own sample and are described with their head counts.
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
        Segments "S1", "S2" … largest in the planning sample first, with distinct names that say what sets each
        apart, e.g. "Sci-Fi & Horror lovers, lapsed 6–12 months, 25–34", and their members in the sample.
    """
    segments: list[Segment] = []
    for part in split_audience(shop, customer_ids, metadata, max_segments, MIN_SEGMENT_SIZE, seed):
        profile, size, sampled = part.profile, len(part.customer_ids), len(part.sample_ids)
        stage, count = next(iter(profile.lifecycle_mix.items()))
        age = f"; median age {profile.median_age:.0f}" if profile.median_age is not None else ""
        who = f"{size} customers; {count} of them {stage}" if sampled == size else \
            f"{_share_words(count, sampled)} {stage}"
        description = (
            f"{who}{age}; {'buy' if shop.has_monetary else 'watch'} more "
            f"{', '.join(profile.loves) or 'of everything'} than the average customer"
        )
        segments.append(Segment(
            segment_id=f"S{len(segments) + 1}", name=profile.name, description=description, size=size,
            customer_ids=part.customer_ids, sample_ids=part.sample_ids, top_genres=list(profile.loves),
            lifecycle_mix=part.lifecycle_mix, median_age=profile.median_age,
        ))
    return segments


def _share_words(count: int, size: int) -> str:
    """Say what share ``count`` is of ``size`` in words that do not depend on the audience's size.

    "all", "nearly all" (97.5% or more), else "about N%" with N rounded to 5 (at least 5).
    """
    if count >= size:
        return "all"
    share = count / size
    if share >= 0.975:
        return "nearly all"
    return f"about {max(5, 5 * round(share * 20))}%"
