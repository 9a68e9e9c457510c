"""The outcomes report: plots of the lift and of predicted against observed, in one self-contained HTML page.

Plots are rendered with matplotlib (no pyplot: no global state) to PNG bytes; the page embeds them as base64 data
URIs, so it is one file. Every text on the page (arm names, plan names, notes) is escaped with
:func:`html.escape`: arm names come from the uploaded file or the plan, which anyone may have written.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime

from tools.figures import data_uri, new_figure, png_bytes
from tools.outcomes.analysis import ArmsAnalysis, ExperimentAnalysis
from tools.outcomes.calibration import Calibration

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;line-height:1.4;padding:0 1em}
table{border-collapse:collapse;margin:.6em 0 1.4em}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}.yes{background:#dff0d8}.no{background:#f2dede}
img{max-width:100%}small,.muted{color:#666}
"""
_BETTER, _WORSE, _NEUTRAL = "#5cb85c", "#d9534f", "#777777"


def _short(text: str, size: int = 40) -> str:
    """A label for a plot: at most ``size`` characters, with ``$`` escaped (matplotlib would read mathtext)."""
    text = text if len(text) <= size else text[: size - 1] + "…"
    return text.replace("$", r"\$")


def lift_plot(analysis: ArmsAnalysis, outcome: str = "outcome") -> bytes:
    """Forest plot of each arm's lift against the control with its 95% interval, as PNG bytes.

    Green: significantly better after Holm's correction, red: significantly worse, grey: neither.
    """
    arms = analysis.arms
    figure, ax = new_figure(7, 0.45 * len(arms) + 1.4)
    for i, a in enumerate(arms):
        colour = (_BETTER if a.lift > 0 else _WORSE) if a.significant else _NEUTRAL
        ax.errorbar([a.lift], [i], xerr=[[a.lift - a.ci_low], [a.ci_high - a.lift]], fmt="o", color=colour,
                    capsize=3)
    ax.axvline(0, color="grey", linewidth=1)
    ax.set_yticks(range(len(arms)), [_short(f"{a.arm} (n {a.n:,})") for a in arms], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"lift of {outcome} against {_short(analysis.control.arm)} (difference of rates, 95% CI)")
    ax.set_title("Lift per arm")
    return png_bytes(figure)


