"""The eval report: one self-contained HTML file (inline CSS, plots as base64 PNG) for marketers and engineers."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime

from eval import plots
from eval.compare import Comparison
from eval.results import CaseResult, RunResult
from eval.suite import SCORERS

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222;line-height:1.4}
table{border-collapse:collapse;margin:.6em 0 1.4em}td,th{border:1px solid #ccc;padding:.25em .5em;vertical-align:top}
th{background:#f3f3f3}.pass{background:#dff0d8}.fail{background:#f2dede}.na{background:#eee;color:#777}
.banner{padding:.6em 1em;margin:.8em 0;border-radius:4px;font-weight:600}
.stand-in{background:#fcf8e3;border:2px solid #e0a800}.model{background:#d9edf7;border:1px solid #31708f}
.gate-fail{color:#a94442;font-weight:600}img{max-width:100%}small{color:#666}details{margin:.2em 0}
blockquote{margin:.3em 0 .3em 1em;padding-left:.6em;border-left:3px solid #ccc}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _banner(run: RunResult) -> str:
    if run.is_model:
        return (f'<div class="banner model">Model results — {_e(run.label)} '
                f"(model <code>{_e(run.model_name)}</code>)</div>")
    return (f'<div class="banner stand-in">SCRIPTED STAND-IN — NOT A MODEL RESULT. {_e(run.label)}. '
            "These numbers test the harness and the loop's rules, not the quality of any language model.</div>")


def _summary(run: RunResult) -> str:
    s, c = run.summary, run.config
    gates = "".join(
        f'<li class="{"" if g.passed else "gate-fail"}">{_e(g.name)}: need ≥ {g.required:.0%}, got '
        f'{_pct(g.actual)} — {"pass" if g.passed else "FAIL"}{" (" + _e(g.note) + ")" if g.note else ""}</li>'
        for g in run.gates) or "<li>no gates set</li>"
    rows = [
        ("cases passing every scorer", f"{s.passed_all}/{s.cases} ({_pct(s.pass_all_rate)})"),
        ("outcomes", ", ".join(f"{k}: {v}" for k, v in sorted(s.outcomes.items()))),
        ("median plan time", "-" if s.median_plan_time_s is None else f"{s.median_plan_time_s:.1f} s"),
        ("total plan time / run time", f"{s.total_plan_time_s:.1f} s / {run.duration_s:.1f} s"),
        ("LLM calls, tokens", f"{s.llm_calls:,} calls, {s.tokens:,} tokens"),
        ("copy from LLM / fact template", f"{s.copy_from_llm} / {s.copy_from_template}"),
        ("prompts", f"version {_e(c.prompt_version)}, fingerprint <code>{_e(run.prompt_fingerprint)}</code>"),
        ("settings", _e(f"retries {c.retries}, temperature {c.temperature}, concurrency {c.concurrency}, "
                        f"seed {c.seed}, brief overrides {c.brief_overrides.model_dump(exclude_none=True) or 'none'}")),
    ]
    table = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    scorers = "".join(
        f"<tr><td>{_e(x.scorer)}</td><td>{x.applicable}</td><td>{x.passed}</td><td>{_pct(x.pass_rate)}</td>"
        f"<td>{'-' if x.mean is None else f'{x.mean.mean:.3f} [{x.mean.low:.3f}, {x.mean.high:.3f}]'}</td>"
        f"<td>{_num(x.median)}</td><td><small>{_e(x.unit)}</small></td></tr>" for x in s.scorers)
    return (f"<h2>{_e(c.name)}</h2>{_banner(run)}<table>{table}</table><h3>Gates</h3><ul>{gates}</ul>"
            "<h3>Scorers</h3><table><tr><th>scorer</th><th>applicable</th><th>passed</th><th>pass rate</th>"
            "<th>mean [95% bootstrap]</th><th>median</th><th>score unit</th></tr>" + scorers + "</table>")


def _messages(case: CaseResult) -> str:
    if not case.messages:
        return ""
    items = "".join(
        f"<blockquote><small>{_e(m['variant'])} · {_e(m['segment'])} · {_e(m['channel'])} · {_e(m['product'])} · "
        f"source {_e(m['source'])}</small><br><b>{_e(m['headline'])}</b><br>{_e(m['body'])}<br><i>{_e(m['cta'])}</i>"
        + (f"<br><small>{_e(m['disclaimer'])}</small>" if m.get("disclaimer") else "") + "</blockquote>"
        for m in case.messages)
    return f"<details><summary>messages ({len(case.messages)})</summary>{items}</details>"


def _cases(run: RunResult) -> str:
    head = "".join(f"<th>{_e(n)}</th>" for n in SCORERS)
    rows = []
    for case in run.cases:
        cells = []
        for name in SCORERS:
            score = case.score(name)
            css = {"pass": "pass", "fail": "fail", "n/a": "na"}[score.status]
            value = "" if score.score is None else f"<br><small>{score.score:.3g}</small>"
            cells.append(f'<td class="{css}" title="{_e(score.unit)}; threshold {_e(score.threshold)}">'
                         f"{score.status}{value}</td>")
        evidence = "".join(
            f"<li><b>{_e(s.scorer)}</b> ({_e(s.status)}, {_e(s.threshold)}): " + "; ".join(_e(x) for x in s.evidence)
            + "</li>" for s in case.scores if s.status != "n/a" or s.scorer == "outcome")
        time = "-" if case.plan_time_s is None else f"{case.plan_time_s:.1f} s"
        rows.append(
            f'<tr><td><b>{_e(case.case_id)}</b><br><small>{_e(case.description)}</small></td>'
            f'<td>{_e(case.expect)} → {_e(case.outcome)}<br><small>{time}</small></td>{"".join(cells)}</tr>'
            f'<tr><td colspan="{len(SCORERS) + 2}"><details><summary>evidence</summary><ul>{evidence}</ul>'
            f"</details>{_messages(case)}</td></tr>")
    return (f"<h3>Cases — {_e(run.config.name)}</h3><table><tr><th>case</th><th>expect → outcome</th>{head}</tr>"
            + "".join(rows) + "</table>")


def _comparison(comparison: Comparison) -> str:
    rows = "".join(
        f"<tr><td>{_e(d.measure)}</td><td>{_num(d.mean_a)}</td><td>{_num(d.mean_b)}</td>"
        f"<td>{'-' if d.difference is None else _e(d.difference.text())}</td>"
        f"<td>{'-' if d.difference is None else d.difference.n}</td><td>{_e(d.verdict)}</td></tr>"
        for d in comparison.differences)
    note = "" if comparison.a_is_model and comparison.b_is_model else (
        '<div class="banner stand-in">At least one side is a SCRIPTED STAND-IN, not a model.</div>')
    return (f"<h2>Comparison: B against A</h2>{note}<p>A = {_e(comparison.a)}<br>B = {_e(comparison.b)}</p>"
            f'<img src="{plots.differences(comparison)}" alt="differences">'
            "<table><tr><th>measure</th><th>mean A</th><th>mean B</th><th>B − A [95% paired bootstrap]</th>"
            f"<th>pairs</th><th>verdict</th></tr>{rows}</table>")


def render_html(runs: list[RunResult], comparison: Comparison | None = None) -> str:
    """Render the report of one run, or of two runs and their comparison, as one HTML page.

    Raises:
        ValueError: when ``runs`` is empty.
    """
    if not runs:
        raise ValueError("no run to report")
    suite = runs[0].suite
    body = [f"<h1>Eval report: suite {_e(suite)}</h1>",
            f"<p><small>{_e(runs[0].suite_file)} · generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · "
            f"{len(runs[0].cases)} cases</small></p>",
            '<p>Each case is a brief. Each scorer gives a score, pass/fail against the suite\'s threshold, and '
            "evidence. <i>n/a</i>: nothing to score (e.g. the brief was refused). Predicted value comes from the "
            "effect model (a click proxy derived from ratings), not from observed campaigns.</p>",
            f'<img src="{plots.pass_rates(runs)}" alt="pass rates"> <img src="{plots.plan_times(runs)}" '
            'alt="plan times">']
    if comparison is not None:
        body.append(_comparison(comparison))
    for run in runs:
        body += [_summary(run), f'<img src="{plots.case_grid(run)}" alt="case grid"> '
                 f'<img src="{plots.value_vs_baseline(run)}" alt="value vs baseline">', _cases(run)]
    config = json.dumps([r.config.model_dump(mode="json") for r in runs], indent=2, ensure_ascii=False)
    body.append(f"<h3>Configurations</h3><pre>{_e(config)}</pre>")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Eval: {_e(suite)}</title>'
            f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n")
