"""The marketer chat: the LangChain adapter over our ChatModel protocol, the agent's tool-choice policy, the
chat over HTTP on the real demo shop (scripted LLM), and `campaign chat` in the terminal."""

from __future__ import annotations

import io
import json
import threading

import pytest
from fastapi.testclient import TestClient
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from rich.console import Console

from agent.llm import (
    ChatReply,
    ChatRequest,
    FunctionModel,
    LLMError,
    ScriptedModel,
    ToolCall,
    reply_text,
    reply_tool_call,
)
from serve.chat import ANSWER_NUDGE, ToolChoicePolicy
from serve.cli import chat_loop
from serve.langchain_model import ProtocolChatModel, normalise_tool_choice, to_protocol_messages
from tests.serve.api_harness import chat_llm, events, make_app, new_key, sse


@tool
def shout(text: str) -> str:
    """Repeat the text in capitals."""
    return text.upper()


def test_messages_convert_to_the_protocol_with_tool_calls_and_results():
    converted = to_protocol_messages([
        SystemMessage("be brief"), HumanMessage("hi"),
        AIMessage("", tool_calls=[{"name": "shout", "args": {"text": "a"}, "id": "c1"}]),
        ToolMessage("A", tool_call_id="c1"), AIMessage([{"type": "text", "text": "done"}]),
    ])
    assert [m.role for m in converted] == ["system", "user", "assistant", "tool", "assistant"]
    assert converted[2].content is None
    assert converted[2].tool_calls == [ToolCall(id="c1", name="shout", arguments='{"text": "a"}')]
    assert converted[3].tool_call_id == "c1" and converted[4].content == "done"


@pytest.mark.parametrize(("given", "sent"), [
    (None, None), ("auto", "auto"), ("any", "required"), (True, "required"), ("required", "required"),
    ("none", "none"), ("shout", "shout"), ({"type": "function", "function": {"name": "shout"}}, "shout"),
])
def test_tool_choice_passes_through_to_the_protocol(given, sent):
    assert normalise_tool_choice(given) == sent


def test_bound_tools_become_tool_specs_and_replies_become_tool_calls():
    with ScriptedModel([reply_tool_call("shout", {"text": "hey"}, "c7"),
                        ChatReply(tool_calls=[ToolCall(id="c8", name="shout", arguments="{not json")])]) as model:
        bound = ProtocolChatModel(backend=model, seed=3).bind_tools([shout], tool_choice="any")
        good, bad = bound.invoke("call it"), bound.invoke("again")
    request = model.requests[0]
    assert request.tool_choice == "required" and request.seed == 3
    assert [t.name for t in request.tools] == ["shout"] and request.tools[0].parameters["required"] == ["text"]
    assert good.tool_calls == [{"name": "shout", "args": {"text": "hey"}, "id": "c7", "type": "tool_call"}]
    assert bad.tool_calls == [] and bad.invalid_tool_calls[0]["id"] == "c8"


def test_streaming_yields_words_without_tools_and_one_chunk_with_them():
    with ScriptedModel([reply_text("three little words"), reply_tool_call("shout", {"text": "x"})]) as model:
        chat = ProtocolChatModel(backend=model)
        assert [c.content for c in chat.stream("hi") if c.content] == ["three", " little", " words"]
        chunks = [c for c in chat.bind_tools([shout], tool_choice="required").stream("hi") if c.tool_call_chunks]
    assert len(chunks) == 1 and chunks[0].tool_call_chunks[0]["name"] == "shout"
    assert model.requests[0].tools == [] and model.requests[1].tool_choice == "required"


