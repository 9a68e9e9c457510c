"""The marketer chat: a LangChain tool-calling agent over the plan loop's tools, one session per conversation.

Each turn builds an agent with LangChain's ``create_agent`` on :class:`serve.langchain_model.ProtocolChatModel`
(so any :class:`agent.llm.protocol.ChatModel` answers) and yields events as they happen: answer tokens, tool calls,
tool results, then ``done``. Conversations are persisted in the API database (table ``chat_messages``):
they survive restarts, and only the last ``settings.chat_history_messages`` go to the model.

Tool choice: with ``settings.chat_tool_choice == "required"`` (the default) the first model step of a turn
must call a tool, and the step after the tool result gets no tools and a one-line request to answer from the
result (``ANSWER_NUDGE``, not stored), so the model answers in words, streamed; without that line the 135M
model tends to echo the tool response.
Small models need this: the embedded SmolLM2-135M never calls a tool when ``tool_choice`` is ``"auto"``.
With ``"auto"`` a capable model chains tools and decides when to answer (up to
``settings.chat_max_model_calls`` model calls per turn).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain.agents import create_agent
from langchain.agents.middleware import AgentMiddleware, ModelCallLimitMiddleware, ModelRequest, ModelResponse
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    ToolMessage,
    messages_from_dict,
    messages_to_dict,
)

from agent.llm import ChatModel, LLMError
from agent.loop import ToolSource
from agent.settings import Settings
from prompts import render
from serve.chat_tools import Submit, build_chat_tools
from serve.langchain_model import ProtocolChatModel
from serve.store import Store

log = logging.getLogger(__name__)

SYSTEM_PROMPT = render("chat_system.jinja")
ANSWER_NUDGE = render("chat_answer_nudge.jinja")  # sent after a tool result when a tool call was required
RESULT_PREVIEW = 2000
BUSY = "the previous reply in this session is still being written"


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
    """One streamed event: ``session``, ``token``, ``tool_call``, ``tool_result``, ``error`` or ``done``."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


class ToolChoicePolicy(AgentMiddleware):
    """Sets ``tool_choice`` per model step (see the module docstring).

    Args:
        mode: ``"required"``: a tool first, then an answer without tools. ``"auto"``: the model decides.
    """

    def __init__(self, mode: Literal["required", "auto"]) -> None:
        super().__init__()
        self.mode = mode

    def wrap_model_call(self, request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]
                        ) -> ModelResponse:
        """Override ``tool_choice`` (and drop the tools for the answering step) before the model call."""
        if self.mode == "auto":
            return handler(request.override(tool_choice="auto"))
        if request.messages and isinstance(request.messages[-1], HumanMessage):
            return handler(request.override(tool_choice="required"))
        nudge = HumanMessage(ANSWER_NUDGE)  # sent to the model only, not kept in the conversation
        return handler(request.override(tools=[], tool_choice=None, messages=[*request.messages, nudge]))


def _recent(messages: list[BaseMessage]) -> list[BaseMessage]:
    """Drop leading messages until a human one, so no tool result is cut from its call."""
    for i, message in enumerate(messages):
        if isinstance(message, HumanMessage):
            return messages[i:]
    return []


class ChatService:
    """Runs chat turns.

    Args:
        settings: Tool-choice mode, history length, model-call limit, seed.
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

    def agent(self, owner: str, shop: str | None = None) -> Any:
        """Build the LangChain agent for one turn of ``owner`` (the key id that creates plans) about ``shop``."""
        middleware: list[Any] = [
            ToolChoicePolicy(self.settings.chat_tool_choice),
            ModelCallLimitMiddleware(run_limit=self.settings.chat_max_model_calls, exit_behavior="end"),
        ]
        return create_agent(
            ProtocolChatModel(backend=self.model, temperature=0.3, max_tokens=300, seed=self.settings.seed),
            tools=build_chat_tools(self.tools.for_shop(shop), self.submit_for(owner)),
            system_prompt=SYSTEM_PROMPT,
            middleware=middleware,
        )

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
        answer, streamed = "", False
        try:
            stream = self.agent(owner, shop).stream({"messages": [*history, human]},
                                                    stream_mode=["messages", "updates"])
            for mode, data in stream:
                if mode == "messages":
                    chunk, meta = data
                    if isinstance(chunk, AIMessageChunk) and meta.get("langgraph_node") == "model" and chunk.text:
                        streamed = True
                        yield ChatEvent("token", {"text": chunk.text})
                    continue
                for update in data.values():
                    for message in (update or {}).get("messages", []) if isinstance(update, dict) else []:
                        new.append(message)
                        if isinstance(message, AIMessage):
                            if message.text and not streamed:
                                yield ChatEvent("token", {"text": message.text})
                            streamed = False
                            answer = message.text if not message.tool_calls else answer
                            for call in message.tool_calls:
                                yield ChatEvent("tool_call", {"id": call["id"], "name": call["name"],
                                                              "arguments": call["args"]})
                        elif isinstance(message, ToolMessage):
                            yield ChatEvent("tool_result", {"id": message.tool_call_id, "name": message.name,
                                                            "status": message.status,
                                                            "content": message.text[:RESULT_PREVIEW]})
        except Exception as exc:  # reported to the marketer as one line; the details go to the server log
            log.exception("chat turn failed in session %s", session_id)
            reason = str(exc) if isinstance(exc, LLMError) else f"the assistant failed: {type(exc).__name__}: {exc}"
            self.store.add_messages(session_id, owner, messages_to_dict([human]))
            yield ChatEvent("error", {"message": reason})
            return
        self.store.add_messages(session_id, owner, messages_to_dict(new))
        yield ChatEvent("done", {"answer": answer})
