"""Intent match: when the brief names a genre, category or theme, the featured products belong to it.

The intent is read from the brief's goal, audience and genre filter against the shop's genres, categories and
themes (:func:`agent.strategy.brief_intent`, the reading the plan loop uses), and each featured product (one per
segment × product of the plan's active messages) is checked against the catalog's own genres, not the plan's
copy of them. A product outside the intent passes only when its segment's strategy states why
(``intent_note``). Also: what the strategy step did (:func:`strategy_counts`), for the run summary.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from agent.plan import CampaignPlan
from agent.strategy import brief_intent, shop_vocabulary
from eval.groundedness import Catalog
from eval.scoring import ScoreResult, checks_result, not_applicable
from eval.suite import ScoreThreshold

SCORER = "intent"


def score_intent(plan: CampaignPlan, catalog: Catalog, threshold: ScoreThreshold) -> ScoreResult:
    """Score the share of featured products that belong to the brief's intent or whose plan says why not.

    Args:
        plan: The plan.
        catalog: The plan's shop catalog (its products' genres, categories and themes).
        threshold: Least share of checks passed.

    Returns:
        ``n/a`` when the brief names no genre, category or theme of the shop or the plan features nothing; else
        the share of checks passed, with ``intent_share`` (the share strictly inside the intent) in the details.
    """
    products = catalog.shop.products
    intent = brief_intent(plan.brief, shop_vocabulary(catalog.shop))
    if not intent:
        return not_applicable(SCORER, "share of checks passed", "the brief names no genre, category or theme of "
                              "the shop")
    genres = products.set_index("product_id")["genres"].to_dict()
    if "category" in products.columns:
        for pid, category in products.set_index("product_id")["category"].dropna().items():
            genres[pid] = [*list(genres.get(pid) or []), category]
    notes = {s.segment_id: s.strategy.intent_note for s in plan.segments if s.strategy and s.strategy.intent_note}
    featured = list(dict.fromkeys((v.segment_id, v.product_id, v.product_title) for v in plan.active_variants()))
    checks: list[tuple[str, bool]] = []
    inside = 0
    for segment_id, product_id, title in featured:
        ok = intent.matches(list(genres.get(product_id) or []))
        inside += ok
        stated = notes.get(segment_id)
        what = "belongs to" if ok else ("is outside, as the plan states" if stated else "is outside, unexplained:")
        checks.append((f"{segment_id}: {title} {what} {intent.label()}", ok or bool(stated)))
    if not checks:
        return not_applicable(SCORER, "share of checks passed", "the plan features no product")
    return checks_result(SCORER, checks, threshold.min_score, details={
        "intent": intent.terms, "named_by": intent.words, "featured": len(featured),
        "intent_share": round(inside / len(featured), 4), "explained": sorted(notes)})


class StrategyCounts(BaseModel):
    """What a plan's strategy step did: rounds run, proposals and who won (derived from the plan)."""

    segments: int = Field(0, description="Segments with a strategy record.")
    rounds: int = Field(0, description="Most LLM strategy rounds any segment ran.")
    proposals: int = Field(0, description="LLM proposals scored.")
    llm_wins: int = Field(0, description="Segments following an LLM proposal (the rest: the rule baseline).")
    winner_vs_rules: float | None = Field(None, description="Mean over segments of the winner's predicted response "
                                          "per send over the rule baseline's (1.0: as predicted as the rules).")


def strategy_counts(plan: CampaignPlan) -> StrategyCounts:
    """Count the strategy rounds, proposals and LLM wins of a plan."""
    records = [s.strategy for s in plan.segments if s.strategy is not None]
    ratios = []
    for record in records:
        win = record.chosen()
        rules = next((p for p in record.proposals if p.source == "rules"), None)
        if win is not None and rules is not None and rules.predicted > 0:
            ratios.append(win.predicted / rules.predicted)
    return StrategyCounts(
        segments=len(records), rounds=max((r.rounds for r in records), default=0),
        proposals=sum(p.source == "llm" for r in records for p in r.proposals),
        llm_wins=sum((r.chosen() is not None and r.chosen().source == "llm") for r in records),  # type: ignore[union-attr]
        winner_vs_rules=round(sum(ratios) / len(ratios), 4) if ratios else None)
