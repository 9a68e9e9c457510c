"""Structured output: ask for JSON that follows a pydantic model, validate, and re-ask on errors.

The request carries the model's JSON schema as ``response_format`` json_schema, so a server with guided
decoding (vLLM) can only produce well-formed JSON. The reply is still validated with the pydantic model,
including checks that need context (e.g. grounding in catalog facts, passed as ``context``), and on failure
the validation errors are fed back to the model for a bounded number of retries.
"""

from __future__ import annotations

import time
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field, ValidationError

from agent.llm.protocol import ChatModel, ChatRequest, Message, Usage
from prompts import render

T = TypeVar("T", bound=BaseModel)


class StructuredOutputError(RuntimeError):
    """The model gave no valid reply within the allowed attempts.

    Attributes:
        errors: One line per failed attempt.
        usage: Tokens spent on all attempts.
        attempts: Number of model calls made.
    """

    def __init__(self, message: str, errors: list[str], usage: Usage, attempts: int) -> None:
        super().__init__(message)
        self.errors = errors
        self.usage = usage
        self.attempts = attempts


class StructuredResult(BaseModel, Generic[T]):
    """A validated reply and what it took to get it."""

    value: T
    attempts: int
    errors: list[str] = Field(default_factory=list, description="Validation errors of failed attempts.")
    usage: Usage = Field(default_factory=Usage)
    latency_s: float = 0.0


def describe_validation_error(error: ValidationError) -> str:
    """Summarise a pydantic validation error in one line per problem, as fed back to the model."""
    parts = []
    for item in error.errors(include_url=False):
        where = ".".join(str(p) for p in item["loc"]) or "reply"
        parts.append(f"{where}: {item['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def generate_structured(
    model: ChatModel,
    messages: list[Message],
    output_type: type[T],
    *,
    retries: int = 2,
    temperature: float = 0.7,
    max_tokens: int = 400,
    seed: int | None = None,
    context: dict[str, Any] | None = None,
) -> StructuredResult[T]:
    """Ask ``model`` for a reply following ``output_type`` and validate it.

    Args:
        model: Any backend implementing the chat protocol.
        messages: The prompt.
        output_type: Pydantic model the reply must validate against.
        retries: Re-asks after an invalid reply (total calls at most ``retries + 1``).
        temperature: Sampling temperature.
        max_tokens: Upper bound of generated tokens per call.
        seed: Sampling seed of the first call (later calls use ``seed + attempt``).
        context: Validation context passed to the pydantic validators.

    Returns:
        The validated value with attempt count, errors of failed attempts and token usage.

    Raises:
        StructuredOutputError: when no attempt produced a valid reply.
    """
    schema = output_type.model_json_schema()
    conversation = list(messages)
    errors: list[str] = []
    usage = Usage()
    started = time.perf_counter()
    for attempt in range(retries + 1):
        request = ChatRequest(
            messages=conversation,
            response_schema=schema,
            schema_name=output_type.__name__,
            temperature=temperature,
            max_tokens=max_tokens,
            seed=None if seed is None else seed + attempt,
        )
        reply = model.chat(request)
        usage = Usage(
            prompt_tokens=usage.prompt_tokens + reply.usage.prompt_tokens,
            completion_tokens=usage.completion_tokens + reply.usage.completion_tokens,
        )
        text = reply.content or ""
        try:
            value = output_type.model_validate_json(text, context=context)
        except ValidationError as exc:
            problem = describe_validation_error(exc)
            errors.append(f"attempt {attempt + 1}: {problem}")
            conversation = [
                *conversation,
                Message(role="assistant", content=text),
                Message(role="user", content=render("structured_retry.jinja", problem=problem)),
            ]
            continue
        return StructuredResult[output_type](  # type: ignore[valid-type]
            value=value, attempts=attempt + 1, errors=errors, usage=usage,
            latency_s=time.perf_counter() - started,
        )
    raise StructuredOutputError(
        f"no valid {output_type.__name__} after {retries + 1} attempt(s): {errors[-1]}",
        errors=errors, usage=usage, attempts=retries + 1,
    )
