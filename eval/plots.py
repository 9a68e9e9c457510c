"""Plots of eval results, rendered with matplotlib to inline PNG data URIs for the HTML report."""

from __future__ import annotations

from matplotlib.colors import ListedColormap

from eval.compare import Comparison
from eval.results import RunResult
from eval.suite import SCORERS
from tools.figures import new_figure, png_data_uri

_STATUS_CODE = {"fail": 0, "n/a": 1, "pass": 2}
_STATUS_COLOURS = ListedColormap(["#d9534f", "#d0d0d0", "#5cb85c"])


def pass_rates(runs: list[RunResult]) -> str:
    """Bar chart: share of applicable cases passing, per scorer and configuration."""
    figure, ax = new_figure(8, 3.6)
    width = 0.8 / len(runs)
    for k, run in enumerate(runs):
        rates = [s.pass_rate if s.pass_rate is not None else 0.0 for s in run.summary.scorers]
        xs = [i + k * width for i in range(len(SCORERS))]
        ax.bar(xs, rates, width=width, label=run.config.name + ("" if run.is_model else " (scripted)"))
    ax.set_xticks([i + width * (len(runs) - 1) / 2 for i in range(len(SCORERS))], SCORERS, rotation=30)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share of applicable cases passing")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=2)
    ax.set_title("Pass rate per scorer")
    return png_data_uri(figure)


def case_grid(run: RunResult) -> str:
    """Grid of cases × scorers coloured pass (green), fail (red), not applicable (grey)."""
    grid = [[_STATUS_CODE[c.score(name).status] for name in SCORERS] for c in run.cases]
    figure, ax = new_figure(7, 0.28 * len(run.cases) + 1.2)
    ax.imshow(grid, cmap=_STATUS_COLOURS, vmin=0, vmax=2, aspect="auto")
    ax.set_xticks(range(len(SCORERS)), SCORERS, rotation=30)
    ax.set_yticks(range(len(run.cases)), [c.case_id for c in run.cases], fontsize=7)
    ax.set_title(f"{run.config.name}: pass (green), fail (red), n/a (grey)")
    return png_data_uri(figure)


def plan_times(runs: list[RunResult]) -> str:
    """Horizontal bars of the plan loop's wall time per case and configuration."""
    ids = [c.case_id for c in runs[0].cases]
    figure, ax = new_figure(7, 0.28 * len(ids) + 1.2)
    height = 0.8 / len(runs)
    for k, run in enumerate(runs):
        times = {c.case_id: c.plan_time_s or 0.0 for c in run.cases}
        ax.barh([i + k * height for i in range(len(ids))], [times.get(i, 0.0) for i in ids], height=height,
                label=run.config.name)
    ax.set_yticks([i + height * (len(runs) - 1) / 2 for i in range(len(ids))], ids, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("plan wall time (s); 0 = no plan")
    ax.legend(fontsize=8)
    ax.set_title("Plan time per case")
    return png_data_uri(figure)


def value_vs_baseline(run: RunResult) -> str:
    """Scatter of predicted positives: agent plan against the popularity baseline plan, per case."""
    points = [(c.case_id, c.score("value").details) for c in run.cases if c.score("value").status != "n/a"]
    figure, ax = new_figure(5, 4.2)
    if points:
        base = [d["baseline"] for _, d in points]
        agent = [d["agent"] for _, d in points]
        ax.scatter(base, agent, color="#337ab7")
        top = max(max(base), max(agent)) * 1.05
        ax.plot([0, top], [0, top], color="grey", linestyle="--", linewidth=1, label="no lift")
        for (cid, _), x, y in zip(points, base, agent, strict=True):
            ax.annotate(cid, (x, y), fontsize=6, alpha=0.7)
        ax.legend(fontsize=8)
    ax.set_xlabel("baseline plan: predicted positives")
    ax.set_ylabel("agent plan: predicted positives")
    ax.set_title(f"{run.config.name}: predicted value vs baseline")
    return png_data_uri(figure)


def differences(comparison: Comparison) -> str:
    """Forest plot of B − A per measure with bootstrap intervals.

    Only measures on a 0-1 or lift scale are drawn (scores and pass indicators); cost in seconds, calls and
    tokens stays in the table, where its scale does not squash the rest.
    """
    rows = [d for d in comparison.differences if d.difference is not None and d.measure != "cost score"
            and (d.measure.endswith((" score", " pass")) or d.measure == "passes every scorer")]
    figure, ax = new_figure(7, 0.3 * len(rows) + 1.2)
    for i, d in enumerate(rows):
        assert d.difference is not None
        colour = "#5cb85c" if d.verdict == "B higher" else "#d9534f" if d.verdict == "B lower" else "#777777"
        ax.errorbar([d.difference.mean], [i], xerr=[[d.difference.mean - d.difference.low],
                                                    [d.difference.high - d.difference.mean]],
                    fmt="o", color=colour, capsize=3)
    ax.axvline(0, color="grey", linewidth=1)
    ax.set_yticks(range(len(rows)), [d.measure for d in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("B − A (mean over cases, 95% bootstrap interval)")
    ax.set_title("Configuration B against A")
    return png_data_uri(figure)
