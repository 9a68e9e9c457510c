"""The marketer chat: constrained routing to the plan loop's tools, then an answer grounded in their results.

A turn (see :meth:`ChatService.turn`) reads the message (:func:`serve.chat_routing.read_message`), lets the
model choose what is left to choose as JSON with enums (:func:`serve.chat_routing.route`), calls the tools in
order with arguments from the message and the shop's vocabulary (a later tool takes the products an earlier
one recommended), then asks the model for an answer from the results and checks it
(:mod:`serve.chat_answers`); a failing answer is replaced by the template answer. When no tool fits, or the
message asks about one customer, the chat says what it can do (``prompts/chat_answer_none.jinja``).

Events, in order: ``session``, ``route`` (the tools, audience and arguments read from the message, who chose
them, the sentences ignored as injected instructions), then per tool ``tool_call`` and ``tool_result``, then the
answer as ``token`` events, then ``done`` with ``answer``, ``source`` (``llm``, ``template`` or ``none``), the
rejected answer's ``problems`` and the ``plan_id`` of a plan the turn created; or ``error``.
Conversations are persisted in the API database (table ``chat_messages``) as LangChain messages: the human
message, one AI message with the tool calls, the tool messages, and the answer.
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    ToolMessage,
    messages_from_dict,
    messages_to_dict,
)
from langchain_core.tools import BaseTool
from pydantic import ValidationError

from agent.llm import ChatModel, LLMError, describe_validation_error
from agent.loop import PlannerTools, ToolSource
from agent.settings import Settings
from serve.chat_answers import (
    Answer,
    StepResult,
    display_titles,
    in_language,
    none_answer,
    parse_result,
    template_answer,
    ungrounded,
    write_answer,
)
from serve.chat_routing import Route, RouteOptions, read_message, route
from serve.chat_tools import Submit, build_chat_tools
from serve.store import Store

log = logging.getLogger(__name__)

RESULT_PREVIEW = 2000
BUSY = "the previous reply in this session is still being written"
RECOMMENDED = 5
EFFECT_PRODUCTS = 3


class ChatSessionError(RuntimeError):
    """The session cannot take this message.

    Attributes:
        status: HTTP status for the API (404 unknown session, 409 a reply is still being written).
    """

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class ChatEvent:
    """One streamed event: ``session``, ``route``, ``token``, ``tool_call``, ``tool_result``, ``error`` or ``done``."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


def _recent(messages: list[BaseMessage]) -> list[BaseMessage]:
    """Drop leading messages until a human one, so no tool result is cut from its call."""
    for i, message in enumerate(messages):
        if isinstance(message, HumanMessage):
            return messages[i:]
    return []


def last_audience(history: list[BaseMessage]) -> str | None:
    """The audience of the session's latest tool call (a follow-up like "and a plan please" names none)."""
    for message in reversed(history):
        if isinstance(message, AIMessage):
            for call in message.tool_calls:
                audience = call["args"].get("audience")
                if isinstance(audience, str) and audience:
                    return audience
    return None


def tool_arguments(tool: str, chosen: Route, options: RouteOptions, done: list[StepResult]) -> dict[str, Any] | str:
    """The arguments of ``tool``: the audience span, the message's vocabulary values, earlier results.

    Returns:
        The arguments, or why the tool cannot be called (no product to take from an earlier step).
    """
    vocab = options.vocabulary
    audience = {"audience": chosen.audience, "lifecycle": options.lifecycle, vocab.interest_key: options.interests}
    recommended = [p["product_id"] for s in done if s.tool == "recommend_products" and not s.failed
                   for p in s.result.get("products", [])]
    products = options.product_ids or recommended
    if tool == "find_audience":
        return audience
    if tool == "recommend_products":
        return {**audience, "k": RECOMMENDED}
    if tool in ("predict_effect", "write_copy") and not products:
        return "no product was named or recommended"
    if tool == "predict_effect":
        return {**audience, "product_ids": products[:EFFECT_PRODUCTS]}
    if tool == "write_copy":
        return {"product_id": products[0], "channel": (options.channels or ["email"])[0],
                "goal": options.kept[:300], "audience": chosen.audience, "language": options.language,
                "offer_code": options.offers[0] if options.offers else None}
    return {"name": f"Chat: {chosen.audience}"[:80], "goal": options.kept[:300], "audience": chosen.audience,
            "channels": options.channels or ["email"], "send_budget": options.send_budget or 10000,
            "language": options.language, **{k: v for k, v in audience.items() if k != "audience"}}


