"""The backend for any OpenAI-compatible server.

The backend for any OpenAI-compatible server: vLLM on a GPU in production, vLLM's CPU build as the embedded
default, or a hosted API. The agent never knows which server answers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from agent.llm.failover import ServerPool
from agent.llm.protocol import ChatReply, ChatRequest, LLMError, ToolCall, Usage
from agent.settings import Settings

logger = logging.getLogger(__name__)
T = TypeVar("T")


class OpenAIBackend:
    """Backend for one or several OpenAI-compatible servers (vLLM on CPU or GPU, or a hosted API).

    With several base URLs, each request starts at the next server round-robin and fails over to the others on a
    connection error, a timeout or a 5xx answer; a failed server is marked down for ``cooloff_s``
    (:class:`agent.llm.failover.ServerPool`). Callers never see which server answered; :attr:`last_url` and the
    log (logger ``agent.llm.openai_backend``, DEBUG) say so.

    Args:
        base_url: Server base URL ending in ``/v1``, or a sequence of them.
        model: Model name the servers answer to.
        api_key: API key (vLLM accepts any unless started with ``--api-key``).
        timeout_s: Timeout of one request to one server.
        max_retries: Retries of the openai client on the same server before failing over.
        cooloff_s: Seconds a failed server is tried only after the healthy ones.
    """

    def __init__(
        self,
        base_url: str | Sequence[str],
        model: str,
        api_key: str = "EMPTY",
        timeout_s: float = 180.0,
        max_retries: int = 1,
        cooloff_s: float = 30.0,
    ) -> None:
        from openai import OpenAI

        self.name = model
        self.pool = ServerPool([base_url] if isinstance(base_url, str) else base_url, cooloff_s=cooloff_s)
        self.base_url = self.pool.urls[0]
        self.last_url: str | None = None
        self._clients = {
            url: OpenAI(base_url=url, api_key=api_key, timeout=timeout_s, max_retries=max_retries)
            for url in self.pool.urls
        }

    @property
    def _client(self) -> Any:
        """The client of the first server (kept for callers and tests that talk to one server)."""
        return self._clients[self.base_url]

    @_client.setter
    def _client(self, client: Any) -> None:
        self._clients[self.base_url] = client

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIBackend:
        """Build the backend the settings point at (every URL of ``settings.effective_llm_urls``)."""
        return cls(
            base_url=settings.effective_llm_urls,
            model=settings.llm_model,
            api_key=settings.llm_api_key.get_secret_value(),
            timeout_s=settings.llm_timeout_s,
            max_retries=settings.llm_max_retries,
            cooloff_s=settings.llm_down_cooloff_s,
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

    def _failover(self, send: Callable[[Any], T]) -> T:
        """Run ``send(client)`` on the servers in pool order until one answers.

        Raises:
            LLMError: on a 4xx answer (not retried elsewhere), or when every server failed (naming each).
        """
        import openai

        failures: list[str] = []
        for url in self.pool.order():
            try:
                result = send(self._clients[url])
            except (openai.APIConnectionError, openai.InternalServerError) as exc:
                status = getattr(exc, "status_code", None)
                reason = (f"answered {status}: {getattr(exc, 'message', exc)}" if status
                          else f"unreachable ({type(exc).__name__}: {exc})")
                failures.append(f"{url} {reason}")
                self.pool.mark_down(url, reason)
                continue
            except openai.APIStatusError as exc:
                raise LLMError(f"LLM server at {url} answered {exc.status_code}: {exc.message}") from exc
            self.pool.mark_up(url)
            self.last_url = url
            logger.debug("LLM server %s answered", url)
            return result
        if len(failures) == 1:
            raise LLMError(f"LLM server at {failures[0]}")
        raise LLMError(f"no LLM server answered ({len(failures)} tried): " + "; ".join(failures))

    def chat(self, request: ChatRequest) -> ChatReply:
        """Send one request (failing over between servers) and convert the answer.

        Raises:
            LLMError: when no server can be reached or a server answers with a client error.
        """
        started = time.perf_counter()
        params = self._params(request)
        completion = self._failover(lambda client: client.chat.completions.create(**params))
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
        """Yield reply text pieces as a server streams them.

        The stream is opened with failover; once the first piece has arrived, a failure is not retried elsewhere
        (the caller already holds part of the reply).

        Raises:
            LLMError: when no server can be reached or the answering server fails mid-stream.
        """
        import openai

        params = self._params(request)
        chunks = self._failover(lambda client: client.chat.completions.create(**params, stream=True))
        url = self.last_url
        try:
            for chunk in chunks:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        except openai.APIConnectionError as exc:
            raise LLMError(f"the LLM server at {url} dropped the stream: {exc}") from exc
        except openai.APIStatusError as exc:
            raise LLMError(f"LLM server at {url} answered {exc.status_code}: {exc.message}") from exc
