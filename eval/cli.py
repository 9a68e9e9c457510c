"""``campaign eval``: run a suite, score every plan, write results.json and report.html, gate CI.

Mounted in ``agent/cli.py`` with ``app.command("eval")(eval_command)``. Exit codes: 0 when every gate of
the suite passed, 1 when a gate failed or the run could not finish, 2 when a suite or config file is invalid.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from eval.config import EvalConfig, load_config, scripted_default
from eval.suite import Suite, SuiteError, load_suite

console = Console(stderr=True)


def _configs(suite: Suite, config: Path | None, compare: tuple[Path, Path] | None) -> list[EvalConfig]:
    """Return the configurations to run: the compared pair, --config, the suite's, or the scripted default."""
    if config is not None and compare is not None:
        raise SuiteError("give either --config or --compare, not both")
    if compare is not None:
        pair = [load_config(compare[0]), load_config(compare[1])]
        if pair[0].name == pair[1].name:
            pair = [pair[0].model_copy(update={"name": f"A-{pair[0].name}"}),
                    pair[1].model_copy(update={"name": f"B-{pair[1].name}"})]
        return pair
    if config is not None:
        return [load_config(config)]
    return [load_config(suite.config)] if suite.config is not None else [scripted_default()]


def suite_shops(suite: Suite, default: str) -> list[str]:
    """Return the shops the suite's briefs name (``default`` for a brief naming none), in order of first use.

    They are loaded before planning starts, so no case's plan time includes loading its shop's tools.
    """
    names = [c.brief.get("shop") or default for c in suite.cases]
    return list(dict.fromkeys(n for n in names if isinstance(n, str)))


def summary_json(results: dict[str, Any]) -> dict[str, Any]:
    """Return the part of the results printed by ``--json``: per run its label, summary and gates."""
    runs = [{"config": r["config"]["name"], "label": r["label"], "is_model": r["is_model"],
             "model_name": r["model_name"], "summary": r["summary"], "gates": r["gates"],
             "passed": all(g["passed"] for g in r["gates"])} for r in results["runs"]]
    return {"suite": results["suite"], "runs": runs, "comparison": results["comparison"]}


def run_eval(suite_path: Path, configs: list[EvalConfig], suite: Suite, out: Path) -> dict[str, Any]:
    """Run every configuration on the suite and write ``results.json`` and ``report.html`` into ``out``.

    Returns:
        The results as written to ``results.json``.
    """
    from agent.assemble import Toolbox
    from agent.llm import ensure_llm_server
    from agent.settings import get_settings
    from eval.backends import build_model
    from eval.compare import compare_runs
    from eval.html_report import render_html
    from eval.runner import Harness
    from tools.shop import ShopDataError

    settings = get_settings()
    toolbox = Toolbox(settings, build_model(configs[0], settings), console)
    for shop in suite_shops(suite, settings.default_shop):
        with (console.status(f"loading shop {shop!r}: catalog, portraits, recommender and effect tool …"),
              contextlib.suppress(ShopDataError)):  # an unknown shop is the refusal of the cases naming it
            toolbox.for_shop(shop)
    harness = Harness.from_tools(toolbox, settings)
    runs = []
    for config in configs:
        console.print(f"[bold]{config.label}[/bold]", highlight=False)

        def progress(i: int, n: int, case: Any, line: str) -> None:
            console.print(f"  [{i}/{n}] {case.id}: {line}", highlight=False, soft_wrap=True)

        with contextlib.ExitStack() as stack:
            if config.backend == "embedded":
                served = settings.model_copy(update={"llm_model": config.model or settings.llm_model})
                url = stack.enter_context(ensure_llm_server(served))
                console.print(f"  LLM server: {url}", highlight=False)
            runs.append(harness.run(suite, config, str(suite_path), out / "plans" / config.name, progress))
    comparison = compare_runs(runs[0], runs[1], seed=configs[0].seed) if len(runs) == 2 else None
    results = {"suite": suite.name, "runs": [r.model_dump(mode="json") for r in runs],
               "comparison": comparison.model_dump(mode="json") if comparison else None}
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    (out / "report.html").write_text(render_html(runs, comparison), encoding="utf-8")
    for run in runs:
        s = run.summary
        median = "-" if s.median_plan_time_s is None else f"{s.median_plan_time_s:.1f} s"
        console.print(f"{run.config.name}: {s.passed_all}/{s.cases} cases pass every scorer; median plan time "
                      f"{median}; {s.llm_calls} LLM calls" + ("" if run.is_model else " (SCRIPTED STAND-IN)"),
                      highlight=False)
        for gate in run.gates:
            if not gate.passed and gate.actual is not None:
                console.print(f"[red]gate failed:[/red] {gate.name} needs ≥ {gate.required:.0%}, "
                              f"got {gate.actual:.0%}", highlight=False)
    console.print(f"wrote {out / 'results.json'} and {out / 'report.html'}", highlight=False)
    return results


