"""The LLM layer: everything that talks to a language model.

The LLM layer: the chat protocol, the OpenAI-compatible backend, structured output, scripted fakes for tests
and the embedded vLLM server. It sits below the tools and the loop; only :mod:`agent.settings` is beneath it.
"""

from agent.llm.embedded_server import LLMServerError, ensure_llm_server, probe, serve_forever
from agent.llm.openai_backend import OpenAIBackend
from agent.llm.protocol import ChatModel, ChatReply, ChatRequest, LLMError, Message, ToolCall, ToolSpec, Usage
from agent.llm.scripted import (
    FunctionModel,
    ScriptedModel,
    ScriptError,
    reply_candidates,
    reply_json,
    reply_text,
    reply_tool_call,
)
from agent.llm.structured import StructuredOutputError, StructuredResult, describe_validation_error, generate_structured

__all__ = [
    "ChatModel",
    "ChatReply",
    "ChatRequest",
    "FunctionModel",
    "LLMError",
    "LLMServerError",
    "Message",
    "OpenAIBackend",
    "ScriptError",
    "ScriptedModel",
    "StructuredOutputError",
    "StructuredResult",
    "ToolCall",
    "ToolSpec",
    "Usage",
    "describe_validation_error",
    "ensure_llm_server",
    "generate_structured",
    "probe",
    "reply_candidates",
    "reply_json",
    "reply_text",
    "reply_tool_call",
    "serve_forever",
]