def test_required_policy_calls_a_tool_first_then_answers_without_tools():
    def respond(request: ChatRequest) -> ChatReply:
        if request.tool_choice == "required":
            return reply_tool_call("shout", {"text": "sale"})
        return reply_text(f"It says {request.messages[-2].content}.")

    model = FunctionModel(respond)
    agent = create_agent(ProtocolChatModel(backend=model), tools=[shout], middleware=[ToolChoicePolicy("required")])
    result = agent.invoke({"messages": [HumanMessage("shout sale")]})
    assert result["messages"][-1].content == "It says SALE."
    first, second = model.requests
    assert first.tool_choice == "required" and [t.name for t in first.tools] == ["shout"]
    assert second.tools == [] and second.tool_choice is None and second.messages[-2].role == "tool"
    assert second.messages[-1].content == ANSWER_NUDGE
    assert [type(m).__name__ for m in result["messages"]] == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]


def test_auto_policy_lets_the_model_decide_at_every_step():
    with ScriptedModel([reply_tool_call("shout", {"text": "a"}), reply_tool_call("shout", {"text": "b"}, "c2"),
                        reply_text("A then B")]) as model:
        agent = create_agent(ProtocolChatModel(backend=model), tools=[shout], middleware=[ToolChoicePolicy("auto")])
        assert agent.invoke({"messages": [HumanMessage("go")]})["messages"][-1].content == "A then B"
    assert [r.tool_choice for r in model.requests] == ["auto", "auto", "auto"]


def chat(client: TestClient, headers: dict[str, str], message: str, session: str | None = None
         ) -> list[tuple[str, dict]]:
    with client.stream("POST", "/v1/chat", json={"message": message, "session_id": session},
                       headers=headers) as response:
        assert response.status_code == 200, response.read()
        return [(e, d) for e, _, d in sse(response.iter_lines())]


def test_chat_streams_tool_calls_results_and_the_answer_and_keeps_the_session(
        settings, api_tools, tmp_path):
    db = tmp_path / "api.db"
    headers, other = new_key(db, "ana"), new_key(db, "bo")
    model = FunctionModel(chat_llm, name="scripted")
    with TestClient(make_app(settings, api_tools, db, chat=model)) as client:
        stream = chat(client, headers, "Which films for lapsed sci-fi fans?")
        kinds = [e for e, _ in stream]
        assert kinds[0] == "session" and kinds[1:3] == ["tool_call", "tool_result"] and kinds[-1] == "done"
        call, result = stream[1][1], stream[2][1]
        assert call["name"] == "recommend_products" and call["arguments"]["genres"] == ["Sci-Fi"]
        products = json.loads(result["content"])["products"]
        assert result["status"] == "success" and len(products) == 3
        tokens = "".join(d["text"] for e, d in stream if e == "token")
        assert kinds.count("token") > 3  # streamed word by word
        assert tokens == stream[-1][1]["answer"] == (
            f"Top pick: {products[0]['title']} for {json.loads(result['content'])['audience_size']} customers.")
        session = stream[0][1]["session_id"]

        chat(client, headers, "And a plan please", session)
        history = [m.content for m in model.requests[-2].messages]
        assert "Which films for lapsed sci-fi fans?" in history and history[-1] == "And a plan please"

        refused = client.post("/v1/chat", json={"message": "hi", "session_id": session}, headers=other)
        assert refused.status_code == 404 and "no chat session" in refused.json()["detail"]
        assert client.post("/v1/chat", json={"message": ""}, headers=headers).status_code == 422

    with TestClient(make_app(settings, api_tools, db, chat=model)) as client:  # the session survives a restart
        chat(client, headers, "Which ones again?", session)
        assert "And a plan please" in [m.content for m in model.requests[-2].messages]


def test_chat_creates_a_plan_job_that_runs_to_the_end(settings, api_tools, tmp_path):
    db = tmp_path / "api.db"
    headers = new_key(db)
    with TestClient(make_app(settings, api_tools, db)) as client:
        stream = chat(client, headers, "Make a plan for lapsed sci-fi fans")
        call, result = stream[1][1], json.loads(stream[2][1]["content"])
        assert call["name"] == "create_plan" and result["status"] == "queued"
        assert stream[-1][1]["answer"] == f"Plan {result['plan_id']} is queued."
        assert events(client, result["plan_id"], headers)[-1][2] == {"status": "done"}
        plan = client.get(f"/v1/plans/{result['plan_id']}", headers=headers).json()
        assert plan["brief"]["channels"] == ["email"] and plan["plan"]["variants"]


