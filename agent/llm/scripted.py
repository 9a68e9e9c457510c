"""A scripted fake backend for tests.

:class:`ScriptedModel` replays the turns it is given, in order. A call with no turn left fails, and
:meth:`ScriptedModel.assert_done` (called on leaving its ``with`` block) fails if a turn was left over, so a
test states exactly which model calls the code under test makes. A turn is either a fixed
:class:`~agent.llm.protocol.ChatReply` or a function of the request (to answer from what was asked).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

from pydantic import BaseModel

from agent.llm.protocol import ChatReply, ChatRequest, ToolCall, Usage

Turn = ChatReply | Callable[[ChatRequest], ChatReply]


class ScriptError(AssertionError):
    """The code under test called the model more or fewer times than scripted."""


def reply_json(value: BaseModel | dict[str, Any], tokens: int = 20) -> ChatReply:
    """Return a reply whose content is ``value`` as JSON (a structured-output answer)."""
    text = value.model_dump_json() if isinstance(value, BaseModel) else json.dumps(value, ensure_ascii=False)
    return ChatReply(content=text, usage=Usage(prompt_tokens=tokens, completion_tokens=tokens), model="scripted")


def reply_candidates(values: list[BaseModel | dict[str, Any] | str], tokens: int = 20) -> ChatReply:
    """Return a reply holding several candidates (an answer to a request with ``n`` > 1), each as JSON.

    A ``str`` value is taken as the candidate's text as is (e.g. invalid JSON).
    """
    texts = [v if isinstance(v, str) else reply_json(v).content for v in values]
    return ChatReply(content=texts[0], contents=texts, usage=Usage(prompt_tokens=tokens, completion_tokens=tokens),
                     model="scripted")


def reply_text(text: str, tokens: int = 10) -> ChatReply:
    """Return a plain text reply."""
    return ChatReply(content=text, usage=Usage(prompt_tokens=tokens, completion_tokens=tokens), model="scripted")


def reply_tool_call(name: str, arguments: dict[str, Any], call_id: str = "call_1") -> ChatReply:
    """Return a reply that calls one tool."""
    call = ToolCall(id=call_id, name=name, arguments=json.dumps(arguments))
    return ChatReply(tool_calls=[call], usage=Usage(prompt_tokens=10, completion_tokens=10), model="scripted")


class ScriptedModel:
    """A :class:`~agent.llm.protocol.ChatModel` that replays scripted turns (thread-safe).

    Args:
        turns: Replies, or functions of the request returning a reply, in call order.
        name: Model name reported in plans.
    """

    def __init__(self, turns: list[Turn] | None = None, name: str = "scripted") -> None:
        self.name = name
        self._turns: list[Turn] = list(turns or [])
        self._lock = threading.Lock()
        self.requests: list[ChatRequest] = []

    def add(self, *turns: Turn) -> None:
        """Append more turns to the script."""
        with self._lock:
            self._turns.extend(turns)

    @property
    def remaining(self) -> int:
        """Turns not yet used."""
        return len(self._turns)

    def chat(self, request: ChatRequest) -> ChatReply:
        """Return the next scripted turn.

        Raises:
            ScriptError: when no turn is left.
        """
        with self._lock:
            self.requests.append(request)
            if not self._turns:
                last = request.messages[-1].content if request.messages else ""
                raise ScriptError(
                    f"unexpected model call #{len(self.requests)} (no scripted turn left); "
                    f"last message: {str(last)[:200]!r}"
                )
            turn = self._turns.pop(0)
        return turn(request) if callable(turn) else turn

    def stream(self, request: ChatRequest) -> Iterator[str]:
        """Yield the next scripted turn's text word by word."""
        text = self.chat(request).content or ""
        for i, word in enumerate(text.split(" ")):
            yield word if i == 0 else " " + word

    def assert_done(self) -> None:
        """Fail if scripted turns were left unused.

        Raises:
            ScriptError: listing how many turns were left.
        """
        if self._turns:
            raise ScriptError(f"{len(self._turns)} scripted turn(s) left over after {len(self.requests)} call(s)")

    def __enter__(self) -> ScriptedModel:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.assert_done()


class FunctionModel(ScriptedModel):
    """A model that answers every call with one function of the request (any number of calls)."""

    def __init__(self, respond: Callable[[ChatRequest], ChatReply], name: str = "function") -> None:
        super().__init__([], name=name)
        self._respond = respond

    def chat(self, request: ChatRequest) -> ChatReply:
        """Answer with the function."""
        with self._lock:
            self.requests.append(request)
        return self._respond(request)
