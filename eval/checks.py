"""Rule scorers: outcome (refused / empty / planned / crashed as expected), schema, constraints and cost."""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

from pydantic import ValidationError

from agent.plan import CampaignPlan
from eval.scoring import ScoreResult, checks_result, message_text, not_applicable, variant_label
from eval.suite import CostThreshold, Expectation, ScoreThreshold, one_line
from tools.copywriting import CHANNEL_LIMITS, CJK

Outcome = Literal["plan", "empty", "refused", "crashed"]


def score_outcome(expect: Expectation, outcome: Outcome, message: str, warnings: list[str]) -> ScoreResult:
    """Check that the case ended as expected, with a clear message when it was refused or warned.

    Args:
        expect: What the suite expects: plan, empty, refusal or refusal_or_warning.
        outcome: What happened: a plan, an empty plan, a refused brief, or a crash.
        message: The refusal or crash message ("" for plans).
        warnings: The plan's warnings.
    """
    said = message or "; ".join(warnings)
    if outcome == "crashed":
        ok, why = False, f"the agent crashed instead of refusing or warning: {message}"
    elif expect == "plan":
        ok, why = outcome == "plan", f"expected a plan, got {outcome}" + (f": {said}" if said else "")
    elif expect == "empty":
        ok = outcome == "empty" and bool(warnings)
        why = f"expected an empty plan with a warning, got {outcome}" + (f": {said}" if said else "")
    elif expect == "refusal":
        ok, why = outcome == "refused" and bool(message), f"expected a refusal, got {outcome}"
    else:
        ok = outcome == "refused" or bool(warnings)
        why = f"expected a refusal or a warning, got {outcome} with {len(warnings)} warning(s)"
    evidence = [f"{'as expected: ' if ok else 'FAILED: '}{why if not ok else outcome}"]
    if ok and said:
        evidence.append(f"message: {said}")
    return ScoreResult(scorer="outcome", status="pass" if ok else "fail", score=float(ok), unit="1 = as expected",
                       threshold=f"expect {expect}", evidence=evidence,
                       details={"expect": expect, "outcome": outcome, "message": message})


def score_schema(raw: str | dict[str, Any]) -> tuple[ScoreResult, CampaignPlan | None]:
    """Re-validate a plan (its JSON text or mapping) as a CampaignPlan and check its internal references.

    Returns:
        The verdict, and the validated plan (None when it does not validate).
    """
    try:
        plan = (CampaignPlan.model_validate_json(raw) if isinstance(raw, str)
                else CampaignPlan.model_validate(raw))
    except ValidationError as exc:
        result = checks_result("schema", [(f"re-validates as CampaignPlan ({one_line(exc)})", False)], 1.0)
        return result, None
    segments = {s.segment_id: s for s in plan.segments}
    variants = {v.variant_id: v for v in plan.variants}
    lost = [v.variant_id for v in plan.variants if v.segment_id not in segments]
    foreign = [v.variant_id for v in plan.variants if v.segment_id in segments
               and v.product_id not in {p.product_id for p in segments[v.segment_id].products}]
    mismatched = []
    for v in plan.variants:
        if v.segment_id in segments:
            estimate = {e.product_id: e for e in segments[v.segment_id].product_effects}.get(v.product_id)
            if estimate is None or estimate.point != v.effect.point:
                mismatched.append(v.variant_id)
    bad_alloc = [a.variant_id for a in (plan.launch.allocations if plan.launch else [])
                 if a.variant_id not in variants or not variants[a.variant_id].active
                 or (variants[a.variant_id].segment_id, variants[a.variant_id].channel) != (a.segment_id, a.channel)]
    bad_rev = [f"round {r.round}" for r in plan.revisions
               if any(x is not None and x not in variants for x in (r.removed_variant, r.added_variant))]
    dup = [k for k, n in Counter(v.variant_id for v in plan.variants).items() if n > 1]
    consistent = (bool(plan.segments and plan.variants and plan.launch) if plan.status == "ok"
                  else not plan.segments and bool(plan.warnings))
    t = plan.totals
    checks = [
        ("re-validates as CampaignPlan", True),
        (f"variant ids are unique (repeated: {dup})", not dup),
        (f"every variant belongs to a segment of the plan (orphans: {lost})", not lost),
        (f"every variant promotes one of its segment's candidates (others: {foreign})", not foreign),
        (f"every variant's effect is its segment's estimate for the product (differs: {mismatched})", not mismatched),
        (f"launch allocations point at active variants of their cell (bad: {bad_alloc})", not bad_alloc),
        (f"revisions name existing variants (bad: {bad_rev})", not bad_rev),
        (f"status {plan.status!r} agrees with segments, variants, launch and warnings", consistent),
        ("run totals are present", t is not None),
        ("totals count every variant as llm or template copy",
         t is not None and t.copy_from_llm + t.copy_from_template == len(plan.variants)),
        # Steps that write no variant call the LLM too (strategy proposals, rewrites no candidate passed).
        ("totals' LLM calls equal the trace steps' and cover the variants' LLM attempts",
         t is not None and t.llm_calls == sum(s.llm_calls for s in plan.trace)
         and t.llm_calls >= sum(v.llm_attempts for v in plan.variants)),
    ]
    return checks_result("schema", checks, 1.0), plan


