"""Embedding scorers: personalisation (copy fits its segment) and diversity (variants differ).

Texts are embedded with the packaged MiniLM (:func:`tools.embedding.encode`); vectors are L2-normalised,
so a dot product is a cosine. MiniLM is an English model: on Chinese copy the similarities are weak and
the evidence says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import combinations

import numpy as np

from agent.plan import CampaignPlan, Segment
from eval.scoring import ScoreResult, message_text, not_applicable
from eval.suite import DiversityThreshold, LiftThreshold

Embed = Callable[[Sequence[str]], np.ndarray]
ZH_NOTE = "copy is Chinese and MiniLM is an English model: similarities are weak"


def segment_text(segment: Segment) -> str:
    """Return the segment's portrait in words: its name and description."""
    return f"{segment.name}. {segment.description}."


def score_personalisation(plan: CampaignPlan, embed: Embed, reference: Sequence[str],
                          threshold: LiftThreshold) -> ScoreResult:
    """Score how much closer each message is to its own segment than to other segments (shuffled baseline).

    For every active variant, the cosine to its own segment's text is compared with the mean cosine to the
    other segments' texts: the plan's other segments and ``reference`` (segment texts of the other plans
    of the run), as if the variant had been assigned to a segment at random.

    Args:
        plan: The plan.
        embed: Text embedder returning L2-normalised rows.
        reference: Segment texts from other plans, for plans with one segment.
        threshold: Least mean lift (cosine) that passes.
    """
    unit = "cosine lift over shuffled segments"
    active = plan.active_variants()
    if not active:
        return not_applicable("personalisation", unit, "the plan has no messages")
    own = {s.segment_id: segment_text(s) for s in plan.segments}
    pool = list(dict.fromkeys([*own.values(), *reference]))
    if len(pool) < 2:
        return not_applicable("personalisation", unit, "no other segment to compare with")
    vectors = embed([message_text(v) for v in active])
    seg_vectors = embed(pool)
    index = {text: i for i, text in enumerate(pool)}
    sims = vectors @ seg_vectors.T
    matched, shuffled = [], []
    for row, v in enumerate(active):
        mine = index[own[v.segment_id]]
        matched.append(float(sims[row, mine]))
        shuffled.append(float(np.delete(sims[row], mine).mean()))
    lift = float(np.mean(matched) - np.mean(shuffled))
    closer = sum(m > s for m, s in zip(matched, shuffled, strict=True))
    evidence = [f"mean cosine to own segment {np.mean(matched):.3f} vs {np.mean(shuffled):.3f} to "
                f"{len(pool) - 1} other segment(s): lift {lift:+.3f}",
                f"{closer}/{len(active)} messages are closer to their own segment than to the others on average"]
    if plan.brief.language == "zh":
        evidence.append(ZH_NOTE)
    return ScoreResult(
        scorer="personalisation", status="pass" if lift > threshold.min_lift else "fail", score=round(lift, 4),
        unit=unit, threshold=f"> {threshold.min_lift:+.3f}", evidence=evidence,
        details={"matched": round(float(np.mean(matched)), 4), "shuffled": round(float(np.mean(shuffled)), 4),
                 "closer": closer, "messages": len(active), "reference_segments": len(pool) - 1},
    )


def score_diversity(plan: CampaignPlan, embed: Embed, threshold: DiversityThreshold) -> ScoreResult:
    """Score how different the variants competing on a channel are: 1 − mean pairwise cosine of their texts.

    Pairs are active variants on the same channel (other segments' and the same cell's); messages for one
    product on different channels are expected to be alike and are not compared. Also checks product
    coverage: per channel, distinct products ÷ active variants (1.0 when no two variants share a product).
    The disclaimer is left out, as every message repeats it.
    """
    unit = "1 − mean pairwise cosine of texts on a channel"
    active = plan.active_variants()
    pairs = [(i, j) for i, j in combinations(range(len(active)), 2) if active[i].channel == active[j].channel]
    if not pairs:
        return not_applicable("diversity", unit, f"{len(active)} message(s), no two on the same channel")
    vectors = embed([message_text(v) for v in active])
    mean_cos = float(np.mean([vectors[i] @ vectors[j] for i, j in pairs]))
    text_div = 1.0 - mean_cos
    coverage = []
    for channel in plan.brief.channels:
        cell = [v.product_id for v in active if v.channel == channel]
        if len(cell) > 1:
            coverage.append(len(set(cell)) / len(cell))
    product_cov = float(np.mean(coverage))
    ok_text, ok_products = text_div >= threshold.min_text_diversity, product_cov >= threshold.min_product_coverage
    evidence = [
        f"{'' if ok_text else 'FAILED: '}text diversity {text_div:.3f} (mean pairwise cosine {mean_cos:.3f} "
        f"over {len(pairs)} same-channel pairs; need ≥ {threshold.min_text_diversity:.2f})",
        f"{'' if ok_products else 'FAILED: '}product coverage {product_cov:.2f}: "
        f"{len({v.product_id for v in active})} distinct products in {len(active)} messages "
        f"(need ≥ {threshold.min_product_coverage:.2f} per channel)",
    ]
    return ScoreResult(
        scorer="diversity", status="pass" if ok_text and ok_products else "fail", score=round(text_div, 4),
        unit=unit, threshold=f"≥ {threshold.min_text_diversity:.2f}; coverage ≥ {threshold.min_product_coverage:.2f}",
        evidence=evidence, details={"mean_pairwise_cosine": round(mean_cos, 4), "product_coverage": product_cov,
                                    "pairs": len(pairs), "messages": len(active)},
    )
