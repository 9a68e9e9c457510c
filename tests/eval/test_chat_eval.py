"""The chat eval: the shipped suite's shape, scoring of one turn, and a run through the real chat service."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.llm import FunctionModel, reply_text
from agent.loop import PlannerTools
from agent.settings import Settings
from eval.chat_eval import (
    ChatCase,
    ChatSuite,
    arguments_match,
    load_chat_suite,
    register_chat_runner,
    run_chat_suite,
    score_turn,
)
from eval.config import scripted_default
from eval.suite import SuiteError
from serve.chat import chat_eval_runner

REPO = Path(__file__).resolve().parents[2]


def test_the_shipped_suite_covers_both_languages_shops_and_the_hard_cases():
    suite = load_chat_suite(REPO / "eval" / "suites" / "chat.yaml")
    cases = suite.cases
    assert len(cases) >= 40
    assert {c.language for c in cases} == {"en", "zh"} and {c.shop for c in cases} == {"movielens", "retail"}
    assert {(c.shop, c.language) for c in cases} == {("movielens", "en"), ("movielens", "zh"), ("retail", "en"),
                                                     ("retail", "zh")}
    assert sum(c.expect_tool == "none" for c in cases) >= 6
    assert sum(" and " in c.message or "，" in c.message for c in cases) >= 4  # multi-tool requests
    assert sum(any(w in c.message.lower() for w in ("ignore", "disregard", "忽略", "无视")) for c in cases) >= 5


def test_a_suite_with_repeated_ids_or_unknown_fields_is_refused(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("cases:\n  - {id: a, shop: movielens, language: en, message: m, expect_tool: none}\n"
                    "  - {id: a, shop: movielens, language: en, message: m, expect_tool: none}\n")
    with pytest.raises(SuiteError, match="repeated"):
        load_chat_suite(path)
    path.write_text("cases:\n  - {id: a, shop: movielens, language: fr, message: m, expect_tool: none}\n")
    with pytest.raises(SuiteError, match="language"):
        load_chat_suite(path)


def test_arguments_match_each_key_and_value_and_genres_stand_for_categories():
    args = {"audience": "x", "lifecycle": ["lapsed"], "categories": ["Christmas", "Candles"]}
    assert arguments_match(args, {"lifecycle": ["Lapsed"], "genres": ["christmas"]})
    assert not arguments_match(args, {"lifecycle": ["lapsed", "new"]})
    assert not arguments_match(args, {"channels": ["email"]})
    assert arguments_match({"channel": "sms"}, {"channel": ["sms"]})


def test_one_turn_is_scored_from_its_events(settings: Settings, movielens_eval_tools: PlannerTools):
    runner = chat_eval_runner(settings, movielens_eval_tools, FunctionModel(lambda request: reply_text("?")))
    case = ChatCase(id="c", shop="movielens", language="en", message="How many lapsed horror fans, and what?",
                    expect_tool="recommend_products", expect_args={"genres": ["Horror"]})
    events = [("route", {"source": "model"}),
              ("tool_call", {"id": "1", "name": "find_audience", "arguments": {"genres": ["Horror"]}}),
              ("tool_result", {"id": "1", "name": "find_audience", "content": '{"matched": 46}'}),
              ("tool_call", {"id": "2", "name": "recommend_products", "arguments": {"genres": ["Horror"]}}),
              ("tool_result", {"id": "2", "name": "recommend_products",
                               "content": '{"audience_size": 46, "products": [{"title": "Alien"}]}'}),
              ("done", {"answer": "46 fans; try Alien or Mars Attacks!, 90% will love it.", "source": "llm"})]
    result = score_turn(case, events, 2.0, runner)
    assert result.tool_ok and result.args_ok and result.language_ok and result.route_source == "model"
    assert not result.grounded and result.grounding_problems == [
        "numbers not in the tool results: 90", "products not in the tool results: Mars Attacks!"]
    none = ChatCase(id="n", shop="movielens", language="zh", message="天气？", expect_tool="none")
    assert score_turn(none, [("done", {"answer": "这个问题我无法用工具回答。", "source": "none"})], 0.1, runner).tool_ok
    assert not score_turn(none, [("error", {"message": "down"})], 0.1, runner).tool_ok
    runner.close()


def test_a_suite_runs_through_the_chat_service_with_the_scripted_backend(settings: Settings,
                                                                          movielens_eval_tools: PlannerTools):
    suite = ChatSuite(cases=[
        ChatCase(id="films", shop="movielens", language="en", message="Which films should we send lapsed sci-fi fans?",
                 expect_tool="recommend_products", expect_args={"lifecycle": ["lapsed"], "genres": ["Sci-Fi"]}),
        ChatCase(id="zh", shop="movielens", language="zh", message="有多少活跃的恐怖片用户？",
                 expect_tool="find_audience", expect_args={"genres": ["Horror"]}),
        ChatCase(id="none", shop="movielens", language="en", message="What's the weather?", expect_tool="none"),
    ])
    register_chat_runner(chat_eval_runner)  # as agent.cli does
    report = run_chat_suite(suite, scripted_default(), tools=movielens_eval_tools, settings=settings)
    assert report["cases"] == 3 and report["is_model"] is False
    assert report["tool_accuracy"] == report["argument_accuracy"] == 1.0
    assert report["grounded_answer_rate"] == report["language_match_rate"] == 1.0
    # the stand-in's replies are never valid: routing falls back to the rules, answers to the template
    assert report["template_answer_share"] == pytest.approx(2 / 3, abs=1e-3)
    assert [r["answer_source"] for r in report["results"]] == ["template", "template", "none"]
    assert report["median_turn_seconds"] >= 0