def call_tool(tool: BaseTool, arguments: dict[str, Any]) -> dict[str, Any]:
    """Call a chat tool; arguments that fail its schema come back as ``{"error": ...}``."""
    try:
        return parse_result(str(tool.invoke(arguments)))
    except ValidationError as exc:
        return {"error": describe_validation_error(exc)}


class ChatService:
    """Runs chat turns.

    Args:
        settings: History length and seed.
        tools: The plan loop's tools: one shop's, or a source of every shop's (a turn may name its shop).
        model: The chat LLM backend.
        store: Where conversations are kept.
        submit_for: Given the caller's key id, a function that queues a plan job for them.
    """

    def __init__(self, settings: Settings, tools: ToolSource, model: ChatModel, store: Store,
                 submit_for: Callable[[str], Submit]) -> None:
        self.settings = settings
        self.tools = tools
        self.model = model
        self.store = store
        self.submit_for = submit_for
        self._busy: set[str] = set()
        self._lock = threading.Lock()
        self._titles: dict[str, list[str]] = {}

    def catalog_titles(self, tools: PlannerTools) -> list[str]:
        """The shop's product titles as displayed (cached per shop)."""
        if tools.shop.name not in self._titles:
            self._titles[tools.shop.name] = display_titles(tools.shop.products)
        return self._titles[tools.shop.name]

    def turn(self, owner: str, session_id: str | None, text: str, shop: str | None = None
             ) -> tuple[str, Iterator[ChatEvent]]:
        """Start a turn about ``shop`` (None: the default shop): check the session, return its id and the events.

        Raises:
            ChatSessionError: the session belongs to another key (reported as unknown) or is busy.
            ShopDataError: unknown shop.
        """
        self.tools.for_shop(shop)
        session_id = session_id or uuid.uuid4().hex
        if self.store.session_owner(session_id) not in (None, owner):
            raise ChatSessionError(f"no chat session {session_id}", 404)
        if session_id in self._busy:
            raise ChatSessionError(BUSY, 409)
        return session_id, self._events(owner, session_id, text, shop)

    def _events(self, owner: str, session_id: str, text: str, shop: str | None) -> Iterator[ChatEvent]:
        with self._lock:  # taken when the stream starts, so a stream never started cannot leave it taken
            if session_id in self._busy:
                yield ChatEvent("error", {"message": BUSY})
                return
            self._busy.add(session_id)
        try:
            yield ChatEvent("session", {"session_id": session_id})
            yield from self._run(owner, session_id, text, shop)
        finally:
            with self._lock:
                self._busy.discard(session_id)

    def _run(self, owner: str, session_id: str, text: str, shop: str | None) -> Iterator[ChatEvent]:
        history = _recent(messages_from_dict(self.store.messages(session_id, self.settings.chat_history_messages)))
        human = HumanMessage(text)
        new: list[BaseMessage] = [human]
        try:
            tools = self.tools.for_shop(shop)
            options = read_message(text, tools, last_audience(history))
            chosen = route(options, self.model, self.settings.seed)
            yield ChatEvent("route", {"tools": chosen.tools, "audience": chosen.audience, "source": chosen.source,
                                      "options": options.steps, "lifecycle": options.lifecycle,
                                      options.vocabulary.interest_key: options.interests,
                                      "language": options.language, "ignored": options.ignored,
                                      "problems": chosen.problems})
            steps: list[StepResult] = []
            if chosen.tools:
                by_name = {t.name: t for t in build_chat_tools(tools, self.submit_for(owner))}
                for index, name in enumerate(chosen.tools):
                    arguments = tool_arguments(name, chosen, options, steps)
                    call_id = f"call_{uuid.uuid4().hex[:8]}_{index}"
                    if isinstance(arguments, str):
                        steps.append(StepResult(name, call_id, {}, {"error": arguments}))
                        continue
                    yield ChatEvent("tool_call", {"id": call_id, "name": name, "arguments": arguments})
                    result = call_tool(by_name[name], arguments)
                    steps.append(StepResult(name, call_id, arguments, result))
                    yield ChatEvent("tool_result", {"id": call_id, "name": name,
                                                    "status": "error" if "error" in result else "success",
                                                    "content": parse_json_text(result)[:RESULT_PREVIEW]})
                answer = self._answer(options, steps, tools)
            else:
                reason = "private" if options.private else "nothing"
                answer = Answer(none_answer(options.language, reason, options.vocabulary.interest_key,
                                            list(options.vocabulary.interests)), source="none")
        except Exception as exc:  # reported to the marketer as one line; the details go to the server log
            log.exception("chat turn failed in session %s", session_id)
            reason = str(exc) if isinstance(exc, LLMError) else f"the assistant failed: {type(exc).__name__}: {exc}"
            self.store.add_messages(session_id, owner, messages_to_dict([human]))
            yield ChatEvent("error", {"message": reason})
            return
        for i, word in enumerate(answer.text.split(" ")):
            yield ChatEvent("token", {"text": word if i == 0 else " " + word})
        called = [s for s in steps if s.arguments]
        if called:
            new.append(AIMessage("", tool_calls=[{"name": s.tool, "args": s.arguments, "id": s.call_id}
                                                 for s in called]))
            new += [ToolMessage(parse_json_text(s.result), tool_call_id=s.call_id, name=s.tool,
                                status="error" if s.failed else "success") for s in called]
        new.append(AIMessage(answer.text))
        self.store.add_messages(session_id, owner, messages_to_dict(new))
        plan = next((s.result["plan_id"] for s in steps if s.tool == "create_plan" and "plan_id" in s.result), None)
        yield ChatEvent("done", {"answer": answer.text, "source": answer.source, "problems": answer.problems,
                                 "plan_id": plan})

    def _answer(self, options: RouteOptions, steps: list[StepResult], tools: PlannerTools) -> Answer:
        """The model's answer from the results if it passes validation, else the template answer."""
        if all(s.failed for s in steps):
            return Answer(template_answer(steps, options.language), source="template",
                          problems=["every tool failed: the answer states the errors"])
        return write_answer(self.model, options.kept, steps, options.language, self.catalog_titles(tools),
                            self.settings.seed)


