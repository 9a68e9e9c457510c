"""LLM backends behind one small protocol.

:class:`ChatModel` is the whole contract between the agent and a language model: one method, ``chat``,
taking a :class:`ChatRequest` and returning a :class:`ChatReply`. :class:`OpenAIBackend` speaks the
OpenAI-compatible protocol that vLLM serves (on a GPU in production, on the CPU as the embedded default);
the agent never knows which server answers. Tests use :class:`agent.scripted.ScriptedModel`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from agent.settings import Settings

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
    """

    messages: list[Message]
    response_schema: dict[str, Any] | None = None
    schema_name: str = "reply"
    tools: list[ToolSpec] = Field(default_factory=list)
    tool_choice: str | None = None
    temperature: float = 0.7
    max_tokens: int = 400
    seed: int | None = None


class Usage(BaseModel):
    """Token counts of one call."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


class ChatReply(BaseModel):
    """What the model answered."""

    content: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    model: str = ""
    latency_s: float = 0.0
    finish_reason: str | None = None


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


class OpenAIBackend:
    """Backend for any OpenAI-compatible server (vLLM on CPU or GPU, or a hosted API).

    Args:
        base_url: Server base URL ending in ``/v1``.
        model: Model name the server answers to.
        api_key: API key (vLLM accepts any unless started with ``--api-key``).
        timeout_s: Timeout of one request.
    """

    def __init__(self, base_url: str, model: str, api_key: str = "EMPTY", timeout_s: float = 180.0) -> None:
        from openai import OpenAI

        self.name = model
        self.base_url = base_url
        self._client = OpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=1)

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIBackend:
        """Build the backend the settings point at."""
        return cls(
            base_url=settings.effective_llm_url,
            model=settings.llm_model,
            api_key=settings.llm_api_key.get_secret_value(),
            timeout_s=settings.llm_timeout_s,
        )

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.name,
            "messages": [m.to_openai() for m in request.messages],
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
        }
        if request.seed is not None:
            params["seed"] = request.seed
        if request.response_schema is not None:
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": request.schema_name, "schema": request.response_schema},
            }
        if request.tools:
            params["tools"] = [
                {"type": "function", "function": t.model_dump()} for t in request.tools
            ]
            choice = request.tool_choice or "auto"
            if choice in ("auto", "required", "none"):
                params["tool_choice"] = choice
            else:
                params["tool_choice"] = {"type": "function", "function": {"name": choice}}
        return params

    def chat(self, request: ChatRequest) -> ChatReply:
        """Send one request and convert the answer.

        Raises:
            LLMError: when the server cannot be reached or answers with an error.
        """
        import openai

        started = time.perf_counter()
        try:
            completion = self._client.chat.completions.create(**self._params(request))
        except openai.APIConnectionError as exc:
            raise LLMError(f"cannot reach the LLM server at {self.base_url}: {exc}") from exc
        except openai.APIStatusError as exc:
            raise LLMError(f"LLM server at {self.base_url} answered {exc.status_code}: {exc.message}") from exc
        choice = completion.choices[0]
        calls = [
            ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments or "{}")
            for c in (choice.message.tool_calls or [])
            if getattr(c, "function", None) is not None
        ]
        usage = completion.usage
        return ChatReply(
            content=choice.message.content,
            tool_calls=calls,
            usage=Usage(
                prompt_tokens=usage.prompt_tokens if usage else 0,
                completion_tokens=usage.completion_tokens if usage else 0,
            ),
            model=completion.model,
            latency_s=time.perf_counter() - started,
            finish_reason=choice.finish_reason,
        )

    def stream(self, request: ChatRequest) -> Iterator[str]:
        """Yield reply text pieces as the server streams them.

        Raises:
            LLMError: when the server cannot be reached or answers with an error.
        """
        import openai

        try:
            chunks = self._client.chat.completions.create(**self._params(request), stream=True)
            for chunk in chunks:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        except openai.APIConnectionError as exc:
            raise LLMError(f"cannot reach the LLM server at {self.base_url}: {exc}") from exc
        except openai.APIStatusError as exc:
            raise LLMError(f"LLM server at {self.base_url} answered {exc.status_code}: {exc.message}") from exc