def score_constraints(plan: CampaignPlan, banned: list[str], threshold: ScoreThreshold) -> ScoreResult:
    """Check the plan against the brief: budget, channels, language, length limits, disclaimer, banned phrases.

    Every active variant is checked against each rule; plan-level rules are checked once.
    """
    brief, active = plan.brief, plan.active_variants()
    if not active and plan.launch is None:
        return not_applicable("constraints", "share of checks passed", "no messages and no launch to check")
    checks: list[tuple[str, bool]] = []
    for v in active:
        label, limits = variant_label(v), CHANNEL_LIMITS[v.channel]
        words = message_text(v)
        checks.append((f"{label}: channel {v.channel} is one of the brief's {brief.channels}",
                       v.channel in brief.channels))
        script_ok = bool(CJK.search(words)) if brief.language == "zh" else not CJK.search(words)
        checks.append((f"{label}: written in {brief.language} (language field {v.language})",
                       script_ok and v.language == brief.language))
        for part in ("headline", "body", "cta"):
            size, most = len(getattr(v, part)), getattr(limits, part)
            checks.append((f"{label}: {part} is {size} characters, {v.channel} allows {most}", size <= most))
        total = len(v.headline) + len(v.body) + len(v.cta) + len(v.disclaimer or "")
        checks.append((f"{label}: whole message is {total} characters with the disclaimer, "
                       f"{v.channel} allows {limits.total}", total <= limits.total))
        if brief.disclaimer:
            carried = v.disclaimer is not None and brief.disclaimer.strip() in v.disclaimer
            checks.append((f"{label}: carries the required disclaimer", carried))
        for phrase in banned:
            checks.append((f"{label}: uses the banned phrase {phrase!r}", phrase.casefold() not in words.casefold()))
    if len(plan.segments) > brief.max_segments:
        checks.append((f"{len(plan.segments)} segments, the brief allows {brief.max_segments}", False))
    for seg in plan.segments:
        for channel in brief.channels:
            n = sum(v.segment_id == seg.segment_id and v.channel == channel for v in active)
            checks.append((f"{seg.segment_id}/{channel}: {n} active variants, the brief asks for "
                           f"{brief.variants_per_channel}", n == brief.variants_per_channel))
    if plan.launch is not None:
        lt = plan.launch
        allocated = sum(a.sends for a in lt.allocations)
        checks += [
            (f"planned sends {lt.planned_sends:,} within the send budget {brief.send_budget:,}",
             lt.planned_sends <= brief.send_budget),
            (f"planned sends {lt.planned_sends:,} equal the allocated sends {allocated:,}",
             lt.planned_sends == allocated),
            (f"the launch sends at least one message (planned {lt.planned_sends})", lt.planned_sends > 0),
            ("allocations use only the brief's channels", all(a.channel in brief.channels for a in lt.allocations)),
            (f"holdout fraction {lt.holdout_fraction} is the brief's {brief.holdout_fraction}",
             lt.holdout_fraction == brief.holdout_fraction),
        ]
    return checks_result("constraints", checks, threshold.min_score,
                         {"variants": len(active), "banned_phrases": banned})


def score_cost(plan: CampaignPlan, threshold: CostThreshold) -> ScoreResult:
    """Report wall time, LLM calls and tokens of the run; fail when one exceeds its bound."""
    t = plan.totals
    if t is None:
        return not_applicable("cost", "seconds of wall time", "the plan has no run totals")
    tokens = t.prompt_tokens + t.completion_tokens
    bounds = [("wall time", t.wall_time_s, threshold.max_wall_time_s, "s"),
              ("LLM calls", t.llm_calls, threshold.max_llm_calls, ""),
              ("tokens", tokens, threshold.max_tokens, "")]
    over = [f"FAILED: {name} {value:,}{unit} above the bound {most:,}{unit}"
            for name, value, most, unit in bounds if most is not None and value > most]
    set_bounds = [f"{name} ≤ {most:,}{unit}" for name, _, most, unit in bounds if most is not None]
    evidence = [*over,
                f"wall time {t.wall_time_s:.1f} s (LLM steps {t.llm_time_s:.1f} s, other {t.other_time_s:.1f} s)",
                f"{t.llm_calls} LLM calls, {t.prompt_tokens:,} prompt + {t.completion_tokens:,} completion tokens",
                f"copy from the LLM: {t.copy_from_llm}, from the fact template: {t.copy_from_template}"]
    return ScoreResult(
        scorer="cost", status="fail" if over else "pass", score=t.wall_time_s, unit="seconds of wall time",
        threshold=", ".join(set_bounds) or "no bound set", evidence=evidence,
        details={"wall_time_s": t.wall_time_s, "llm_time_s": t.llm_time_s, "llm_calls": t.llm_calls,
                 "tokens": tokens, "copy_from_llm": t.copy_from_llm, "copy_from_template": t.copy_from_template},
    )