def test_tool_errors_and_llm_failures_reach_the_marketer_as_one_line(settings, api_tools, tmp_path):
    def bad_arguments(request: ChatRequest) -> ChatReply:
        if request.tool_choice == "required" and request.messages[-1].content == "films for knitters":
            return reply_tool_call("recommend_products", {"audience": "knitters", "genres": ["Knitting"]})
        if request.tool_choice == "required":
            return reply_tool_call("predict_effect", {"audience": "knitters", "product_ids": ["no-such-id"]})
        return chat_llm(request)

    db = tmp_path / "api.db"
    headers = new_key(db)
    with TestClient(make_app(settings, api_tools, db, chat=FunctionModel(bad_arguments))) as client:
        stream = chat(client, headers, "films for knitters")
        result = stream[2][1]
        assert result["status"] == "error" and "genres" in result["content"] and "'Sci-Fi'" in result["content"]
        assert stream[-1][1]["answer"].startswith("Sorry: ")
        stream = chat(client, headers, "their effect")
        assert json.loads(stream[2][1]["content"]) == {"error": "unknown product ids: ['no-such-id']"}
        assert stream[-1][1]["answer"] == "Sorry: unknown product ids: ['no-such-id']"

    def down(request: ChatRequest) -> ChatReply:
        raise LLMError("cannot reach the LLM server at http://127.0.0.1:8011/v1: Connection refused")

    with TestClient(make_app(settings, api_tools, db, chat=FunctionModel(down))) as client:
        stream = chat(client, headers, "hello")
        assert stream[-1] == ("error", {"message": "cannot reach the LLM server at http://127.0.0.1:8011/v1: "
                                                   "Connection refused"})


def test_a_second_message_while_the_first_is_answered_gets_409(settings, api_tools, tmp_path):
    started, release = threading.Event(), threading.Event()

    def slow(request: ChatRequest) -> ChatReply:
        if request.tool_choice == "required":
            started.set()
            assert release.wait(60), "the test never released the model"
        return chat_llm(request)

    db = tmp_path / "api.db"
    headers = new_key(db)
    first: list[list[tuple[str, dict]]] = []
    with TestClient(make_app(settings, api_tools, db, chat=FunctionModel(slow))) as client:
        thread = threading.Thread(target=lambda: first.append(chat(client, headers, "films?", "session-0001")))
        thread.start()
        assert started.wait(60)
        busy = client.post("/v1/chat", json={"message": "again", "session_id": "session-0001"}, headers=headers)
        assert busy.status_code == 409 and "still being written" in busy.json()["detail"]
        release.set()
        thread.join(60)
        assert first[0][-1][0] == "done"
        assert chat(client, headers, "films again?", "session-0001")[-1][0] == "done"


def test_campaign_chat_shows_tool_calls_and_the_streamed_answer(settings, api_tools, tmp_path):
    db = tmp_path / "api.db"
    headers = new_key(db)
    screen = io.StringIO()
    with TestClient(make_app(settings, api_tools, db), headers=headers) as client:
        session = chat_loop(client, ["Which films for lapsed sci-fi fans?", "  ", "a plan please"],
                            Console(file=screen, width=200, color_system=None))
        assert session and len(client.app.state.store.messages(session, 100)) == 8  # 2 turns × 4 messages
    text = screen.getvalue()
    assert '→ recommend_products {"audience": "lapsed science fiction fans"' in text
    assert "← recommend_products: {\"audience_size\"" in text and "\nTop pick: " in text
    assert "→ create_plan" in text and "is queued." in text
