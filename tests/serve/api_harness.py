"""What the API tests share: a small brief, scripted copy and chat models, the real app on them, keys, events.

Imported by tests/serve and tests/e2e; the ``api_tools`` fixture (the loop's real tools with :func:`copywriter`)
is in tests/conftest.py.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from agent.brief import Brief
from agent.llm import ChatModel, ChatReply, ChatRequest, FunctionModel, reply_json, reply_text
from agent.loop import PlannerTools
from agent.plan import CampaignPlan
from agent.settings import Settings
from agent.trace import StepListener, TraceRecorder
from serve.api import create_app
from serve.auth import create_key
from serve.store import Store

WAIT_S = 120  # upper bound for a worker to reach a point the test waits for; only a broken feature hits it

SMALL_BRIEF: dict[str, Any] = {
    "name": "Win back sci-fi fans", "goal": "Win back lapsed sci-fi fans before the holidays",
    "audience": "lapsed science fiction fans", "audience_filter": {"lifecycle": ["lapsed"], "genres": ["sci fi"]},
    "channels": ["email", "push"], "send_budget": 5000, "max_segments": 2, "variants_per_channel": 1,
    "max_revisions": 1,
}


def copywriter(request: ChatRequest) -> ChatReply:
    """Answer a copy prompt from the facts it states."""
    prompt = request.messages[-1].content or ""
    name = re.search(r"^- Name: (.+)$", prompt, re.MULTILINE)
    if name is not None:  # a shop with prices: name the product, its price and the first offer's code and price
        price = re.search(r"^- Price: (\S+)$", prompt, re.MULTILINE)
        offer = re.search(r"^- Offer: code (\S+), .*?, (\S+) after it", prompt, re.MULTILINE)
        body = f"{name.group(1)} for {price.group(1) if price else 'our price'}"
        body += f", or {offer.group(2)} with code {offer.group(1)}." if offer else "."
        return reply_json({"headline": "A gift they will love", "body": body, "cta": "Shop now"})
    title = re.search(r"Title: (.+?)(?: \(write it.*)?$", prompt, re.MULTILINE)
    if title is None:
        return reply_text("?")
    headline = f"{title.group(1)} is back"  # a long title (Dr. Strangelove …) would break push's 45 characters
    return reply_json({"headline": headline if len(headline) <= 45 else "Back for you tonight",
                       "body": f"{title.group(1)} is waiting for you to watch it again tonight.", "cta": "Watch now"})


def _choices(schema: dict[str, Any]) -> list[Any]:
    """The values a JSON-schema enum (or const) allows."""
    return list(schema["enum"]) if "enum" in schema else [schema["const"]]


def chat_llm(request: ChatRequest) -> ChatReply:
    """The chat model: routes to the first allowed tools and audience; answers by restating the tool results."""
    if request.schema_name == "ChatRoute":
        props = (request.response_schema or {})["properties"]
        n = props["tools"]["minItems"]
        return reply_json({"tools": _choices(props["tools"]["items"])[:n], "audience": _choices(props["audience"])[0]})
    assert not request.tools and request.response_schema is None, "the answer is free text, without tools"
    prompt = request.messages[-1].content or ""
    facts = [line[2:] for line in prompt.splitlines() if line.startswith("- ")]
    return reply_text(" ".join(facts) or "?")


def make_app(settings: Settings, planner_tools: PlannerTools, db: Path, planner_factory: Any = None,
             probe: Callable[[], list[str] | None] = lambda: ["scripted"], chat: ChatModel | None = None,
             **overrides: Any) -> FastAPI:
    """The real app on a scripted LLM, with its database at ``db``."""
    local = settings.model_copy(update={"db_url": f"sqlite:///{db}", **overrides})
    return create_app(local, planner_tools, chat or FunctionModel(chat_llm, name="scripted"),
                      planner_factory=planner_factory, llm_probe=probe)


def new_key(db: Path, name: str = "tester") -> dict[str, str]:
    _, key = create_key(Store(f"sqlite:///{db}"), name)
    return {"Authorization": f"Bearer {key}"}


def sse(lines: Iterator[str]) -> list[tuple[str, str | None, dict[str, Any]]]:
    """Parse server-sent events into (event, id, data) triples."""
    out, event, ident, data = [], "message", None, []
    for line in lines:
        if not line:
            if data:
                out.append((event, ident, json.loads("\n".join(data))))
            event, ident, data = "message", None, []
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                event = value
            elif field == "id":
                ident = value
            elif field == "data":
                data.append(value)
    return out


def events(client: TestClient, job_id: str, headers: dict[str, str], after: int | None = None
           ) -> list[tuple[str, str | None, dict[str, Any]]]:
    """All events of a job (after event id ``after``); returns when the stream ends, after the terminal status."""
    extra = {} if after is None else {"Last-Event-ID": str(after)}
    with client.stream("GET", f"/v1/plans/{job_id}/events", headers={**headers, **extra}) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        return sse(response.iter_lines())


class HeldPlanner:
    """A fake planner: stays in its first step until ``release`` is set, then fails (it makes no plan).

    Its steps reach the job through a real :class:`TraceRecorder`, as the plan loop's steps do.
    """

    def __init__(self, on_step: StepListener, started: threading.Event, release: threading.Event,
                 ran: list[str]) -> None:
        self.on_step, self.started, self.release, self.ran = on_step, started, release, ran

    def run(self, brief: Brief) -> CampaignPlan:
        self.ran.append(brief.name)
        trace = TraceRecorder(self.on_step)
        with trace.step("retrieve audience", "held by the test"):
            self.started.set()
            assert self.release.wait(WAIT_S), "the test never released the planner"
        with trace.step("form segments", "held by the test"):
            pass
        raise RuntimeError("the test's planner makes no plan")


class BrokenPlanner:
    """A fake planner whose every run fails, as a planner does when a model file is corrupt."""

    def run(self, brief: Brief) -> CampaignPlan:
        raise RuntimeError("the effect model file is corrupt")
