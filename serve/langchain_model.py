"""A LangChain chat model over our :class:`agent.llm.protocol.ChatModel` protocol.

LangChain's agents talk to a ``BaseChatModel``; the rest of campaign-agent talks to the one-method
``ChatModel`` protocol. :class:`ProtocolChatModel` converts between the two (messages, tool specs, tool
calls, ``tool_choice``), so the same chat agent runs on :class:`agent.llm.protocol.OpenAIBackend` (vLLM on CPU or
GPU, any OpenAI-compatible server) in production and on :class:`agent.llm.scripted.ScriptedModel` in tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.tool import InvalidToolCall, ToolCall, ToolCallChunk, invalid_tool_call, tool_call
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field

from agent import llm


def _text(content: str | list[Any]) -> str:
    if isinstance(content, str):
        return content
    return "".join(b if isinstance(b, str) else str(b.get("text", "")) for b in content
                   if isinstance(b, str) or b.get("type") == "text")


def to_protocol_messages(messages: Sequence[BaseMessage]) -> list[llm.Message]:
    """Convert LangChain messages to :class:`agent.llm.protocol.Message` (system, user, assistant with calls, tool).

    Raises:
        TypeError: for a message type the protocol has no role for.
    """
    out = []
    for m in messages:
        if isinstance(m, SystemMessage):
            out.append(llm.Message(role="system", content=_text(m.content)))
        elif isinstance(m, HumanMessage):
            out.append(llm.Message(role="user", content=_text(m.content)))
        elif isinstance(m, AIMessage):
            calls = [llm.ToolCall(id=c.get("id") or f"call_{i}", name=c["name"], arguments=json.dumps(c["args"]))
                     for i, c in enumerate(m.tool_calls)]
            out.append(llm.Message(role="assistant", content=_text(m.content) or None, tool_calls=calls))
        elif isinstance(m, ToolMessage):
            out.append(llm.Message(role="tool", content=_text(m.content), tool_call_id=m.tool_call_id))
        else:
            raise TypeError(f"cannot send a {type(m).__name__} to the model")
    return out


def normalise_tool_choice(choice: Any) -> str | None:
    """Map LangChain's ``tool_choice`` values to the protocol's: auto, required, none or a tool name."""
    if choice is None or choice is False:
        return None
    if choice is True or choice == "any":
        return "required"
    if isinstance(choice, dict):
        return str(choice.get("function", {}).get("name") or choice.get("name") or "required")
    return str(choice)


def _calls(reply: llm.ChatReply) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    valid, invalid = [], []
    for c in reply.tool_calls:
        try:
            valid.append(tool_call(name=c.name, args=c.parsed_arguments(), id=c.id))
        except ValueError as exc:
            invalid.append(invalid_tool_call(name=c.name, args=c.arguments, id=c.id, error=str(exc)))
    return valid, invalid


def _usage(reply: llm.ChatReply) -> dict[str, int]:
    u = reply.usage
    return {"input_tokens": u.prompt_tokens, "output_tokens": u.completion_tokens, "total_tokens": u.total_tokens}


class ProtocolChatModel(BaseChatModel):
    """LangChain chat model backed by any :class:`agent.llm.protocol.ChatModel`.

    Attributes:
        backend: The protocol model (OpenAIBackend, ScriptedModel, …).
        temperature: Sampling temperature of every request.
        max_tokens: Upper bound of generated tokens per request.
        seed: Sampling seed, or None.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    backend: Any = Field(description="An agent.llm.protocol.ChatModel.")
    temperature: float = 0.3
    max_tokens: int = 400
    seed: int | None = None

    @property
    def _llm_type(self) -> str:
        return "campaign-agent-protocol"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"backend": getattr(self.backend, "name", "?"), "temperature": self.temperature}

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools; ``tool_choice`` passes through ("any" becomes "required")."""
        specs = [convert_to_openai_tool(t)["function"] for t in tools]
        return self.bind(tools=specs, tool_choice=normalise_tool_choice(tool_choice), **kwargs)

    def request(self, messages: list[BaseMessage], **kwargs: Any) -> llm.ChatRequest:
        """Build the protocol request for ``messages`` and bound ``tools`` / ``tool_choice``."""
        tools = [llm.ToolSpec(name=t["name"], description=t.get("description", ""),
                              parameters=t.get("parameters", {"type": "object", "properties": {}}))
                 for t in kwargs.get("tools") or []]
        return llm.ChatRequest(
            messages=to_protocol_messages(messages), tools=tools,
            tool_choice=normalise_tool_choice(kwargs.get("tool_choice")) if tools else None,
            temperature=self.temperature, max_tokens=self.max_tokens, seed=self.seed,
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        reply = self.backend.chat(self.request(messages, **kwargs))
        valid, invalid = _calls(reply)
        message = AIMessage(
            content=reply.content or "", tool_calls=valid, invalid_tool_calls=invalid, usage_metadata=_usage(reply),
            response_metadata={"model_name": reply.model, "finish_reason": reply.finish_reason},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        """Stream text token by token; a step that may call tools arrives as one chunk.

        The protocol's ``stream`` carries text only, so a request with tools goes through ``chat``.
        """
        request = self.request(messages, **kwargs)
        if request.tools and request.tool_choice != "none":
            reply = self.backend.chat(request)
            valid, invalid = _calls(reply)
            chunks = [ToolCallChunk(name=c["name"], args=json.dumps(c["args"]), id=c["id"], index=i,
                                    type="tool_call_chunk") for i, c in enumerate(valid)]
            chunks += [ToolCallChunk(name=c["name"], args=c["args"], id=c["id"], index=len(chunks) + i,
                                     type="tool_call_chunk") for i, c in enumerate(invalid)]
            chunk = ChatGenerationChunk(message=AIMessageChunk(
                content=reply.content or "", tool_call_chunks=chunks, usage_metadata=_usage(reply),
                response_metadata={"model_name": reply.model, "finish_reason": reply.finish_reason}))
            if run_manager and reply.content:
                run_manager.on_llm_new_token(reply.content, chunk=chunk)
            yield chunk
            return
        for piece in self.backend.stream(request):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk
