"""The campaign-plan HTTP API (FastAPI): plan jobs, live events, cancellation, review, chat, health, web page.

Build it with :func:`create_app`; every dependency is injected (the plan-loop tools, the chat LLM, the
planner factory, the LLM probe), so tests run the real app on a scripted LLM. OpenAPI: ``/openapi.json``,
``/docs`` (they need a key unless ``api_public_docs``). Every ``/v1`` route needs ``Authorization: Bearer <key>``
of a role (:mod:`serve.auth`): reads need ``read``, creating and cancelling plans and chat ``plan``, reviews and
outcome imports ``approve``, keys ``admin``; ``/healthz`` and the page shell need none. Plans have no owner checks.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from agent.brief import Brief, BriefError, check_offer
from agent.llm import ChatModel
from agent.loop import Planner, ToolSource
from agent.settings import Settings
from serve.auth import AUTH_RESPONSES, ApproveKey, KeyUse, PlanKey, RateLimiter, ReadKey, keys_router, require_role
from serve.chat import ChatEvent, ChatService, ChatSessionError
from serve.errors import install_error_handling
from serve.health import health
from serve.jobs import JobFinishedError, JobManager, PlannerFactory, QueueFullError, UnknownJobError
from serve.outcomes import (
    REPORT_HEADERS,
    Metric,
    OutcomeImport,
    OutcomeImportError,
    PlanNotReadyError,
    PlotKind,
    UnknownPlanError,
    import_outcomes,
    plan_results,
    results_page,
    results_plot,
)
from serve.privacy import privacy_router
from serve.schemas import ChatIn, DecisionIn, JobOut, JobSummary, job_json, job_summary
from serve.store import TERMINAL, JobRecord, Status, Store
from tools.outcomes import ExperimentAnalysis, OutcomeDataError, read_table
from tools.shop import ShopDataError, check_shop_name, list_shops

WEB_DIR = Path(__file__).with_name("web")
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' blob:; frame-ancestors 'none'",
                "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
OUTCOME_TYPES = {"text/csv": ".csv", "application/vnd.apache.parquet": ".parquet", "application/x-parquet": ".parquet",
                 "application/x-ndjson": ".jsonl", "application/jsonl": ".jsonl"}
"""Content types of an outcomes upload, and the file kind each is read as."""
WAKE_S = 15.0  # an SSE stream re-reads the database at least this often, even without a notification


def _field_errors(exc: ValidationError, prefix: tuple[str, ...]) -> RequestValidationError:
    return RequestValidationError([{"type": e["type"], "loc": (*prefix, *e["loc"]), "msg": e["msg"]}
                                   for e in exc.errors(include_url=False)])


async def _threaded(events: Iterator[ChatEvent]) -> AsyncIterator[ServerSentEvent]:
    """Run a blocking event iterator in its own thread and relay its events to the event loop."""
    loop, queue = asyncio.get_running_loop(), asyncio.Queue[ChatEvent | None]()
    cancelled = threading.Event()

    def pump() -> None:
        try:
            for event in events:
                if cancelled.is_set() or loop.is_closed():
                    break
                loop.call_soon_threadsafe(queue.put_nowait, event)
        finally:
            close = getattr(events, "close", None)
            if close:
                close()
            if not loop.is_closed():
                loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=pump, name="chat-turn", daemon=True).start()
    try:
        while (event := await queue.get()) is not None:
            yield ServerSentEvent(data=json.dumps(event.data, ensure_ascii=False, default=str), event=event.kind)
    finally:
        cancelled.set()


def create_app(
    settings: Settings,
    tools: ToolSource,
    chat_model: ChatModel,
    *,
    planner_factory: PlannerFactory | None = None,
    store: Store | None = None,
    llm_probe: Callable[[], list[str] | None] | None = None,
) -> FastAPI:
    """Build the API.

    Args:
        settings: Settings (database URL, workers, queue size, chat options, LLM URL).
        tools: The plan-loop tools of every shop (one shop's :class:`agent.loop.PlannerTools`, or an
            :class:`agent.assemble.Toolbox`); also used by the chat and to check briefs against their shop.
        chat_model: The LLM backend of the chat agent.
        planner_factory: Builds the planner of a job from its step listener; default
            :class:`agent.loop.Planner` on ``tools``.
        store: The database; default ``Store(settings.database_url)``.
        llm_probe: Returns the model names the LLM server offers, or None when it does not answer;
            default: probe ``settings.effective_llm_url``.

    Returns:
        The FastAPI application; jobs start and recover when its lifespan starts.
    """
    from agent.llm import probe

    store = store or Store(settings.database_url)
    factory = planner_factory or (lambda on_step: Planner(tools, settings.llm_concurrency, settings.seed, on_step))
    jobs = JobManager(store, factory, settings.api_workers, settings.api_queue_size, settings.llm_plan_budget_s,
                      lease_s=settings.api_lease_s)
    chat = ChatService(settings, tools, chat_model, store, lambda owner: lambda brief: jobs.submit(brief, owner))
    check_llm = llm_probe or (lambda: probe(settings.effective_llm_url))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(jobs.start)
        yield
        await run_in_threadpool(jobs.stop)

    public = settings.api_public_docs  # otherwise the reference is served below, behind a key
    app = FastAPI(title="campaign-agent API", version="1", lifespan=lifespan, openapi_url="/openapi.json" if public
                  else None, docs_url="/docs" if public else None, redoc_url="/redoc" if public else None,
                  description="Campaign plans from briefs (audience, products, copy, predicted effect), "
                              "human review, and a marketer chat. Authenticate with `Authorization: Bearer <key>` "
                              "(create keys with `campaign keys create NAME --role ROLE`).")
    app.state.store, app.state.jobs, app.state.chat = store, jobs, chat
    app.state.rate_limiter, app.state.key_use = RateLimiter(settings.api_rate_limit_per_minute), KeyUse(store)
    v1 = APIRouter(prefix="/v1", dependencies=[Depends(require_role("read"))], responses=AUTH_RESPONSES)

    def load(job_id: str) -> JobRecord:
        job = store.job(job_id)
        if job is None:
            raise HTTPException(404, f"no plan {job_id}")
        return job

    @v1.post("/plans", status_code=202, response_model=JobOut, summary="Queue a plan for a brief",
             responses={429: {"description": "The queue is full"}, 422: {"description": "Invalid brief"}})
    def create_plan(brief: Brief, key: PlanKey) -> Response:
        try:
            if brief.shop is not None and not tools.ready(brief.shop):
                check_shop_name(settings, brief.shop)  # its tools load in the worker, which checks the filter then
            else:
                shop_tools = tools.for_shop(brief.shop)
                vocabulary = shop_tools.profiles.store.vocabulary()
                brief = brief.model_copy(update={"shop": shop_tools.shop.name})
                brief = brief.model_copy(update={"audience_filter": brief.audience_filter.checked(vocabulary)})
                if brief.offer is not None:
                    check_offer(brief.offer, shop_tools.shop.products)
        except BriefError as exc:  # the offer: "brief: field 'offer.product_ids': …"
            field, _, message = str(exc).removeprefix("brief: field '").partition("': ")
            loc = ("body", *field.split("."))
            raise RequestValidationError([{"type": "value_error", "loc": loc, "msg": message}]) from None
        except ShopDataError as exc:
            raise RequestValidationError([{"type": "value_error", "loc": ("body", "shop"), "msg": str(exc)}]) from None
        except ValidationError as exc:
            raise _field_errors(exc, ("body", "audience_filter")) from None
        try:
            job = jobs.submit(brief, key.id)
        except QueueFullError as exc:
            raise HTTPException(429, str(exc), headers={"Retry-After": "30"}) from None
        return Response(job_json(job, []), 202, media_type="application/json",
                        headers={"Location": f"/v1/plans/{job.id}"})

    @v1.get("/plans", response_model=list[JobSummary], summary="Recent plans, newest first")
    def list_plans(limit: Annotated[int, Query(ge=1, le=200)] = 50, status: Status | None = None
                   ) -> list[JobSummary]:
        return [job_summary(j) for j in store.jobs(limit, status)]

    @v1.get("/plans/{job_id}", response_model=JobOut, summary="Status, progress, review and the plan when done")
    def get_plan(job_id: str) -> Response:
        return Response(job_json(load(job_id), store.decisions(job_id)), media_type="application/json")

    @v1.get("/plans/{job_id}/events", summary="Step events as server-sent events (past ones replayed first)",
            response_class=EventSourceResponse,
            description="Events: `status` (`{status, error?}`), `step_start` and `step_end` (a trace step), "
                        "`cancel_requested` (`{by}`). The stream ends after a done, failed or cancelled status.")
    async def plan_events(job_id: str, last_event_id: Annotated[int, Header(ge=0, le=2**63 - 1)] = 0
                          ) -> EventSourceResponse:
        await run_in_threadpool(load, job_id)
        return EventSourceResponse(_job_events(job_id, last_event_id), ping=15)

    async def _job_events(job_id: str, after: int) -> AsyncIterator[ServerSentEvent]:
        loop, wake = asyncio.get_running_loop(), asyncio.Event()

        def notify() -> None:
            if not loop.is_closed():
                loop.call_soon_threadsafe(wake.set)

        jobs.add_listener(job_id, notify)
        try:
            while True:
                wake.clear()
                job = await run_in_threadpool(store.job, job_id)  # read before the events: a status and its event
                ended = job is None or job.status in TERMINAL    # are stored together
                for e in await run_in_threadpool(store.events_after, job_id, after):
                    after = e.id
                    yield ServerSentEvent(data=json.dumps(e.data, ensure_ascii=False), event=e.kind, id=str(e.id))
                    if e.kind == "status" and e.data.get("status") in TERMINAL:
                        return
                if ended:  # resumed after the final status (Last-Event-ID): nothing more will come
                    return
                with suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), WAKE_S)
        finally:
            jobs.remove_listener(job_id, notify)

    def decide(job_id: str, decision: str, body: DecisionIn, key: ApproveKey) -> Response:
        job = load(job_id)
        if job.status != "done":
            raise HTTPException(409, f"plan {job_id} is {job.status}; only a finished plan can be reviewed")
        store.add_decision(job_id, decision, body.by, body.reason, key.name)
        return Response(job_json(job, store.decisions(job_id)), media_type="application/json")

    @v1.post("/plans/{job_id}/approve", response_model=JobOut, summary="Approve a finished plan (who and why)")
    def approve(job_id: str, body: DecisionIn, key: ApproveKey) -> Response:
        return decide(job_id, "approved", body, key)

    @v1.post("/plans/{job_id}/reject", response_model=JobOut, summary="Reject a finished plan (who and why)")
    def reject(job_id: str, body: DecisionIn, key: ApproveKey) -> Response:
        return decide(job_id, "rejected", body, key)

    @v1.post("/plans/{job_id}/cancel", response_model=JobOut, summary="Cancel a queued or running plan",
             responses={202: {"model": JobOut, "description": "Running: it stops at its next step (follow the "
                                                                "events or poll until the status is cancelled)"},
                        404: {"description": "No such plan"},
                        409: {"description": "The plan already ended (done, failed or cancelled)"}})
    def cancel(job_id: str, key: PlanKey) -> Response:
        """A queued plan is cancelled at once (200) and never runs; a running one stops at its next step (202)."""
        try:
            job, cancelled = jobs.cancel(job_id, key.name)
        except UnknownJobError as exc:
            raise HTTPException(404, str(exc)) from None
        except JobFinishedError as exc:
            raise HTTPException(409, str(exc)) from None
        return Response(job_json(job, store.decisions(job_id)), 200 if cancelled else 202,
                        media_type="application/json")

    @v1.post("/plans/{job_id}/outcomes", response_model=OutcomeImport, summary="Import a launched plan's outcomes",
             openapi_extra={"requestBody": {"required": True, "content": {
                 t: {"schema": {"type": "string", "format": "binary"}} for t in OUTCOME_TYPES}}},
             responses={404: {"description": "No such plan"},
                        409: {"description": "The plan has not finished or has no launch design"},
                        415: {"description": "Not CSV, Parquet or JSON lines"},
                        422: {"description": "Bad rows (each named) or rows changing stored outcomes without "
                                             "replace: nothing was imported"}})
    async def post_outcomes(job_id: str, request: Request, key: ApproveKey, replace: bool = False) -> OutcomeImport:
        """The body is the file: CSV (``text/csv``), Parquet or JSON lines; one row per customer and arm.

        Columns ``customer_id``, ``arm`` (a variant id or ``holdout``), ``sent_at``, and any of ``opened``,
        ``clicked``, ``converted``, ``revenue``, ``wave``. All rows are imported or none.
        """
        suffix = OUTCOME_TYPES.get(request.headers.get("content-type", "").split(";")[0].strip().lower())
        if suffix is None:
            raise HTTPException(415, f"send the outcomes as one of {sorted(OUTCOME_TYPES)}")
        body = await request.body()

        def run() -> OutcomeImport:
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / f"outcomes{suffix}"
                path.write_bytes(body)
                return import_outcomes(store, settings, job_id, read_table(path), f"upload{suffix}", replace=replace,
                                       actor=f"key:{key.name}")

        try:
            return await run_in_threadpool(run)
        except UnknownPlanError as exc:
            raise HTTPException(404, str(exc)) from None
        except PlanNotReadyError as exc:
            raise HTTPException(409, str(exc)) from None
        except OutcomeImportError as exc:
            raise HTTPException(422, {"summary": exc.summary, "errors": [e.model_dump() for e in exc.errors]}) from None
        except OutcomeDataError as exc:
            raise HTTPException(422, {"summary": str(exc), "errors": []}) from None

    @v1.get("/plans/{job_id}/results", response_model=ExperimentAnalysis,
            summary="A launched plan's measured lift: each variant against the holdout, overall and per segment",
            responses={404: {"description": "No such plan"},
                       409: {"description": "The plan has not finished, or no outcomes are stored"}})
    def get_results(job_id: str, metric: Metric = "converted") -> ExperimentAnalysis:
        try:
            return plan_results(store, settings, job_id, metric)
        except UnknownPlanError as exc:
            raise HTTPException(404, str(exc)) from None
        except (PlanNotReadyError, OutcomeDataError) as exc:
            raise HTTPException(409, str(exc)) from None

    @v1.get("/plans/{job_id}/results.html", response_class=HTMLResponse,
            summary="The results as one HTML page: lift per variant (forest plot), predicted against observed",
            responses={404: {"description": "No such plan"},
                       409: {"description": "The plan has not finished, or no outcomes are stored"}})
    def get_results_page(job_id: str, metric: Metric = "converted") -> HTMLResponse:
        try:
            page = results_page(store, settings, job_id, metric)
        except UnknownPlanError as exc:
            raise HTTPException(404, str(exc)) from None
        except (PlanNotReadyError, OutcomeDataError) as exc:
            raise HTTPException(409, str(exc)) from None
        return HTMLResponse(page, headers=REPORT_HEADERS)

    @v1.get("/plans/{job_id}/results/plot.png", response_class=Response,
            summary="A plot of the results (PNG): kind=lift, or kind=predicted with index (of `predictions`)",
            responses={200: {"content": {"image/png": {}}}, 404: {"description": "No such plan"},
                       409: {"description": "The plan has not finished, no outcomes, or no such prediction"}})
    def get_results_plot(job_id: str, kind: PlotKind = "lift", index: Annotated[int, Query(ge=0, le=10)] = 0,
                         metric: Metric = "converted") -> Response:
        try:
            png = results_plot(store, settings, job_id, kind, index, metric)
        except UnknownPlanError as exc:
            raise HTTPException(404, str(exc)) from None
        except (PlanNotReadyError, OutcomeDataError) as exc:
            raise HTTPException(409, str(exc)) from None
        return Response(png, media_type="image/png")

    @v1.get("/shops", summary="The shops plans can be made for (a brief's `shop`); ready: its tools are loaded")
    def shops() -> dict[str, Any]:
        listed = {s.name: s.model_dump() for s in list_shops(settings)}
        own = tools.for_shop(None).shop
        listed.setdefault(own.name, {"name": own.name, "description": "", "built_in": False, "default": True})
        for info in listed.values():
            info["default"] = info["name"] == own.name
            info["ready"] = tools.ready(info["name"])
            if info["ready"]:  # counts and currency of a loaded shop (loading one here would take minutes)
                loaded = tools.for_shop(info["name"]).shop
                info.update(currency=loaded.currency, customers=len(loaded.customers), products=len(loaded.products))
        return {"shops": list(listed.values())}

    @v1.post("/chat", summary="Chat with the campaign assistant (server-sent events)",
             response_class=EventSourceResponse)
    def chat_turn(body: ChatIn, key: PlanKey) -> EventSourceResponse:
        try:
            _, events = chat.turn(key.id, body.session_id, body.message, body.shop)
        except ChatSessionError as exc:
            raise HTTPException(exc.status, str(exc)) from None
        except ShopDataError as exc:
            raise RequestValidationError([{"type": "value_error", "loc": ("body", "shop"), "msg": str(exc)}]) from None
        return EventSourceResponse(_threaded(events), ping=15)

    @app.get("/healthz", summary="LLM server, vector store and models (no authentication)")
    def healthz(response: Response) -> dict[str, Any]:
        report = health(settings, tools.for_shop(None), chat_model, check_llm, jobs)
        response.status_code = 200 if report["status"] == "ok" else 503
        return report

    app.include_router(v1)
    app.include_router(keys_router())
    app.include_router(privacy_router(settings, tools))
    if not settings.api_public_docs:  # the reference needs a key too: any role reads it
        @app.get("/openapi.json", include_in_schema=False)
        def openapi_schema(_key: ReadKey) -> JSONResponse:
            return JSONResponse(app.openapi())

        @app.get("/docs", include_in_schema=False)
        def swagger(_key: ReadKey) -> HTMLResponse:
            return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} - docs")

        @app.get("/redoc", include_in_schema=False)
        def redoc(_key: ReadKey) -> HTMLResponse:
            return get_redoc_html(openapi_url="/openapi.json", title=f"{app.title} - ReDoc")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", headers=PAGE_HEADERS)

    app.mount("/web", StaticFiles(directory=WEB_DIR), name="web")
    install_error_handling(app)
    return app
