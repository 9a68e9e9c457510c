"""Readable Markdown summary of a campaign plan, with the trace of every step."""

from __future__ import annotations

import json
from pathlib import Path

from agent.plan import CampaignPlan
from tools.copywriting import format_price, offer_discount_text
from tools.shop import Offer


def _interval(point: float, low: float, high: float, digits: int = 3) -> str:
    return f"{point:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def _cell(value: object, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _offer(offer: Offer, currency: str | None) -> str:
    """Describe an offer in one line, e.g. "XMAS10, 10% off, until 2011-12-24"."""
    off = offer_discount_text(offer, currency, "en")
    window = "".join([f", from {offer.valid_from}" if offer.valid_from else "",
                      f", until {offer.valid_to}" if offer.valid_to else ""])
    scope = ", ".join([*offer.categories, *offer.product_ids]) or "every product"
    return f"{offer.code}, {off}{window}, on {scope}"


def render_markdown(plan: CampaignPlan) -> str:
    """Render ``plan`` as Markdown for a marketer: audience, segments, copy, revisions, launch, trace."""
    b = plan.brief
    out = [f"# Campaign plan: {b.name}", "",
           f"Plan `{plan.plan_id}`, created {plan.created_at:%Y-%m-%d %H:%M} UTC with model `{plan.llm_model}`.", "",
           f"**Goal:** {b.goal}  ", f"**Audience:** {b.audience}  ",
           f"**Channels:** {', '.join(b.channels)} · **Language:** {b.language} · **Send budget:** {b.send_budget:,}  ",
           f"**Shop:** {plan.shop}" + (f" (prices in {plan.currency})" if plan.currency else " (no prices)")
           + (f" · **Offer:** {_offer(b.offer, plan.currency)}" if b.offer else ""),
           ""]
    if plan.warnings:
        out += ["## Warnings", "", *[f"- {w.message}" for w in plan.warnings], ""]
    a = plan.audience
    out += ["## Audience", "", f"{a.size} customers matched the query “{a.query}”.",
            f"Filter applied: `{_cell(a.where or {}, 400)}`. {a.message}".rstrip(), ""]
    first = plan.variants[0] if plan.variants else None
    metric = (first.predicted or first.effect).metric if first else ""
    if plan.segments:
        out += ["## Segments", "",
                "| id | name | size | candidate products (recommender score; predicted rate [90% interval]) |",
                "|---|---|---|---|"]
        for s in plan.segments:
            effects = {e.product_id: e for e in s.product_effects}
            cands = "; ".join(
                f"{p.title} ({p.score:.2f}; {_interval(e.point, e.low, e.high)})"
                for p in s.products if (e := effects.get(p.product_id)) is not None)
            out.append(f"| {s.segment_id} | {_cell(s.name)} | {s.size} | {_cell(cands, 600)} |")
        out.append("")
    active = plan.active_variants()
    if active:
        out += ["## Copy variants", "", f"Predicted metric: {metric}.", ""]
        if first is not None and first.predicted is not None:
            out += [f"How: {first.predicted.combination}.", ""]
        for v in active:
            est = v.predicted or v.effect
            parts = (f" (base rate {v.predicted.p_like:.3f} × headline index {v.predicted.headline_index:.2f})"
                     if v.predicted else "")
            price = f" · {format_price(v.product_price, plan.currency)}" if v.product_price is not None else ""
            if v.offer_code and v.price_after_offer is not None:
                price += f" ({v.offer_code}: {format_price(v.price_after_offer, plan.currency)})"
            out += [f"### {v.variant_id} · {v.segment_id} · {v.channel} · {v.product_title}{price}",
                    f"*Predicted:* {_interval(est.point, est.low, est.high)}{parts} · *source:* {v.source}"
                    f"{' (LLM drafts rejected: ' + str(len(v.llm_errors)) + ')' if v.llm_errors else ''}", "",
                    f"> **{v.headline}**  ", f"> {v.body}  ", f"> *{v.cta}*"]
            if v.disclaimer:
                out.append(f"> <small>{v.disclaimer}</small>")
            out += ["", "Why: " + "; ".join(est.factors), ""]
            if v.predicted is not None and v.predicted.evidence:
                out += ["Evidence (observed in Upworthy A/B tests): " + "; ".join(v.predicted.evidence), ""]
    if plan.revisions:
        out += ["## Revisions against predicted effect", "", "| round | segment | channel | action | reason |",
                "|---|---|---|---|---|"]
        out += [f"| {r.round} | {r.segment_id} | {r.channel} | {r.action}"
                f"{' ' + str(r.removed_variant) + '→' + str(r.added_variant) if r.action == 'replace' else ''} | "
                f"{_cell(r.reason, 300)} |" for r in plan.revisions]
        out.append("")
    if plan.launch:
        lt = plan.launch
        out += ["## Launch design", "", f"Planned sends: {lt.planned_sends:,} of a budget of {lt.send_budget:,}; "
                f"holdout {lt.holdout_customers} of {lt.reachable_customers} customers.", "",
                *[f"- {n}" for n in lt.notes], "",
                "| segment | channel | variant | sends | predicted positives [90%] |",
                "|---|---|---|---|---|"]
        out += [f"| {x.segment_id} | {x.channel} | {x.variant_id} | {x.sends:,} | "
                f"{_interval(x.expected_positive, x.expected_low, x.expected_high, digits=1)} |"
                for x in lt.allocations]
        out.append("")
    if plan.effect_model_card:
        out += ["## Effect model", "", "```json", json.dumps(plan.effect_model_card, indent=2, default=str)[:3000],
                "```", ""]
    if plan.totals:
        t = plan.totals
        out += ["## Cost", "", f"Wall time {t.wall_time_s:.1f} s (LLM steps {t.llm_time_s:.1f} s, everything else "
                f"{t.other_time_s:.1f} s); {t.llm_calls} LLM calls, {t.prompt_tokens + t.completion_tokens:,} tokens; "
                f"copy from LLM {t.copy_from_llm}, from the fact template {t.copy_from_template}.", ""]
    out += ["## Trace", "", "| # | step | tool | time (s) | LLM calls | inputs | outputs |",
            "|---|---|---|---|---|---|---|"]
    out += [f"| {s.index} | {s.step} | {_cell(s.tool)} | {s.duration_s:.2f} | {s.llm_calls} | {_cell(s.inputs)} | "
            f"{_cell(s.outputs, 300)}{' ' + _cell('; '.join(s.notes)) if s.notes else ''} |" for s in plan.trace]
    out.append("\nThe full inputs and outputs of every step are in plan.json under `trace`.")
    return "\n".join(out) + "\n"


def write_plan(plan: CampaignPlan, out_dir: Path) -> tuple[Path, Path]:
    """Write ``plan.json`` and ``plan.md`` into ``out_dir`` (created if needed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "plan.json", out_dir / "plan.md"
    json_path.write_text(plan.model_dump_json(indent=2), encoding="utf-8")
    md_path.write_text(render_markdown(plan), encoding="utf-8")
    return json_path, md_path
