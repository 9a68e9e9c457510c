"""The backend for any OpenAI-compatible server.

The backend for any OpenAI-compatible server: vLLM on a GPU in production, vLLM's CPU build as the embedded
default, or a hosted API. The agent never knows which server answers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from agent.llm.protocol import ChatReply, ChatRequest, LLMError, ToolCall, Usage
from agent.settings import Settings


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
        if request.n > 1:
            params["n"] = request.n
        if request.frequency_penalty:
            params["frequency_penalty"] = request.frequency_penalty
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
        choice = min(completion.choices, key=lambda c: c.index)
        calls = [
            ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments or "{}")
            for c in (choice.message.tool_calls or [])
            if getattr(c, "function", None) is not None
        ]
        usage = completion.usage
        return ChatReply(
            content=choice.message.content,
            contents=[c.message.content for c in sorted(completion.choices, key=lambda c: c.index)]
            if request.n > 1 else [],
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