def calibration_plot(calibration: Calibration) -> bytes:
    """Predicted against observed, one point per arm, as PNG bytes.

    The prediction's 90% interval is a horizontal bar, the observed 95% interval a vertical bar; the dashed line
    y = x is a perfect prediction. Green: the observed mean is inside the predicted interval.
    """
    checks = calibration.arms
    figure, ax = new_figure(5.5, 4.6)
    for c in checks:
        colour = _BETTER if c.inside else _WORSE
        ax.errorbar([c.predicted], [c.observed],
                    xerr=[[c.predicted - c.predicted_low], [c.predicted_high - c.predicted]],
                    yerr=[[c.observed - c.observed_low], [c.observed_high - c.observed]], fmt="o", color=colour,
                    capsize=3, elinewidth=1)
        ax.annotate(_short(c.arm, 20), (c.predicted, c.observed), fontsize=7, alpha=0.8, xytext=(4, 4),
                    textcoords="offset points")
    bounds = [v for c in checks for v in (c.predicted_low, c.predicted_high, c.observed_low, c.observed_high)]
    low, high = min(0.0, *bounds), max(bounds) * 1.05 if max(bounds) > 0 else 1.0
    ax.plot([low, high], [low, high], color="grey", linestyle="--", linewidth=1, label="y = x")
    ax.set_xlim(low, high)
    ax.set_ylim(low, high)
    ax.set_xlabel(_short(f"predicted {calibration.predicted_metric} (90%)", 70), fontsize=8)
    ax.set_ylabel(_short(f"observed {calibration.observed_metric} (95% CI)", 60), fontsize=8)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title("Predicted against observed (green: inside the interval)")
    return png_bytes(figure)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _arms_table(analysis: ArmsAnalysis) -> str:
    revenue = any(a.revenue_per_customer is not None for a in analysis.arms)
    head = ["arm", "n", "rate", "lift", "95% CI", "test", "p (Holm)", "MDE", "significant"]
    head += ["revenue / customer", "revenue lift (95% CI)"] if revenue else []
    control = [analysis.control.arm + " (control)", f"{analysis.control.n:,}", f"{analysis.control.rate:.2%}",
               "", "", "", "", "", ""]
    if revenue:
        control += [f"{analysis.control.revenue_per_customer or 0:.2f}", ""]
    rows = [control]
    for a in analysis.arms:
        row = [a.arm, f"{a.n:,}", f"{a.rate:.2%}", f"{a.lift:+.4f}", f"[{a.ci_low:+.4f}, {a.ci_high:+.4f}]", a.test,
               f"{a.p_value:.3g}", f"{a.mde:.4f}", "yes" if a.significant else "no"]
        if revenue:
            row += [f"{a.revenue_per_customer or 0:.2f}",
                    f"{a.revenue_lift or 0:+.2f} [{a.revenue_ci_low or 0:+.2f}, {a.revenue_ci_high or 0:+.2f}]"]
        rows.append(row)
    return ("<table><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows) + "</table>")


def _calibration_section(calibration: Calibration) -> str:
    head = ["arm", "n", "predicted", "predicted 90%", "observed", "observed 95% CI", "inside", "predicted - observed"]
    rows = "".join(
        f"<tr><td>{_e(c.arm)}</td><td>{c.n:,}</td><td>{c.predicted:.4g}</td>"
        f"<td>[{c.predicted_low:.4g}, {c.predicted_high:.4g}]</td><td>{c.observed:.4g}</td>"
        f"<td>[{c.observed_low:.4g}, {c.observed_high:.4g}]</td>"
        f'<td class="{"yes" if c.inside else "no"}">{"yes" if c.inside else "no"}</td><td>{c.error:+.4g}</td></tr>'
        for c in calibration.arms)
    summary = [f"share inside the 90% intervals: {calibration.share_inside:.0%}",
               f"mean predicted - observed: {calibration.mean_error:+.4g}"]
    if calibration.rank_correlation is not None:
        summary.append(f"rank correlation (Spearman): {calibration.rank_correlation:.2f}")
    if calibration.slope is not None:
        summary.append(f"calibration slope (observed on predicted): {calibration.slope:.2f}")
    notes = "".join(f"<li>{_e(n)}</li>" for n in calibration.notes)
    return (f"<h3>{_e(calibration.observed_metric)} against predicted {_e(calibration.predicted_metric)}</h3>"
            f"<p>{_e(calibration.pairing)}</p>"
            f'<img src="{data_uri(calibration_plot(calibration))}" alt="predicted against observed">'
            "<table><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + f"</tr>{rows}</table>"
            f"<p>{_e('; '.join(summary))}.</p>" + (f"<ul>{notes}</ul>" if notes else ""))


def render_report(analysis: ExperimentAnalysis, calibrations: list[Calibration] | None = None,
                  title: str = "Experiment results", context: list[str] | None = None) -> str:
    """Render the analysis (and the predictions' calibration, when there are predictions) as one HTML page.

    Args:
        analysis: The arms against the control (and per segment).
        calibrations: Predicted against observed, one per predicted quantity; None or empty: no predictions.
        title: The page's title (escaped).
        context: Lines shown under the title (escaped): the plan, the file, the metric.

    Returns:
        The page, with the plots embedded as PNG data URIs.
    """
    body = [f"<h1>{_e(title)}</h1>"]
    body += [f'<p class="muted">{_e(line)}</p>' for line in context or []]
    body.append(f'<p class="muted">generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {analysis.rows:,} rows · '
                f"outcome {_e(analysis.outcome)} · lift interval: {_e(analysis.ci_method)}"
                + (f" · revenue: {_e(analysis.revenue_ci_method)}" if analysis.revenue_ci_method else "") + "</p>")
    winner = analysis.winner or "none (no arm is significantly better than the control after Holm's correction)"
    body += ["<h2>Lift against the control</h2>",
             f'<img src="{data_uri(lift_plot(analysis, analysis.outcome))}" alt="lift per arm">',
             _arms_table(analysis), f"<p><b>Winner:</b> {_e(winner)}</p>"]
    body += [f"<p class=\"muted\">power: {_e(n)}</p>" for n in analysis.power_notes]
    body.append("<h2>Predicted against observed</h2>")
    if calibrations:
        body += [_calibration_section(c) for c in calibrations]
    else:
        body.append("<p>No predictions to compare: the file holds outcomes only (a plan's results compare each "
                    "variant with what the plan predicted for it).</p>")
    if analysis.segments:
        body.append("<h2>Per segment</h2>")
        for seg in analysis.segments:
            body += [f"<h3>segment {_e(seg.segment)} ({seg.rows:,} rows)</h3>", _arms_table(seg),
                     f"<p>Winner: {_e(seg.winner or 'none')}</p>"]
    if analysis.skipped_segments:
        body.append(f"<p class=\"muted\">segments without the control or another arm (not compared): "
                    f"{_e(', '.join(analysis.skipped_segments))}</p>")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n")
