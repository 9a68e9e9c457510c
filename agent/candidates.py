"""Each segment's candidate products: retrieved by the recommender, ranked by the effect model.

The recommend tool and the effect model answer different questions. The recommender ranks what a segment
is likely to watch next (any rating counts as an interaction; its weights are learned on nDCG of held-out
interactions), so it favours the titles these customers are about to rate, liked or not. The effect model
predicts ``p_like``, the chance that a customer shown a title rates it 4 or more, which is what a plan's
predicted positives count. Taking only the recommender's first few titles as candidates left out the
titles the effect model rates highest.

So candidates are chosen in two stages, as in a retrieve-then-rank recommender: the recommender retrieves a
wide pool of eligible titles (the brief's genres, not already rated by half of the segment), the effect model
predicts every one for the segment, and the shortlist keeps the best by predicted ``p_like``. Segments are
served largest first; a product a larger segment already sends is left to it when this segment's best
product that no other segment sends is predicted within :data:`DISTINCT_TOLERANCE`, so segments get different
products unless one product is clearly the best for both. Every kept product says why it was kept.
"""

from __future__ import annotations

from pydantic import BaseModel

from tools.copywriting import format_price
from tools.effect import EffectEstimate
from tools.recommend import ScoredProduct

POOL_SIZE = 100
"""Titles the recommender retrieves per segment for the effect model to rank (both tools' request limit)."""
DISTINCT_TOLERANCE = 0.05
"""Predicted ``p_like`` a segment may give up, per sent product, to send a product no other segment sends.

About the click model's held-out expected calibration error (0.052 in the card of the model trained on the
demo shop): a smaller difference is within what the model gets wrong on average.
"""


PURCHASE_TOLERANCE = 0.1
"""On a shop of purchases, the share of the best candidate's observed rate a segment may give up per sent product
to send a product no other segment sends (observed rates have no calibration error to anchor an absolute value)."""


def is_rating_metric(metric: str) -> bool:
    """Tell whether an estimate is the click model's ``p_like`` (ratings) rather than an observed purchase rate."""
    return "p_like" in metric


def distinct_tolerance(ranked: dict[str, list[Candidate]]) -> float:
    """Return the tolerance of :func:`shortlist` for these candidates: absolute for ``p_like``, relative otherwise."""
    estimates = [c.effect for candidates in ranked.values() for c in candidates]
    if not estimates or is_rating_metric(estimates[0].metric):
        return DISTINCT_TOLERANCE
    return PURCHASE_TOLERANCE * max(e.point for e in estimates)


class Candidate(BaseModel):
    """One retrieved product of a segment with its predicted effect and its ranks in the pool."""

    product: ScoredProduct
    effect: EffectEstimate
    relevance_rank: int
    effect_rank: int = 0

    @property
    def product_id(self) -> str:
        """Return the product's id."""
        return self.product.product_id

    def explained(self, pool: int) -> ScoredProduct:
        """Return the product with a reason saying why it was kept: predicted effect, then relevance."""
        seen, ratings = self.effect.already_rated, is_rating_metric(self.effect.metric)
        if ratings:
            rated = f" ({seen} of {self.effect.n_customers} customers already rated it: counted 0)" if seen else ""
            what = f"predicted p_like {self.effect.point:.3f}{rated}"
        elif self.effect.value is not None:
            value = self.effect.value
            what = (f"expected incremental revenue {format_price(self.effect.point, value.currency)} per send "
                    f"({value.organic_orders.point:.1f} of {value.customers:,} customers expected to buy it anyway)")
        else:
            bought = f"; {seen} of {self.effect.n_customers} have bought it before" if seen else ""
            what = f"observed 30-day category purchase rate {self.effect.point:.2%}{bought}"
        reason = (
            f"{what}, #{self.effect_rank} of the {pool} products the "
            f"recommender retrieved (relevance #{self.relevance_rank}: {self.product.reason})"
        )
        return self.product.model_copy(update={"reason": reason})


def rank_by_effect(products: list[ScoredProduct], effects: list[EffectEstimate]) -> list[Candidate]:
    """Order a segment's retrieved products by predicted ``p_like``, best first; ties keep relevance order.

    Args:
        products: The recommender's products, most relevant first.
        effects: The effect model's estimate of each product for the segment.

    Returns:
        The candidates, highest predicted ``p_like`` first, with both ranks set.

    Raises:
        KeyError: A product has no estimate.
    """
    by_id = {e.product_id: e for e in effects}
    pool = [Candidate(product=p, effect=by_id[p.product_id], relevance_rank=i + 1) for i, p in enumerate(products)]
    ranked = sorted(pool, key=lambda c: (-c.effect.point, c.relevance_rank))
    return [c.model_copy(update={"effect_rank": i + 1}) for i, c in enumerate(ranked)]


def shortlist(
    ranked: dict[str, list[Candidate]], slots: int, k: int, tolerance: float = DISTINCT_TOLERANCE
) -> tuple[dict[str, list[Candidate]], list[str]]:
    """Keep each segment's best ``k`` candidates, leaving a product to a larger segment when it costs little.

    Position by position, a segment takes its best remaining candidate; when a larger segment already sends
    it and the segment's best remaining candidate that no other segment sends is predicted within
    ``tolerance``, the segment takes that one instead and drops the other (so a revision cannot bring it back).

    Args:
        ranked: Each segment's candidates by :func:`rank_by_effect`, segments largest first.
        slots: Products a segment sends per channel (its first ``slots`` candidates).
        k: Candidates kept per segment (the rest are the revision's reserve).
        tolerance: Most predicted ``p_like`` a segment gives up, per position, for a product of its own.

    Returns:
        The shortlist of every segment, best first, and one note per product left to another segment.
    """
    owner: dict[str, str] = {}  # product → the first segment that sends it
    kept: dict[str, list[Candidate]] = {}
    notes: list[str] = []
    for segment_id, candidates in ranked.items():
        rest, mine = list(candidates), list[Candidate]()
        while rest and len(mine) < k:
            best, other = rest[0], owner.get(rest[0].product_id)
            own = next((c for c in rest if c.product_id not in owner), None)
            if other is not None and own is not None and best.effect.point - own.effect.point <= tolerance:
                notes.append(
                    f"{segment_id}: {best.product.title} (p_like {best.effect.point:.3f}) left to {other}: the "
                    f"best product no other segment sends, {own.product.title} ({own.effect.point:.3f}), is "
                    f"within {tolerance}"
                )
                rest.remove(best)
                best = own
            rest.remove(best)
            mine.append(best)
        kept[segment_id] = mine
        for c in mine[:slots]:
            owner.setdefault(c.product_id, segment_id)
    return kept, notes
