"""End-to-end: the marketer chat on the embedded model (the session's server, started if none answers).

One English and one Chinese question from issue 16 go through the real chat service on the MovieLens demo
shop: the right tool with the right arguments, an answer in the question's language whose numbers and titles
all come from that turn's tool results (the model's answer when it passes validation, else the template).
"""

from __future__ import annotations

import uuid

import pytest

from agent.llm import OpenAIBackend
from agent.loop import PlannerTools
from agent.settings import Settings
from serve.chat import ChatService
from serve.chat_answers import StepResult, in_language, parse_result, ungrounded
from serve.store import Store

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def service(settings: Settings, api_tools: PlannerTools, llm_url: str, tmp_path_factory: pytest.TempPathFactory
            ) -> ChatService:
    served = Settings()
    model = OpenAIBackend(llm_url, served.llm_model, served.llm_api_key.get_secret_value(), timeout_s=300)
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('chat-llm') / 'api.db'}")

    def submit_for(owner: str):  # a plan is queued, never run: this test is about the chat
        return lambda brief: store.add_job(uuid.uuid4().hex[:16], owner, brief.model_dump(mode="json"), 1)

    return ChatService(settings, api_tools, model, store, submit_for)


def turn(service: ChatService, message: str) -> tuple[list[tuple[str, dict]], list[StepResult], dict]:
    _, stream = service.turn("e2e", None, message, "movielens")
    events = [(e.kind, e.data) for e in stream]
    calls = {d["id"]: d for e, d in events if e == "tool_call"}
    steps = [StepResult(d["name"], d["id"], calls[d["id"]]["arguments"], parse_result(d["content"]))
             for e, d in events if e == "tool_result"]
    assert events[-1][0] == "done", events[-1]
    return events, steps, events[-1][1]


@pytest.mark.parametrize(("message", "language", "tools", "lifecycle", "genres"), [
    ("How many customers are lapsed horror fans, and what would they likely watch?", "en",
     ["find_audience", "recommend_products"], ["lapsed"], ["Horror"]),
    ("给流失的科幻粉丝推荐哪些电影？", "zh", ["recommend_products"], ["lapsed"], ["Sci-Fi"]),
])
def test_the_embedded_model_answers_with_the_right_tools_and_grounded_words(
        service, api_tools, message, language, tools, lifecycle, genres):
    _, steps, done = turn(service, message)
    assert [s.tool for s in steps] == tools and not any(s.failed for s in steps)
    for step in steps:
        assert step.arguments["lifecycle"] == lifecycle and step.arguments["genres"] == genres
        assert step.arguments["audience"] in message
    answer = done["answer"]
    assert done["source"] in ("llm", "template") and in_language(answer, language)
    assert ungrounded(answer, steps, service.catalog_titles(api_tools)) == []
    recommended = next(s.result for s in steps if s.tool == "recommend_products")["products"]
    assert any(p["title"] in answer for p in recommended)
