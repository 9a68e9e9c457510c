import re
import shutil

import pytest

from agent.llm import FunctionModel, ScriptedModel, reply_json, reply_text
from prompts import PRODUCTION_PROMPTS, PROMPTS_DIR, PromptError, PromptRenderer
from tools.copywriting import (
    CHANNEL_LIMITS,
    CopyRequest,
    CopyTool,
    CopyUnavailableError,
    ProductFacts,
    display_title,
    grounding_problems,
)

STAR_WARS = ProductFacts(product_id="50", title="Star Wars", year=1977,
                         genres=["Action", "Adventure", "Romance", "Sci-Fi", "War"])


def _request(**changes) -> CopyRequest:
    base = dict(goal="win back fans", segment_name="Lapsed Sci-Fi fans", segment_description="lapsed, 30s",
                product=STAR_WARS, channel="push", language="en")
    return CopyRequest(**{**base, **changes})


def test_display_title_moves_trailing_article():
    assert display_title("Usual Suspects, The") == "The Usual Suspects"
    assert display_title("Alien") == "Alien"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Star Wars (1978) is back", "year 1978"),
        ("Star Wars: the comedy of the year", "Comedy"),
        ("Star Wars now 20% off", "price or offer"),
        ("Star Wars for $3.99", "price or offer"),
        ("A galaxy far away awaits", "does not name the title"),
        ("Star Wars 科幻经典", None),
        ("Star Wars: 4 stars from 300 fans", "number(s) 4, 300"),
        ("Star Wars: the 1977 best-selling saga", "claims sales or rankings"),
        ("Star Wars, directed by a legend", "claims cast or crew"),
    ],
)
def test_grounding_problems(text, problem):
    problems = grounding_problems(text, STAR_WARS, "en")
    if problem is None:
        assert problems == ["must be written in English only"]
    else:
        assert any(problem in p for p in problems), problems


def test_grounded_copy_passes_and_words_in_titles_are_not_claims():
    assert grounding_problems("Star Wars (1977): the science fiction saga returns.", STAR_WARS, "en") == []
    free_willy = ProductFacts(product_id="78", title="Free Willy", year=1993,
                              genres=["Adventure", "Children's", "Drama"])
    assert grounding_problems("Free Willy (1993) is waiting", free_willy, "en") == []
    assert grounding_problems("为您推荐 Star Wars（1977）", STAR_WARS, "zh") == []
    assert "must be written in Chinese" in grounding_problems("Star Wars", STAR_WARS, "zh")[0]


def test_copy_tool_feeds_grounding_errors_back_and_accepts_the_fix():
    turns = [reply_json({"headline": "Star Wars 1978", "body": "The funniest comedy ever made", "cta": "Go"}),
             reply_json({"headline": "Star Wars is back", "body": "The 1977 space saga awaits.", "cta": "Watch"})]
    with ScriptedModel(turns) as model:
        result = CopyTool(model).write(_request())
    assert result.source == "llm" and result.attempts == 2 and result.headline == "Star Wars is back"
    feedback = model.requests[1].messages[-1].content
    assert "year 1978" in feedback and "Comedy" in feedback
    assert model.requests[0].response_schema["properties"]["headline"]["maxLength"] == CHANNEL_LIMITS["push"].headline


def test_copy_tool_falls_back_to_fact_template_when_llm_fails():
    with ScriptedModel([reply_text("no json here")] * 3) as model:
        result = CopyTool(model, retries=2).write(_request(language="zh", channel="sms"))
    assert result.source == "template" and result.attempts == 3 and len(result.errors) == 3
    assert "Star Wars" in result.text and "1977" in result.text and "科幻" in result.body
    assert grounding_problems(result.text, STAR_WARS, "zh") == []


def test_over_long_message_with_disclaimer_is_rejected():
    disclaimer = "Terms apply. " * 6
    too_long = {"headline": "Star Wars tonight", "body": "Star Wars (1977): the space saga returns to your screen.",
                "cta": "Watch it now"}
    model = FunctionModel(lambda req: reply_json(too_long))
    result = CopyTool(model, retries=1).write(_request(channel="sms", disclaimer=disclaimer))
    assert result.source == "template" and "with the disclaimer" in result.errors[0]
    assert len(result.text) <= CHANNEL_LIMITS["sms"].total + 3  # three newlines join the parts


def test_no_room_at_all_is_reported_not_crashed():
    title = "Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb"
    long_title = ProductFacts(product_id="185", title=title, year=1963, genres=["Sci-Fi", "War"])
    model = FunctionModel(lambda req: reply_text("no"))
    with pytest.raises(CopyUnavailableError, match="fits sms"):
        CopyTool(model, retries=0).write(_request(channel="sms", product=long_title, disclaimer="Terms apply. " * 7))


def test_chinese_prompt_uses_chinese_genres():
    messages = CopyTool(ScriptedModel()).messages(_request(language="zh"))
    assert "科幻" in messages[1].content and "简体中文" in messages[0].content


def test_banned_phrases_and_empty_drafts_are_rejected():
    assert grounding_problems("Star Wars: act now", STAR_WARS, "en", banned=("act now",)) == [
        "uses the banned phrase 'act now'"]
    turns = [reply_json({"headline": "Star Wars", "body": "Star Wars", "cta": "Star Wars"}),
             reply_json({"headline": "Star Wars", "body": "The space saga Star Wars is ready to watch.",
                         "cta": "Watch"})]
    with ScriptedModel(turns) as model:
        result = CopyTool(model).write(_request(banned_phrases=["limited time"]))
    assert result.source == "llm" and result.attempts == 2
    assert "not just repeat it" in result.errors[0] and "not a copy of the headline" in result.errors[0]


def test_copy_tool_renders_every_prompt_with_its_injected_renderer(tmp_path):
    for name in CopyTool.TEMPLATES:
        shutil.copy(PROMPTS_DIR / name, tmp_path / name)
    user = (tmp_path / "copy_user.jinja").read_text()
    (tmp_path / "copy_user.jinja").write_text("VERSION-B-MARKER\n" + user)
    fallback = (tmp_path / "copy_fallback.jinja").read_text()
    (tmp_path / "copy_fallback.jinja").write_text(fallback.replace("Watch now", "Stream it tonight"))
    assert CopyTool(ScriptedModel()).prompts is PRODUCTION_PROMPTS
    with ScriptedModel([reply_text("no json here")]) as model:
        result = CopyTool(model, retries=0, prompts=PromptRenderer(tmp_path)).write(_request())
    assert model.requests[0].messages[1].content.startswith("VERSION-B-MARKER\nCampaign goal: win back fans")
    assert result.source == "template" and result.cta == "Stream it tonight"
    assert CopyTool(ScriptedModel()).fallback(_request()).cta == "Watch now"


def test_a_prompt_folder_without_a_template_fails_naming_it(tmp_path):
    shutil.copy(PROMPTS_DIR / "copy_user.jinja", tmp_path / "copy_user.jinja")
    with pytest.raises(PromptError, match=re.escape(f"no prompt template named 'copy_system.jinja' in {tmp_path}")):
        CopyTool(ScriptedModel(), prompts=PromptRenderer(tmp_path)).messages(_request())
