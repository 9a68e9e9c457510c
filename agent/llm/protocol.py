"""The one small protocol between the agent and a language model.

:class:`ChatModel` is the whole contract: one method, ``chat``, taking a :class:`ChatRequest` and returning a
:class:`ChatReply` (and ``stream`` for text pieces). :class:`agent.llm.openai_backend.OpenAIBackend` speaks the
OpenAI-compatible protocol that vLLM serves; tests use :class:`agent.llm.scripted.ScriptedModel`. The agent never
knows which one answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

Role = Literal["system", "user", "assistant", "tool"]


class ToolCall(BaseModel):
    """A function call the model asked for."""

    id: str
    name: str
    arguments: str = Field(description="JSON text of the arguments, as the model wrote it.")

    def parsed_arguments(self) -> dict[str, Any]:
        """Return the arguments as a dict (raises ``ValueError`` on invalid JSON)."""
        value = json.loads(self.arguments or "{}")
        if not isinstance(value, dict):
            raise ValueError("tool arguments must be a JSON object")
        return value


class Message(BaseModel):
    """One chat message."""

    role: Role
    content: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None

    def to_openai(self) -> dict[str, Any]:
        """Return the message in the OpenAI wire format."""
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in self.tool_calls
            ]
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        return out


class ToolSpec(BaseModel):
    """A function the model may call, described by a JSON schema of its parameters."""

    name: str
    description: str
    parameters: dict[str, Any]


class ChatRequest(BaseModel):
    """Everything one model call needs.

    Attributes:
        messages: The conversation so far.
        response_schema: JSON schema the reply must follow (sent as ``response_format`` json_schema).
        schema_name: Name of that schema.
        tools: Functions the model may call.
        tool_choice: ``"auto"``, ``"required"``, ``"none"`` or the name of one tool.
        temperature: Sampling temperature.
        max_tokens: Upper bound of generated tokens.
        seed: Sampling seed, for repeatable runs.
        frequency_penalty: Lowers a token's logit by this much per time it was already generated (the OpenAI
            parameter; keeps a small model from looping on one phrase). 0: off.
        n: Candidates to sample for the same prompt in one call (the OpenAI ``n``; vLLM shares the prompt's
            prefix between them and seeds candidate ``i`` with ``seed + i``).
    """

    messages: list[Message]
    response_schema: dict[str, Any] | None = None
    schema_name: str = "reply"
    tools: list[ToolSpec] = Field(default_factory=list)
    tool_choice: str | None = None
    temperature: float = 0.7
    max_tokens: int = 400
    seed: int | None = None
    frequency_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    n: int = Field(1, ge=1, le=16)


class Usage(BaseModel):
    """Token counts of one call."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


class ChatReply(BaseModel):
    """What the model answered.

    ``content`` is the first (or only) candidate; a request with ``n`` > 1 gets every candidate's text in
    ``contents``, in the server's order (``contents[0]`` is ``content``).
    """

    content: str | None = None
    contents: list[str | None] = Field(default_factory=list, description="Every candidate's text (n > 1).")
    tool_calls: list[ToolCall] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    model: str = ""
    latency_s: float = 0.0
    finish_reason: str | None = None

    @property
    def candidates(self) -> list[str | None]:
        """Every candidate's text: ``contents`` when the reply holds several, else ``[content]``."""
        return list(self.contents) if self.contents else [self.content]


@runtime_checkable
class ChatModel(Protocol):
    """The protocol every LLM backend implements."""

    name: str

    def chat(self, request: ChatRequest) -> ChatReply:
        """Answer one request."""
        ...

    def stream(self, request: ChatRequest) -> Iterator[str]:
        """Yield the reply text in pieces as it is generated."""
        ...


class LLMError(RuntimeError):
    """The LLM server could not be reached or answered with an error."""
