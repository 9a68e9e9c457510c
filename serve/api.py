"""The campaign-plan HTTP API (FastAPI): plan jobs, their live events, human review, chat, health, web page.

Build it with :func:`create_app`; every dependency is injected (the plan-loop tools, the chat LLM, the
planner factory, the LLM probe), so tests run the real app on a scripted LLM. OpenAPI: ``/openapi.json``,
``/docs``. Every ``/v1`` route needs ``Authorization: Bearer <key>``; ``/healthz`` and the page shell do not.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field, ValidationError
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from agent.brief import Brief
from agent.llm import ChatModel
from agent.loop import Planner, PlannerTools
from agent.plan import CampaignPlan
from agent.settings import Settings
from serve.auth import require_key
from serve.chat import ChatEvent, ChatService, ChatSessionError
from serve.health import health
from serve.jobs import JobManager, PlannerFactory, QueueFullError
from serve.store import TERMINAL, DecisionRecord, JobRecord, KeyRecord, Store
from tools.audience_filter import AudienceFilter

WEB_DIR = Path(__file__).with_name("web")
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
                "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
WAKE_S = 15.0  # an SSE stream re-reads the database at least this often, even without a notification
Status = Literal["queued", "running", "done", "failed"]
Key = Annotated[KeyRecord, Depends(require_key)]


class Progress(BaseModel):
    """How far a plan is: steps finished of the expected steps (an upper bound until done)."""

    steps_done: int
    steps_expected: int
    current_step: str | None = None


class Decision(BaseModel):
    """A recorded human decision."""

    decision: Literal["approved", "rejected"]
    by: str
    reason: str
    api_key: str = Field(description="Name of the API key that recorded it.")
    at: datetime


class DecisionIn(BaseModel):
    """Who decides and why."""

    by: str = Field(min_length=1, max_length=120, description="The person deciding.")
    reason: str = Field(min_length=1, max_length=2000, description="Why.")


class JobOut(BaseModel):
    """A plan job: status, progress, the human review, and the plan once done."""

    id: str
    status: Status
    error: str | None = Field(None, description="Why the job failed.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: Progress
    review: Literal["pending", "approved", "rejected"] = Field(description="The latest decision, if any.")
    decisions: list[Decision] = Field(description="Audit trail of human decisions, oldest first.")
    brief: Brief
    links: dict[str, str]
    plan: CampaignPlan | None = None


class JobSummary(BaseModel):
    """A plan job in a list."""

    id: str
    name: str
    status: Status
    created_at: datetime
    progress: Progress


class ChatIn(BaseModel):
    """A marketer's message."""

    message: str = Field(min_length=1, max_length=4000)
    session_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{8,64}$", description="Omit to start a session.")


def _decision(d: DecisionRecord) -> Decision:
    return Decision(decision=d.decision, by=d.by, reason=d.reason, api_key=d.api_key, at=d.at)


def _progress(job: JobRecord) -> Progress:
    return Progress(steps_done=job.steps_done, steps_expected=job.steps_expected, current_step=job.current_step)


