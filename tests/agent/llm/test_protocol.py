import pytest
from pydantic import BaseModel, Field

from agent.llm import (
    ChatModel,
    ChatRequest,
    FunctionModel,
    Message,
    OpenAIBackend,
    ScriptedModel,
    ScriptError,
    StructuredOutputError,
    generate_structured,
    reply_json,
    reply_text,
    reply_tool_call,
)


class Answer(BaseModel):
    city: str = Field(min_length=2)
    population: int = Field(gt=0)


def _ask() -> list[Message]:
    return [Message(role="user", content="Largest city?")]


def test_scripted_model_replays_in_order_and_records_requests():
    model = ScriptedModel([reply_text("one"), reply_text("two")])
    assert isinstance(model, ChatModel)
    assert model.chat(ChatRequest(messages=_ask())).content == "one"
    assert model.chat(ChatRequest(messages=_ask())).content == "two"
    model.assert_done()
    assert len(model.requests) == 2


def test_scripted_model_fails_on_unexpected_call():
    model = ScriptedModel([])
    with pytest.raises(ScriptError, match="unexpected model call #1"):
        model.chat(ChatRequest(messages=_ask()))


def test_scripted_model_fails_on_leftover_turn():
    with pytest.raises(ScriptError, match="1 scripted turn"), ScriptedModel([reply_text("unused")]):
        pass


def test_structured_output_sends_json_schema_and_validates():
    with ScriptedModel([reply_json({"city": "Tokyo", "population": 37_000_000})]) as model:
        result = generate_structured(model, _ask(), Answer)
    assert result.value == Answer(city="Tokyo", population=37_000_000)
    assert result.attempts == 1
    request = model.requests[0]
    assert request.response_schema == Answer.model_json_schema()
    assert request.schema_name == "Answer"


def test_structured_output_feeds_validation_error_back_and_retries():
    turns = [reply_text("not json"), reply_json({"city": "Tokyo", "population": -1}),
             reply_json({"city": "Tokyo", "population": 5})]
    with ScriptedModel(turns) as model:
        result = generate_structured(model, _ask(), Answer, retries=2)
    assert result.attempts == 3 and len(result.errors) == 2
    retry_prompt = model.requests[2].messages[-1].content
    assert "population" in retry_prompt and "greater than 0" in retry_prompt
    assert model.requests[2].messages[-2].content == '{"city": "Tokyo", "population": -1}'


def test_structured_output_gives_up_after_bounded_retries():
    with ScriptedModel([reply_text("{}")] * 2) as model, pytest.raises(StructuredOutputError) as info:
        generate_structured(model, _ask(), Answer, retries=1)
    assert info.value.attempts == 2 and len(info.value.errors) == 2


def test_validation_context_reaches_validators():
    from pydantic import ValidationInfo, model_validator

    class Checked(BaseModel):
        word: str

        @model_validator(mode="after")
        def _banned(self, info: ValidationInfo):
            if self.word in (info.context or {}).get("banned", ()):
                raise ValueError(f"{self.word!r} is banned")
            return self

    model = FunctionModel(lambda req: reply_json({"word": "ok" if len(req.messages) > 1 else "bad"}))
    result = generate_structured(model, _ask(), Checked, context={"banned": {"bad"}})
    assert result.value.word == "ok" and "'bad' is banned" in result.errors[0]


def test_openai_backend_builds_wire_parameters():
    backend = OpenAIBackend("http://127.0.0.1:9/v1", "m")
    request = ChatRequest(messages=_ask(), response_schema={"type": "object"}, schema_name="S",
                          tools=[], seed=3, max_tokens=7)
    params = backend._params(request)
    expected = {"type": "json_schema", "json_schema": {"name": "S", "schema": {"type": "object"}}}
    assert params["response_format"] == expected
    assert params["seed"] == 3 and params["max_tokens"] == 7 and "tools" not in params
    from agent.llm import ToolSpec

    named = backend._params(ChatRequest(messages=_ask(), tools=[ToolSpec(name="f", description="d", parameters={})],
                                        tool_choice="f"))
    assert named["tool_choice"] == {"type": "function", "function": {"name": "f"}}
    assert named["tools"][0]["function"]["name"] == "f"


def test_tool_call_reply_arguments_parse():
    call = reply_tool_call("lookup", {"q": "x"}).tool_calls[0]
    assert call.parsed_arguments() == {"q": "x"}


def test_network_guard_blocks_real_server_calls():
    backend = OpenAIBackend("http://127.0.0.1:9/v1", "m", timeout_s=2)
    with pytest.raises(AssertionError, match=r"mark the test @pytest.mark.e2e"):
        backend.chat(ChatRequest(messages=_ask()))
