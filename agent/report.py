"""Readable Markdown summary of a campaign plan, with the trace of every step."""

from __future__ import annotations

import json
from pathlib import Path

from agent.plan import CampaignPlan, CampaignValue
from tools.copywriting import format_price, offer_discount_text
from tools.effect import Amount, SendValue
from tools.shop import Offer


def _interval(point: float, low: float, high: float, digits: int = 3) -> str:
    return f"{point:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def _money(amount: Amount, currency: str | None) -> str:
    """Write an amount of money with its interval, e.g. "£12.40 [£8.10, £16.90]"."""
    return f"{format_price(amount.point, currency)} [{format_price(amount.low, currency)}, " \
           f"{format_price(amount.high, currency)}]"


def _estimate(point: float, low: float, high: float, money: bool, currency: str | None) -> str:
    """Write a per-send estimate: money when the shop's effect tool predicts revenue, else a rate."""
    return _money(Amount(point=point, low=low, high=high), currency) if money else _interval(point, low, high)


def _orders(amount: Amount) -> str:
    return f"{amount.point:,.1f} [{amount.low:,.1f}, {amount.high:,.1f}]"


def _value_lines(value: SendValue | CampaignValue, currency: str | None, customers: str) -> list[str]:
    """Expected orders and revenue with the send, beside the organic baseline and the difference."""
    return [
        "| | orders [90%] | revenue [90%] |", "|---|---|---|",
        f"| organic baseline (no send), {customers} | {_orders(value.organic_orders)} | "
        f"{_money(value.organic_revenue, currency)} |",
        f"| with the send | {_orders(value.with_send_orders)} | {_money(value.with_send_revenue, currency)} |",
        f"| incremental | {_orders(value.incremental_orders)} | {_money(value.incremental_revenue, currency)} |",
    ]


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


def _strategy_lines(plan: CampaignPlan) -> list[str]:
    """The strategy step: each segment's proposals, their predictions and why the winner won."""
    records = [(s.segment_id, s.strategy) for s in plan.segments if s.strategy is not None]
    if not records:
        return []
    out = ["## Strategy", "", "Each segment's proposals (R: the rules' best predicted products; A, B, …: the LLM's, "
           "round by round with the earlier predictions as feedback), predicted per send as the mean of the featured "
           "products' estimates × the headline index of the angle.", "",
           "| segment | proposal | angle | products | offer | predicted | won |", "|---|---|---|---|---|---|---|"]
    for segment_id, record in records:
        for p in record.proposals:
            out.append(f"| {segment_id} | {p.label} (round {p.round}, {p.source}) | {_cell(p.angle)} | "
                       f"{_cell(', '.join(p.product_titles), 300)} | {p.offer or 'none'} | {p.predicted:.4g} | "
                       f"{'yes' if p.label == record.winner else ''} |")
    out.append("")
    for segment_id, record in records:
        intent = f" Intent: {', '.join(record.intent)}." if record.intent else ""
        note = f" {record.intent_note}." if record.intent_note else ""
        out.append(f"- {segment_id}: {record.rounds} LLM round(s).{intent} Why: {record.reason}.{note}")
    out.append("")
    return out


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
    if plan.assumptions:
        out += ["## Assumptions", "", *[f"- {a}" for a in plan.assumptions], ""]
    if plan.launch and plan.launch.value:
        total = plan.launch.value
        out += ["## Expected value (next 30 days)", "",
                *_value_lines(total, plan.currency, f"{total.sends:,} sent customers"), "",
                f"Uplift prior: {total.lift_source}. The bounds of each total are sums of the variants' bounds "
                "(conservative).", ""]
    a = plan.audience
    out += ["## Audience", "", f"{a.size} customers matched the query “{a.query}”.",
            f"Filter applied: `{_cell(a.where or {}, 400)}`. {a.message}".rstrip(), ""]
    first = plan.variants[0] if plan.variants else None
    metric = (first.predicted or first.effect).metric if first else ""
    money = first is not None and first.effect.unit == "currency"
    if plan.segments:
        out += ["## Segments", "",
                "| id | name | size | candidate products (recommender score; predicted per send [90% interval]) |",
                "|---|---|---|---|"]
        for s in plan.segments:
            effects = {e.product_id: e for e in s.product_effects}
            cands = "; ".join(
                f"{p.title} ({p.score:.2f}; {_estimate(e.point, e.low, e.high, e.unit == 'currency', plan.currency)})"
                for p in s.products if (e := effects.get(p.product_id)) is not None)
            out.append(f"| {s.segment_id} | {_cell(s.name)} | {s.size} | {_cell(cands, 600)} |")
        out.append("")
        out += _strategy_lines(plan)
    active = plan.active_variants()
    if active:
        out += ["## Copy variants", "", f"Predicted metric: {metric}.", ""]
        if first is not None and first.predicted is not None:
            out += [f"How: {first.predicted.combination}.", ""]
        for v in active:
            est = v.predicted or v.effect
            base = format_price(v.predicted.p_like, plan.currency) if money and v.predicted else \
                f"{v.predicted.p_like:.3f}" if v.predicted else ""
            parts = (f" (base {base} × headline index {v.predicted.headline_index:.2f})" if v.predicted else "")
            price = f" · {format_price(v.product_price, plan.currency)}" if v.product_price is not None else ""
            if v.offer_code and v.price_after_offer is not None:
                price += f" ({v.offer_code}: {format_price(v.price_after_offer, plan.currency)})"
            out += [f"### {v.variant_id} · {v.segment_id} · {v.channel} · {v.product_title}{price}",
                    f"*Predicted{' incremental revenue per send' if money else ''}:* "
                    f"{_estimate(est.point, est.low, est.high, money, plan.currency)}{parts} · *source:* {v.source}"
                    f"{' (LLM drafts rejected: ' + str(len(v.llm_errors)) + ')' if v.llm_errors else ''}", "",
                    f"> **{v.headline}**  ", f"> {v.body}  ", f"> *{v.cta}*"]
            if v.disclaimer:
                out.append(f"> <small>{v.disclaimer}</small>")
            if (value := v.value()) is not None:
                out += ["", *_value_lines(value, plan.currency, f"all {value.customers:,} customers of the segment")]
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
                "| segment | channel | variant | sends | "
                + ("incremental revenue [90%] | orders with send (organic) |" if money else
                   "predicted positives [90%] |"),
                "|---|---|---|---|---|" + ("---|" if money else "")]
        out += [f"| {x.segment_id} | {x.channel} | {x.variant_id} | {x.sends:,} | "
                + (f"{_estimate(x.expected_positive, x.expected_low, x.expected_high, True, plan.currency)} | "
                   f"{x.value.with_send_orders.point:,.1f} ({x.value.organic_orders.point:,.1f}) |"
                   if money and x.value else
                   f"{_interval(x.expected_positive, x.expected_low, x.expected_high, digits=1)} |")
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
