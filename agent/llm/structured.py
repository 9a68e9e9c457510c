"""Structured output: ask for JSON that follows a pydantic model, validate, and re-ask on errors.

The request carries the model's JSON schema as ``response_format`` json_schema, so a server with guided
decoding (vLLM) can only produce well-formed JSON. The reply is still validated with the pydantic model,
including checks that need context (e.g. grounding in catalog facts, passed as ``context``), and on failure
the validation errors are fed back to the model for a bounded number of retries.

With ``n`` > 1 one call samples ``n`` candidates for the same prompt (the server shares the prompt's prefix), all
are validated and the best valid one is kept by ``rank`` (highest score; ties keep the earlier candidate); only
when none is valid are the problems fed back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
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
    candidates: int = Field(1, description="Candidates sampled in the call that gave ``value``.")
    valid_candidates: int = Field(1, description="How many of those were valid.")
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
    n: int = 1,
    rank: Callable[[T], float] | None = None,
    frequency_penalty: float = 0.0,
    echo_reply: bool = True,
) -> StructuredResult[T]:
    """Ask ``model`` for a reply following ``output_type`` and validate it.

    Args:
        model: Any backend implementing the chat protocol.
        messages: The prompt.
        output_type: Pydantic model the reply must validate against.
        retries: Re-asks after an invalid reply (total calls at most ``retries + 1``).
        temperature: Sampling temperature.
        max_tokens: Upper bound of generated tokens per call.
        seed: Sampling seed of the first call (later calls use ``seed + attempt * n``, candidate ``i`` of a call
            ``+ i``: no two candidates share a seed).
        context: Validation context passed to the pydantic validators.
        n: Candidates sampled per call (one request with the OpenAI ``n``).
        rank: Score of a valid candidate; the highest is kept (None: the first valid one).
        frequency_penalty: Sent with every call (see :class:`ChatRequest`).
        echo_reply: Whether a re-ask shows the invalid reply before naming its problems. A very small model copies
            a reply it is shown, so the copy tool re-asks with the problems alone.

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
            seed=None if seed is None else seed + attempt * n,
            n=n,
            frequency_penalty=frequency_penalty,
        )
        reply = model.chat(request)
        usage = Usage(
            prompt_tokens=usage.prompt_tokens + reply.usage.prompt_tokens,
            completion_tokens=usage.completion_tokens + reply.usage.completion_tokens,
        )
        texts = [t or "" for t in reply.candidates]
        valid: list[T] = []
        problems: list[tuple[str, str]] = []
        for index, text in enumerate(texts):
            try:
                valid.append(output_type.model_validate_json(text, context=context))
            except ValidationError as exc:
                problems.append((text, describe_validation_error(exc)))
                which = f" candidate {index + 1}" if len(texts) > 1 else ""
                errors.append(f"attempt {attempt + 1}{which}: {problems[-1][1]}")
        if valid:
            best = max(range(len(valid)), key=lambda i: (rank(valid[i]) if rank else 0.0, -i))
            return StructuredResult[output_type](  # type: ignore[valid-type]
                value=valid[best], attempts=attempt + 1, errors=errors, usage=usage,
                latency_s=time.perf_counter() - started, candidates=len(texts), valid_candidates=len(valid),
            )
        text, problem = problems[0]
        shown = [Message(role="assistant", content=text)] if echo_reply else []
        conversation = [
            *conversation,
            *shown,
            Message(role="user", content=render("structured_retry.jinja", problem=problem)),
        ]
    raise StructuredOutputError(
        f"no valid {output_type.__name__} after {retries + 1} attempt(s): {errors[-1]}",
        errors=errors, usage=usage, attempts=retries + 1,
    )
