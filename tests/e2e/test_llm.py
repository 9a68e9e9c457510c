"""End-to-end tests against a real vLLM server (the embedded SmolLM2 one unless CAMPAIGN_LLM_BASE_URL is set).

The module fixture reuses a server already answering on the embedded port, or starts one for the module
(~45 s on 2 CPU cores) and stops it afterwards.
"""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field

from agent.llm import ChatRequest, Message, OpenAIBackend, ToolSpec
from agent.settings import Settings

pytestmark = pytest.mark.e2e

SEGMENT_TOOL = ToolSpec(
    name="get_segment_size",
    description="Return the number of customers in a customer segment.",
    parameters={
        "type": "object",
        "properties": {
            "segment": {"type": "string", "description": "Segment name, e.g. loyal or churn-risk."},
            "country": {"type": "string", "description": "ISO country code."},
        },
        "required": ["segment"],
    },
)
SEND_TOOL = ToolSpec(
    name="schedule_campaign",
    description="Schedule an e-mail campaign for a segment.",
    parameters={
        "type": "object",
        "properties": {
            "segment": {"type": "string"},
            "subject": {"type": "string"},
            "send_hour": {"type": "integer", "minimum": 0, "maximum": 23},
        },
        "required": ["segment", "subject", "send_hour"],
    },
)


class Promo(BaseModel):
    """Schema the structured-output test asks for."""

    headline: str = Field(min_length=1)
    discount_percent: int = Field(ge=0, le=100)
    channels: list[str]


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="module")
def backend(settings: Settings, llm_url: str) -> OpenAIBackend:
    return OpenAIBackend(llm_url, settings.llm_model, settings.llm_api_key.get_secret_value(), timeout_s=120)


def ask(text: str, **fields: object) -> ChatRequest:
    """A one-turn request with repeatable sampling."""
    return ChatRequest(messages=[Message(role="user", content=text)], temperature=0.0, seed=7, **fields)


def test_plain_chat_answers(backend: OpenAIBackend, settings: Settings) -> None:
    reply = backend.chat(ask("What is the capital of France? Answer with one word.", max_tokens=20))
    assert reply.content and "paris" in reply.content.lower()
    assert reply.tool_calls == []
    assert reply.model == settings.llm_model
    assert reply.usage.prompt_tokens > 0
    assert 0 < reply.usage.completion_tokens <= 20
    assert reply.finish_reason in ("stop", "length")
    assert reply.latency_s > 0


def test_json_schema_reply_validates(backend: OpenAIBackend) -> None:
    request = ask(
        "Create a promotion for a summer sale on sandals: a headline, a discount and marketing channels.",
        response_schema=Promo.model_json_schema(),
        schema_name="promo",
        max_tokens=200,
    )
    reply = backend.chat(request)
    assert reply.finish_reason == "stop", f"reply cut off: {reply.content!r}"
    promo = Promo.model_validate_json(reply.content or "")
    assert promo.headline.strip()
    assert 0 <= promo.discount_percent <= 100


def test_tool_choice_required_returns_a_parsable_call(backend: OpenAIBackend) -> None:
    request = ask(
        "How many customers are in the loyal segment?",
        tools=[SEGMENT_TOOL, SEND_TOOL],
        tool_choice="required",
        max_tokens=120,
    )
    reply = backend.chat(request)
    assert reply.tool_calls, f"no tool call, content={reply.content!r}"
    call = reply.tool_calls[0]
    assert call.name in {SEGMENT_TOOL.name, SEND_TOOL.name}
    assert call.id
    arguments = call.parsed_arguments()
    spec = SEGMENT_TOOL if call.name == SEGMENT_TOOL.name else SEND_TOOL
    assert set(spec.parameters["required"]) <= set(arguments)
    assert set(arguments) <= set(spec.parameters["properties"])


def test_named_tool_choice_calls_that_tool(backend: OpenAIBackend) -> None:
    request = ask(
        "Schedule the spring newsletter for the loyal segment at 9 in the morning.",
        tools=[SEGMENT_TOOL, SEND_TOOL],
        tool_choice=SEND_TOOL.name,
        max_tokens=120,
    )
    reply = backend.chat(request)
    assert [c.name for c in reply.tool_calls] == [SEND_TOOL.name]
    arguments = reply.tool_calls[0].parsed_arguments()
    assert isinstance(arguments["segment"], str)
    assert isinstance(arguments["subject"], str)
    assert isinstance(arguments["send_hour"], int) and 0 <= arguments["send_hour"] <= 23


def test_tool_result_round_trip_through_the_template(backend: OpenAIBackend) -> None:
    first = backend.chat(
        ask("How many customers are in the loyal segment?", tools=[SEGMENT_TOOL], tool_choice="required")
    )
    assert first.tool_calls
    conversation = [
        Message(role="user", content="How many customers are in the loyal segment?"),
        Message(role="assistant", content=None, tool_calls=first.tool_calls),
        Message(role="tool", tool_call_id=first.tool_calls[0].id, content='{"customers": 1234}'),
    ]
    reply = backend.chat(
        ChatRequest(messages=conversation, tools=[SEGMENT_TOOL], tool_choice="none", temperature=0.0, max_tokens=60)
    )
    assert reply.tool_calls == []
    assert reply.content and reply.content.strip()


def test_tool_choice_auto_gives_text_or_a_valid_call(backend: OpenAIBackend) -> None:
    reply = backend.chat(ask("Hello! Who are you?", tools=[SEGMENT_TOOL], tool_choice="auto", max_tokens=60))
    assert reply.content or reply.tool_calls
    for call in reply.tool_calls:
        assert call.name == SEGMENT_TOOL.name
        assert "segment" in call.parsed_arguments()


def test_streaming_yields_pieces(backend: OpenAIBackend) -> None:
    pieces = list(backend.stream(ask("Write a short slogan for a bakery.", max_tokens=40)))
    assert len(pieces) > 3
    assert all(isinstance(p, str) for p in pieces)
    assert "".join(pieces).strip()