def job_json(job: JobRecord, decisions: list[DecisionRecord]) -> str:
    """The JSON of :class:`JobOut`, with the stored plan text spliced in (not parsed again per request)."""
    trail = [_decision(d) for d in decisions]
    envelope = JobOut(
        id=job.id, status=job.status, error=job.error, created_at=job.created_at,
        started_at=job.started_at, finished_at=job.finished_at, progress=_progress(job),
        review=trail[-1].decision if trail else "pending", decisions=trail, brief=Brief.model_validate(job.brief),
        links={"self": f"/v1/plans/{job.id}", "events": f"/v1/plans/{job.id}/events"},
    ).model_dump_json(exclude={"plan"})
    return envelope[:-1] + ',"plan":' + (job.plan or "null") + "}"


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
    tools: PlannerTools,
    chat_model: ChatModel,
    *,
    planner_factory: PlannerFactory | None = None,
    store: Store | None = None,
    llm_probe: Callable[[], list[str] | None] | None = None,
) -> FastAPI:
    """Build the API.

    Args:
        settings: Settings (database URL, workers, queue size, chat options, LLM URL).
        tools: The plan-loop tools (also used by the chat and to check briefs against the shop).
        chat_model: The LLM backend of the chat agent.
        planner_factory: Builds the planner of a job from its step callback; default
            :class:`agent.loop.Planner` on ``tools``.
        store: The database; default ``Store(settings.database_url)``.
        llm_probe: Returns the model names the LLM server offers, or None when it does not answer;
            default: probe ``settings.effective_llm_url``.

    Returns:
        The FastAPI application; jobs start and recover when its lifespan starts.
    """
    from serve.llm_server import probe

    store = store or Store(settings.database_url)
    factory = planner_factory or (lambda on_step: Planner(tools, settings.llm_concurrency, settings.seed, on_step))
    jobs = JobManager(store, factory, settings.api_workers, settings.api_queue_size)
    chat = ChatService(settings, tools, chat_model, store, lambda owner: lambda brief: jobs.submit(brief, owner))
    check_llm = llm_probe or (lambda: probe(settings.effective_llm_url))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(jobs.start)
        yield
        await run_in_threadpool(jobs.stop)

    app = FastAPI(title="campaign-agent API", version="1", lifespan=lifespan,
                  description="Campaign plans from briefs (audience, products, copy, predicted effect), "
                              "human review, and a marketer chat. Authenticate with `Authorization: Bearer <key>` "
                              "(create keys with `campaign keys create --name NAME`).")
    app.state.store, app.state.jobs, app.state.chat = store, jobs, chat
    v1 = APIRouter(prefix="/v1", dependencies=[Depends(require_key)])

    def load(job_id: str) -> JobRecord:
        job = store.job(job_id)
        if job is None:
            raise HTTPException(404, f"no plan {job_id}")
        return job

    @v1.post("/plans", status_code=202, response_model=JobOut, summary="Queue a plan for a brief",
             responses={429: {"description": "The queue is full"}, 422: {"description": "Invalid brief"}})
    def create_plan(brief: Brief, key: Key) -> Response:
        try:
            checked = AudienceFilter.model_validate(brief.audience_filter.model_dump(),
                                                    context={"vocabulary": tools.profiles.store.vocabulary()})
        except ValidationError as exc:
            raise _field_errors(exc, ("body", "audience_filter")) from None
        try:
            job = jobs.submit(brief.model_copy(update={"audience_filter": checked}), key.id)
        except QueueFullError as exc:
            raise HTTPException(429, str(exc), headers={"Retry-After": "30"}) from None
        return Response(job_json(job, []), 202, media_type="application/json",
                        headers={"Location": f"/v1/plans/{job.id}"})

    @v1.get("/plans", response_model=list[JobSummary], summary="Recent plans, newest first")
    def list_plans(limit: Annotated[int, Query(ge=1, le=200)] = 50, status: Status | None = None
                   ) -> list[JobSummary]:
        return [JobSummary(id=j.id, name=str(j.brief.get("name", "")), status=j.status,
                           created_at=j.created_at, progress=_progress(j)) for j in store.jobs(limit, status)]

    @v1.get("/plans/{job_id}", response_model=JobOut, summary="Status, progress, review and the plan when done")
    def get_plan(job_id: str) -> Response:
        return Response(job_json(load(job_id), store.decisions(job_id)), media_type="application/json")

    @v1.get("/plans/{job_id}/events", summary="Step events as server-sent events (past ones replayed first)",
            response_class=EventSourceResponse)
    async def plan_events(job_id: str, last_event_id: Annotated[int, Header(ge=0)] = 0) -> EventSourceResponse:
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
                for e in await run_in_threadpool(store.events_after, job_id, after):
                    after = e.id
                    yield ServerSentEvent(data=json.dumps(e.data, ensure_ascii=False), event=e.kind, id=str(e.id))
                    if e.kind == "status" and e.data.get("status") in TERMINAL:
                        return
                with suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), WAKE_S)
        finally:
            jobs.remove_listener(job_id, notify)

    def decide(job_id: str, decision: str, body: DecisionIn, key: KeyRecord) -> Response:
        job = load(job_id)
        if job.status != "done":
            raise HTTPException(409, f"plan {job_id} is {job.status}; only a finished plan can be reviewed")
        store.add_decision(job_id, decision, body.by, body.reason, key.name)
        return Response(job_json(job, store.decisions(job_id)), media_type="application/json")

    @v1.post("/plans/{job_id}/approve", response_model=JobOut, summary="Approve a finished plan (who and why)")
    def approve(job_id: str, body: DecisionIn, key: Key) -> Response:
        return decide(job_id, "approved", body, key)

    @v1.post("/plans/{job_id}/reject", response_model=JobOut, summary="Reject a finished plan (who and why)")
    def reject(job_id: str, body: DecisionIn, key: Key) -> Response:
        return decide(job_id, "rejected", body, key)

    @v1.post("/chat", summary="Chat with the campaign assistant (server-sent events)",
             response_class=EventSourceResponse)
    def chat_turn(body: ChatIn, key: Key) -> EventSourceResponse:
        try:
            _, events = chat.turn(key.id, body.session_id, body.message)
        except ChatSessionError as exc:
            raise HTTPException(exc.status, str(exc)) from None
        return EventSourceResponse(_threaded(events), ping=15)

    @app.get("/healthz", summary="LLM server, vector store and models (no authentication)")
    def healthz(response: Response) -> dict[str, Any]:
        report = health(settings, tools, chat_model, check_llm, jobs)
        response.status_code = 200 if report["status"] == "ok" else 503
        return report

    app.include_router(v1)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", headers=PAGE_HEADERS)

    app.mount("/web", StaticFiles(directory=WEB_DIR), name="web")
    return app