def parse_json_text(result: dict[str, Any]) -> str:
    """A tool result as the JSON text the event stream and the stored tool message carry."""
    return json.dumps(result, ensure_ascii=False, default=str)


class ChatTurnRunner:
    """One-turn conversations on a temporary database, for the chat eval (:class:`eval.chat_eval.ChatRunner`).

    A plan the chat creates is queued in that database and never run. Built by :func:`chat_eval_runner`, which
    ``agent.cli`` registers with the eval (the eval layer does not import ``serve``).

    Args:
        settings: Settings (seed, history length).
        tools: Every shop's tools.
        model: The chat model.
    """

    def __init__(self, settings: Settings, tools: ToolSource, model: ChatModel) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="chat-eval-")
        store = Store(f"sqlite:///{Path(self._folder.name) / 'chat.db'}")

        def submit_for(owner: str) -> Submit:
            return lambda brief: store.add_job(uuid.uuid4().hex[:16], owner, brief.model_dump(mode="json"), 1)

        self.tools = tools
        self.service = ChatService(settings, tools, model, store, submit_for)

    def prepare(self, shop: str) -> None:
        """Load ``shop``'s tools and titles (so no turn's time includes loading them)."""
        self.service.catalog_titles(self.tools.for_shop(shop))

    def turn(self, message: str, shop: str) -> list[tuple[str, dict[str, Any]]]:
        """Send ``message`` about ``shop`` in a new session; return the events as (kind, data)."""
        _, stream = self.service.turn("chat-eval", None, message, shop)
        return [(e.kind, e.data) for e in stream]

    def ungrounded(self, answer: str, events: list[tuple[str, dict[str, Any]]], shop: str) -> list[str]:
        """Check the answer again against the tool calls and results of its events (:func:`ungrounded`)."""
        calls = {d["id"]: d for e, d in events if e == "tool_call"}
        steps = [StepResult(d["name"], d["id"], calls.get(d["id"], {}).get("arguments", {}),
                            parse_result(d["content"])) for e, d in events if e == "tool_result"]
        return ungrounded(answer, steps, self.service.catalog_titles(self.tools.for_shop(shop)))

    def in_language(self, answer: str, language: str) -> bool:
        """True when the answer is in ``language`` (en or zh)."""
        return in_language(answer, "zh" if language == "zh" else "en")

    def close(self) -> None:
        """Remove the temporary database."""
        self.service.store.engine.dispose()
        self._folder.cleanup()


def chat_eval_runner(settings: Settings, tools: ToolSource, model: ChatModel) -> ChatTurnRunner:
    """Return a :class:`ChatTurnRunner` (the chat eval's runner factory)."""
    return ChatTurnRunner(settings, tools, model)
