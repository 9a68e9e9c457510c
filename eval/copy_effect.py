"""LLM copy against the fact template on the copy-effect model, and how often rewrites were kept.

For every active message the LLM wrote whose headline the copy-effect model rates (English: the Upworthy headline
model; Chinese headlines are held at a neutral 1.0 and left out), the deterministic fact template is built for
the same segment, channel and product (:meth:`tools.copywriting.CopyTool.fallback`, no LLM) and both headlines are
rated by the plan's scorer (``PlannerTools.predict_effect``). The comparison is model output (derived), not an
observed click-through: it says how much better the model predicts the LLM's headlines than the template's.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from agent.brief import Brief
from agent.loop import PlannerTools
from agent.plan import CampaignPlan, CopyVariant
from agent.strategy import copy_request
from tools.copywriting import CopyRequest, CopyTool, CopyUnavailableError


class CopyEffectComparison(BaseModel):
    """One plan's LLM messages against the template for the same cells (predicted headline indices, derived)."""

    cells: int = Field(description="Active LLM messages with a rated headline and a template for the same cell.")
    llm_index_sum: float = Field(description="Sum of the LLM headlines' predicted click-through index.")
    template_index_sum: float = Field(description="Sum of the template headlines' index for the same cells.")

    @property
    def ratio(self) -> float | None:
        """Mean index of the LLM's headlines over the template's (None: no cell)."""
        return self.llm_index_sum / self.template_index_sum if self.cells and self.template_index_sum else None


class RewriteCounts(BaseModel):
    """One plan's rewrites: attempted (kept or rejected) and kept."""

    attempted: int
    accepted: int


def rated(variant: CopyVariant) -> bool:
    """Tell whether the copy-effect model rated the variant's headline (an unrated one has a point interval)."""
    p = variant.predicted
    return p is not None and p.headline_index_low != p.headline_index_high


def template_request(plan: CampaignPlan, brief: Brief, tools: PlannerTools, variant: CopyVariant) -> CopyRequest | None:
    """Rebuild the copy request of the cell of ``variant`` as the loop made it (None: product not a candidate).

    The strategy's angle and offer included (:func:`agent.strategy.copy_request`), so the template states what the
    LLM copy could state.
    """
    seg = next(s for s in plan.segments if s.segment_id == variant.segment_id)
    product = next((p for p in seg.products if p.product_id == variant.product_id), None)
    if product is None:
        return None
    return copy_request(brief, tools.shop, seg, product, variant.channel)


def compare_with_template(plan: CampaignPlan, tools: PlannerTools, copy: CopyTool) -> CopyEffectComparison:
    """Rate each active LLM message's headline and the fact template's for the same cell with the plan's scorer.

    Args:
        plan: The plan (its brief, segments and active variants).
        tools: The plan's shop tools (catalog and ``predict_effect``).
        copy: The copy tool of the configuration (its prompt folder's template).

    Returns:
        The sums over the cells; :attr:`CopyEffectComparison.ratio` is the mean index of LLM over template copy.
    """
    pairs: list[tuple[CopyVariant, CopyVariant]] = []
    for variant in plan.active_variants():
        if variant.source != "llm" or not rated(variant):
            continue
        request = template_request(plan, plan.brief, tools, variant)
        if request is None:
            continue
        try:
            template = copy.fallback(request)
        except CopyUnavailableError:
            continue
        pairs.append((variant, variant.model_copy(update={"headline": template.headline, "predicted": None})))
    if not pairs:
        return CopyEffectComparison(cells=0, llm_index_sum=0.0, template_index_sum=0.0)
    templates = tools.predict_effect([t for _, t in pairs])
    return CopyEffectComparison(
        cells=len(pairs), llm_index_sum=sum(v.predicted.headline_index for v, _ in pairs if v.predicted),
        template_index_sum=sum(e.headline_index for e in templates),
    )


def rewrite_counts(plan: CampaignPlan) -> RewriteCounts:
    """Count the plan's rewrites: attempted ('rewrite' kept or 'reject-rewrite') and kept."""
    actions = [r.action for r in plan.revisions]
    return RewriteCounts(attempted=sum(a in ("rewrite", "reject-rewrite") for a in actions),
                         accepted=actions.count("rewrite"))
