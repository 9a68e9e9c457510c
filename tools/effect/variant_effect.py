"""One effect per copy variant of a plan: the segment × product base rate × the headline's click-through index.

Combination (an assumption, stated on every result by :func:`combination`): the expected response of a variant
is ``base rate(segment, product) × index(headline)``. The base rate is the estimate of the shop's effect tool,
and the variant's ``effect.metric`` says what it is: ``p_like`` of the click model for a shop of ratings
(derived from ratings, see :mod:`tools.effect.effect_tool`), or the observed 30-day purchase rate of the
product's category for a shop of purchases (:mod:`tools.effect.category_rate`). The fields keep the name
``p_like*`` so that stored plans still load; they hold whichever base rate was used. ``index`` comes from the
Upworthy headline model (:mod:`tools.effect.headlines.training`), the relative click-through of the headline
against an average tested headline, fitted as a multiplicative (log-linear) effect within A/B tests.
Multiplying them assumes the copy scales the base rate and that the effect learnt on Upworthy news headlines
carries over to this shop's messages — untested here, so the index is also shown on its own, with the closest
tested headlines and their observed lift as evidence. The 90% interval combines both intervals on the log
scale as if independent; the base rate's interval is the spread over the segment's customers, the index
interval the headline model's parameter uncertainty.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from pydantic import BaseModel, Field

from agent.settings import Settings
from tools.effect.effect_tool import EffectEstimate
from tools.effect.headlines import HeadlineModel, HeadlineRating

Z_90 = 1.645
HEADLINE_ASSUMPTION = (
    "headline click-through index (Upworthy A/B tests, 1.0 = average headline); "
    "assumes the copy multiplies the base rate and that Upworthy headline effects transfer to this shop"
)
METRIC = (
    "expected response per send: segment × product base rate (field p_like, from the shop's effect tool; see "
    "combination) × headline index (derived)"
)


def combination(base_metric: str) -> str:
    """State how a variant's effect is combined, naming what its base rate is (the effect tool's metric).

    Args:
        base_metric: ``metric`` of the segment × product estimate the variant was built on.

    Returns:
        ``"base rate (field p_like) × headline click-through index (…); assumes …. The base rate: <base_metric>"``.
    """
    return f"base rate (field p_like) × {HEADLINE_ASSUMPTION}. The base rate: {base_metric}"


COMBINATION = combination("the segment × product estimate of the shop's effect tool")
"""The generic statement, the default of a :class:`VariantEffect`; :func:`combine` names the actual base rate."""


class VariantEffect(BaseModel):
    """Predicted effect of one copy variant."""

    variant_id: str
    segment_id: str
    product_id: str
    metric: str = METRIC
    point: float = Field(description="Base rate (p_like, or money per send on a shop of orders) × headline index; a "
                         "probability is capped at 1.")
    low: float = Field(description="5th percentile (log-scale combination of both intervals).")
    high: float = Field(description="95th percentile.")
    p_like: float = Field(
        description="The segment × product base rate from the shop's effect tool (named p_like for stored plans; "
        "the combination says what it is: the click model's p_like, or an observed category purchase rate)."
    )
    p_like_low: float = Field(description="5th percentile of the base rate.")
    p_like_high: float = Field(description="95th percentile of the base rate.")
    headline_index: float
    headline_index_low: float
    headline_index_high: float
    factors: list[str] = Field(description="Top product/segment factors then top headline factors, in plain words.")
    evidence: list[str] = Field(
        default_factory=list,
        description="Observed results behind the headline index: the closest tested Upworthy headlines and their "
        "lift in their own A/B test (not model output).",
    )
    combination: str = COMBINATION


class MessageDraft(Protocol):
    """What the effect of one message needs: its ids, language, headline and segment×product estimate.

    The plan's copy variants satisfy it; so does any object with these attributes.
    """

    @property
    def variant_id(self) -> str:
        """Id of the message."""
        ...

    @property
    def segment_id(self) -> str:
        """Segment it is sent to."""
        ...

    @property
    def language(self) -> str:
        """Language it is written in ("en", "zh")."""
        ...

    @property
    def headline(self) -> str:
        """Its headline."""
        ...

    @property
    def effect(self) -> EffectEstimate:
        """The effect tool's segment × product estimate (its ``metric`` says what it is)."""
        ...


def _log_sd(point: float, low: float, high: float) -> float:
    """Return the log-scale standard deviation implied by a 90% interval (0 for a degenerate one)."""
    if point <= 0 or low <= 0 or high <= low:
        return 0.0
    return float(max(np.log(high) - np.log(point), np.log(point) - np.log(low)) / Z_90)


def combine(
    variant_id: str, segment_id: str, effect: EffectEstimate, rating: HeadlineRating
) -> VariantEffect:
    """Combine a segment × product estimate with a headline rating into one variant effect.

    The result's ``combination`` names the estimate's own metric, so it is true for whichever effect tool made it.
    """
    point = effect.point * rating.index
    sd = float(np.hypot(_log_sd(effect.point, effect.low, effect.high), _log_sd(rating.index, rating.low, rating.high)))
    factors = [f"product for this segment: {f}" for f in effect.factors[:2]] + [
        f"headline: {f}" for f in rating.factors[:2]
    ]
    cap = 1.0 if effect.unit == "probability" else np.inf  # money per send has no ceiling of 1
    return VariantEffect(
        variant_id=variant_id, segment_id=segment_id, product_id=effect.product_id,
        point=min(point, cap), low=min(point * np.exp(-Z_90 * sd), cap), high=min(point * np.exp(Z_90 * sd), cap),
        p_like=effect.point, p_like_low=effect.low, p_like_high=effect.high, headline_index=rating.index,
        headline_index_low=rating.low, headline_index_high=rating.high, factors=factors, evidence=rating.evidence,
        combination=combination(effect.metric),
    )  # fmt: skip


NOT_RATED = "no headline model for this language (Upworthy/MiniLM are English-only): index held at 1.0"


def rate_headlines(
    variants: Sequence[MessageDraft], headlines: HeadlineModel, settings: Settings
) -> list[HeadlineRating]:
    """Rate the headlines of English variants with the model; other languages get a neutral 1.0 that says why.

    The variant's declared language decides (grounding already rejects en copy written in another script).
    """
    english = [v.headline for v in variants if v.language == "en"]
    rated = iter(headlines.rate(english, settings) if english else [])
    neutral = {"index": 1.0, "low": 1.0, "high": 1.0, "factors": [NOT_RATED]}
    return [next(rated) if v.language == "en" else HeadlineRating(headline=v.headline, **neutral) for v in variants]


def predict_variant_effect(variant: MessageDraft, headlines: HeadlineModel, settings: Settings) -> VariantEffect:
    """Predict one variant's effect from its ``effect`` (the segment × product base rate) and its headline."""
    rating = rate_headlines([variant], headlines, settings)[0]
    return combine(variant.variant_id, variant.segment_id, variant.effect, rating)


def predict_effect(
    variants: Sequence[MessageDraft], *, headlines: HeadlineModel, settings: Settings
) -> list[VariantEffect]:
    """Predict the effect of each message, rating all headlines in one batch.

    Args:
        variants: The messages; each carries ``effect``, the effect tool's segment × product estimate.
        headlines: The headline model (:func:`tools.effect.headlines.training.headline_ctr_model`).
        settings: Project settings (embedding model and cache).
    """
    ratings = rate_headlines(variants, headlines, settings)
    return [combine(v.variant_id, v.segment_id, v.effect, r) for v, r in zip(variants, ratings, strict=True)]
