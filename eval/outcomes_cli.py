"""``campaign outcomes``: analyse the outcomes of an experiment (stand-alone: any file with an arm column).

Mounted in ``agent/cli.py`` with ``app.add_typer(outcomes_app, name="outcomes")``. ``campaign outcomes analyse
--file FILE ...`` reads a CSV, Parquet or JSON-lines file and compares every arm with the control
(:func:`tools.outcomes.analyse_file`). A launched plan's outcomes live in the API database, which this package may
not import (eval and serve are independent layers): ``agent/cli.py`` registers serve's functions with
:func:`register_plan_outcomes`, and ``campaign outcomes import PLAN_ID FILE [--replace]`` and ``campaign outcomes
analyse PLAN_ID --outcome converted`` call them (a plan's results also compare each variant's prediction with what was
observed). ``--html FILE`` writes the report with plots (:func:`tools.outcomes.render_report`).
Exit codes: 0 on success, 2 for bad input (a missing file or column, a missing control, an outcome that is not
0/1, an unreadable row; for an import, one line per bad row and a summary, and nothing imported), 1 for anything
else — never a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tools.outcomes import ExperimentAnalysis, ExperimentRequest, OutcomeDataError, analyse_file, render_report

console = Console(stderr=True)

PlanImporter = Callable[[str, Path, bool], str]
"""Import a plan's outcomes file (plan id, file, replace) and return what it did in one line."""
PlanResults = Callable[[str, str, Path | None], ExperimentAnalysis]
"""Analyse a plan's stored outcomes (plan id, 0/1 outcome, where to write the HTML report or None)."""
_PLAN_OUTCOMES: list[tuple[PlanImporter, PlanResults]] = []


def register_plan_outcomes(importer: PlanImporter, results: PlanResults) -> None:
    """Set how plans' outcomes are imported and analysed (``agent.cli`` registers ``serve.outcomes``'s)."""
    _PLAN_OUTCOMES[:] = [(importer, results)]


def _plan_outcomes() -> tuple[PlanImporter, PlanResults]:
    if not _PLAN_OUTCOMES:
        raise RuntimeError("no plan outcomes store is registered (agent.cli registers serve.outcomes)")
    return _PLAN_OUTCOMES[0]

outcomes_app = typer.Typer(help="Measure a campaign's or any experiment's outcomes against its control.",
                           no_args_is_help=True)