def eval_command(
    suite: Annotated[Path, typer.Argument(help="Suite YAML, e.g. eval/suites/smoke.yaml; or `chat` followed by a "
                                         "chat suite (eval/suites/chat.yaml); or `injection` [SUITE].")],
    chat_suite: Annotated[Path | None, typer.Argument(help="With `chat`: the chat suite YAML; with `injection`: "
                                                      "the injection suite (default eval/suites/injection.yaml).",
                                                      show_default=False)] = None,
    config: Annotated[Path | None, typer.Option(help="Configuration YAML (default: the suite's, else the "
                                                "scripted-template stand-in).")] = None,
    compare: Annotated[tuple[Path, Path] | None, typer.Option(help="Two configuration YAMLs A B: run both on the "
                                                              "suite and report B − A with bootstrap intervals.")
                       ] = None,
    case: Annotated[list[str] | None, typer.Option(help="Run only this case id (repeatable).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary JSON on stdout.")] = False,
    out: Annotated[Path, typer.Option(help="Folder for results.json, report.html and plans/.")] = Path("out/eval"),
) -> None:
    """Run the plan agent on every brief of SUITE and score each plan.

    Scorers: outcome, schema, constraints, grounding, personalisation, predicted value against a baseline,
    diversity and cost. Writes results.json, report.html and every plan into --out. Exits 1 when a gate set
    in the suite fails (for CI), 2 when the suite or a config is invalid.

    `campaign eval chat SUITE.yaml [--config CONFIG] [--json]` runs a chat suite through the chat service
    instead (eval/chat_eval.py): tool and argument accuracy, grounded answers, language, template share.

    `campaign eval injection [SUITE.yaml] [--config CONFIG] [--json]` runs the prompt-injection suite
    (eval/suites/injection.yaml, eval/injection.py): cases and escapes; exits 1 on an escape.
    """
    if str(suite) == "injection":
        from eval.injection import DEFAULT_SUITE, injection_command

        injection_command(chat_suite or DEFAULT_SUITE, config, json_out, case)
        return
    if str(suite) == "chat":
        from eval.chat_eval import chat_command

        chat_command(chat_suite, config, json_out)
        return
    try:
        loaded = load_suite(suite)
        if case:
            loaded = loaded.select(case)
        results = run_eval(suite, _configs(loaded, config, compare), loaded, out)
    except SuiteError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        console.print("interrupted")
        raise typer.Exit(130) from None
    except Exception as exc:
        from agent.settings import get_settings

        if get_settings().debug:
            raise
        console.print(f"[red]error:[/red] {type(exc).__name__}: {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    if json_out:
        sys.stdout.write(json.dumps(summary_json(results), indent=2, ensure_ascii=False) + "\n")
    if not all(g["passed"] for r in results["runs"] for g in r["gates"]):
        raise typer.Exit(1)