def _one_line_errors(action: Callable[[], None]) -> None:
    """Run ``action``; bad input is one line and exit 2, anything else one line and exit 1."""
    try:
        action()
    except OutcomeDataError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        console.print("interrupted")
        raise typer.Exit(130) from None
    except Exception as exc:
        console.print(f"[red]error:[/red] {type(exc).__name__}: {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def _table(result: ExperimentAnalysis, out: Console) -> None:
    """Print the arms against the control as a Rich table, then the winner and the power notes."""
    revenue = result.revenue is not None
    table = Table(title=f"{result.outcome}: {result.rows:,} rows, control {result.control.arm!r} "
                        f"(n {result.control.n:,}, rate {result.control.rate:.2%})")
    for column in ("arm", "n", "rate", "lift", "95% CI", "test", "p (Holm)", "MDE"):
        table.add_column(column, justify="left" if column in ("arm", "test") else "right")
    if revenue:
        table.add_column("revenue/customer", justify="right")
        table.add_column("revenue lift (95% CI)", justify="right")
    for a in result.arms:
        cells = [a.arm, f"{a.n:,}", f"{a.rate:.2%}", f"{a.lift:+.4f}", f"[{a.ci_low:+.4f}, {a.ci_high:+.4f}]", a.test,
                 f"{a.p_value:.3g}", f"{a.mde:.4f}"]
        if revenue:
            cells += [f"{a.revenue_per_customer:.2f}",
                      f"{a.revenue_lift:+.2f} [{a.revenue_ci_low:+.2f}, {a.revenue_ci_high:+.2f}]"]
        table.add_row(*cells)
    out.print(table)
    out.print(f"winner: {result.winner or 'none (no arm significantly better than the control after Holm)'}",
              highlight=False)
    out.print(f"lift interval: {result.ci_method}; MDE: minimum detectable lift at 80% power, alpha {result.alpha}",
              highlight=False)
    for note in result.power_notes:
        out.print(f"power: {note}", highlight=False)
    if result.skipped_segments:
        out.print(f"segments without the control or another arm (not compared): {result.skipped_segments}",
                  highlight=False)
    for check in result.predictions:
        calibration = Table(title=f"predicted {check.predicted_metric} against observed {check.observed_metric}")
        for column in ("arm", "n", "predicted", "90% interval", "observed", "95% CI", "inside", "pred - obs"):
            calibration.add_column(column, justify="left" if column == "arm" else "right")
        for c in check.arms:
            calibration.add_row(c.arm, f"{c.n:,}", f"{c.predicted:.4g}",
                                f"[{c.predicted_low:.4g}, {c.predicted_high:.4g}]", f"{c.observed:.4g}",
                                f"[{c.observed_low:.4g}, {c.observed_high:.4g}]",
                                "yes" if c.inside else "no", f"{c.error:+.4g}")
        out.print(calibration)
        out.print(check.sentence(), highlight=False)
        out.print(f"pairing: {check.pairing}", highlight=False)
        for note in check.notes:
            out.print(f"note: {note}", highlight=False)
    for seg in result.segments:
        lifts = ", ".join(f"{a.arm} {a.lift:+.4f} [{a.ci_low:+.4f}, {a.ci_high:+.4f}] p={a.p_value:.3g}"
                          for a in seg.arms)
        out.print(f"segment {seg.segment!r} ({seg.rows:,} rows): {lifts}; winner {seg.winner or 'none'}",
                  highlight=False)


@outcomes_app.command("analyse")
def analyse(
    plan_id: Annotated[str | None, typer.Argument(
        help="A plan's id: analyse its imported outcomes (each variant against the holdout, per segment too); "
             "--outcome is opened, clicked or converted (default converted).")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="The experiment: CSV, Parquet or JSON lines.")] = None,
    arm_column: Annotated[str, typer.Option("--arm-column", help="Column naming each row's arm.")] = "arm",
    control: Annotated[str, typer.Option("--control", help="The control arm's value (e.g. holdout).")] = "holdout",
    outcome: Annotated[str, typer.Option("--outcome", help="A 0/1 outcome column (visited, converted, …); "
                                         "required.", show_default=False)] = "",
    revenue: Annotated[str | None, typer.Option("--revenue", help="Revenue per customer: its mean per arm, a "
                                                "bootstrap CI of the lift and Welch's t-test.")] = None,
    segment: Annotated[str | None, typer.Option("--segment", help="Repeat the analysis within each value of "
                                                "this column.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the revenue bootstrap.")] = 0,
    json_out: Annotated[bool, typer.Option("--json", help="Print {rows, arms: [{arm, n, rate, lift, ci_low, ci_high, "
                                           "p_value}], winner}; the control is not listed; p_value is "
                                           "Holm-adjusted across the arms.")] = False,
    html: Annotated[Path | None, typer.Option("--html", help="Also write the report as one HTML file: the lift per "
                                              "arm with its 95% CI (forest plot) and, for a plan, each variant's "
                                              "predicted against observed outcome.")] = None,
) -> None:
    """Compare every arm with the control: rate, lift with a 95% CI, Holm-adjusted p-value, winner.

    lift = the arm's rate - the control's, with Newcombe's 95% interval.

    p_value: two-sided (z-test; Fisher's exact test when an expected count is below 5), Holm-adjusted across arms.

    winner: the arm with the largest lift among those significantly better than the control after Holm, or null.

    For a plan: each variant's predicted outcome (point and 90% interval) against the observed one (95% CI), and
    the calibration across variants. --html FILE writes all of it with plots as one HTML file.
    """

    def action() -> None:
        if plan_id is not None:
            if file is not None:
                raise OutcomeDataError("give a PLAN_ID or --file FILE, not both")
            result = _plan_outcomes()[1](plan_id, outcome or "converted", html)
        else:
            if file is None:
                raise OutcomeDataError("give the experiment with --file FILE")
            if not outcome:
                raise OutcomeDataError("give the 0/1 outcome column with --outcome COL")
            request = ExperimentRequest(arm_column=arm_column, control=control, outcome=outcome, revenue=revenue,
                                        segment=segment, seed=seed)
            result = analyse_file(file, request)
            if html is not None:
                html.write_text(render_report(result, title=f"Experiment: {file.name}", context=[
                    f"{file} · arm column {arm_column} · control {control} · outcome {outcome}"]), encoding="utf-8")
        if json_out:
            sys.stdout.write(json.dumps(result.summary(), indent=2) + "\n")
        else:
            out = Console()
            _table(result, out if out.is_terminal else Console(width=160))

    _one_line_errors(action)


@outcomes_app.command("import")
def import_outcomes(
    plan_id: Annotated[str, typer.Argument(help="The plan's id (as the API shows it).")],
    file: Annotated[Path, typer.Argument(help="CSV, Parquet or JSON lines: customer_id, arm (a variant id or "
                                              "holdout), sent_at, and any of opened, clicked, converted, revenue, "
                                              "wave.")],
    replace: Annotated[bool, typer.Option("--replace", help="Let rows change outcomes already stored.")] = False,
) -> None:
    """Import a launched plan's outcomes, checked against its send list: all rows or none.

    Importing the same rows again changes nothing; a row changing a stored outcome is rejected without --replace;
    new customers or arms (a later wave) are added.
    """
    _one_line_errors(lambda: typer.echo(_plan_outcomes()[0](plan_id, file, replace)))
