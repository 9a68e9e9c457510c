"""The quality floor: each rule rejects a hand-made bad draft, and good drafts (en, zh) pass."""

from datetime import date

import pytest
from pydantic import BaseModel

from tools.copywriting import ProductFacts, grounding_problems
from tools.copywriting.quality import floor_problems
from tools.shop import Offer

XMAS = Offer(code="XMAS10", percent_off=10, valid_from=date(2011, 11, 9), valid_to=date(2011, 12, 9))
BUNTING = ProductFacts(product_id="p1", title="Party bunting", price=4.95, currency="GBP", category="Bunting",
                       offers=[XMAS])
GATTACA = ProductFacts(product_id="1", title="Gattaca", year=1997, genres=["Drama", "Sci-Fi", "Thriller"])


class Draft(BaseModel):
    headline: str
    body: str
    cta: str


GOOD = Draft(headline="Party bunting: dress the room for Christmas",
             body="Hang Party bunting over the table for a bright festive dinner, £4.46 with XMAS10.", cta="Shop now")
GOOD_FILM = Draft(headline="Gattaca: a sharp look at tomorrow",
                  body="Gattaca (1997) follows one man who will not accept the life his genes allow him.",
                  cta="Watch it tonight")
GOOD_ZH = Draft(headline="Party bunting，圣诞装点",
                body="用Party bunting装点圣诞餐桌，使用优惠码XMAS10享9折，折后£4.46。", cta="立即选购")


def test_good_drafts_pass():
    assert floor_problems(GOOD, BUNTING, "en") == []
    assert floor_problems(GOOD_FILM, GATTACA, "en") == []
    assert floor_problems(GOOD_ZH, BUNTING, "zh") == []


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        # The Gattaca draft: body identical to the headline, CTA a cut copy of it.
        ({"headline": "Gattaca: The True Story of a Film That Would Never End",
          "body": "Gattaca: The True Story of a Film That Would Never End", "cta": "Gattaca: The True Story of a G"},
         "the body copies the headline"),
        ({"cta": "Gattaca: The True Story of a G"}, "the cta must be an action phrase"),
        ({"cta": "Tonight only"}, "the cta must be an action phrase"),
        ({"body": "Gattaca (1997) follows one man who will not accept the life his genes allow"},
         "must end with a full sentence"),
        ({"cta": "Watch it with the"}, "cut-off word ('the')"),
        ({"headline": "Gattaca: a sharp look at a G"}, "cut-off word ('G')"),
        ({"body": "Gattaca (1997), Sci-Fi, Thriller, Drama."}, "not just list its facts"),
        # The comedy draft: one word said again and again to fill the length.
        ({"body": "Gattaca is drama, and the drama of drama is the drama you want, a drama of drama."},
         "repeats 'drama'"),
        ({"body": "Gattaca is a tale about genes and a tale about hope."}, "repeats the phrase 'tale about'"),
        ({"body": "Gattaca (1997) is for you: made in 1997, a film of 1997."}, "repeats '1997'"),
        ({"body": "Gattaca (1997) asks who you are!!! Watch it."}, "repeats '!!!'"),
    ],
)
def test_each_rule_rejects_a_bad_film_draft(changes, problem):
    draft = GOOD_FILM.model_copy(update=changes)
    problems = floor_problems(draft, GATTACA, "en")
    assert any(problem in p for p in problems), problems


def test_rules_in_chinese():
    greeting = GOOD_ZH.model_copy(update={"cta": "圣诞快乐"})
    assert any("action phrase" in p for p in floor_problems(greeting, BUNTING, "zh"))
    padded = GOOD_ZH.model_copy(update={"body": "圣诞圣诞圣诞，Party bunting装点圣诞餐桌。"})
    assert any("repeats '圣诞'" in p for p in floor_problems(padded, BUNTING, "zh"))
    unfinished = GOOD_ZH.model_copy(update={"body": "用Party bunting装点圣诞餐桌，使用优惠码XMAS10享9折"})
    assert any("full sentence" in p for p in floor_problems(unfinished, BUNTING, "zh"))
    assert floor_problems(GOOD_ZH.model_copy(update={"cta": "马上下单！"}), BUNTING, "zh") == []
    bare = GOOD_ZH.model_copy(update={"body": "圣诞礼物：Party bunting，£4.46。"})  # four characters and the facts
    assert any("full sentence" in p for p in floor_problems(bare, BUNTING, "zh"))


def test_a_fact_repeated_in_one_field_pads_the_length():
    draft = GOOD.model_copy(update={"headline": "Party bunting, 10% off, 10% off with XMAS10"})
    assert any("repeats '10% off'" in p for p in floor_problems(draft, BUNTING, "en"))


def test_claims_beyond_the_facts_include_true_story_and_fame():
    for text in ("Gattaca: the true story of a dreamer", "Gattaca, the most beloved film in history",
                 "Gattaca, a legendary masterpiece", "Gattaca: The Best Comedy Ever",
                 "Gattaca, the greatest sci-fi film ever made"):
        assert any("claims fame or acclaim" in p for p in grounding_problems(text, GATTACA, "en")), text
    assert any("claims fame" in p for p in grounding_problems("Gattaca，真实故事改编", GATTACA, "zh"))
    for text in ("Gattaca, a Nobel-worthy story", "Gattaca, the prize-winning film"):  # seen on the 135M model
        assert any("claims an award" in p for p in grounding_problems(text, GATTACA, "en")), text
    bonus = grounding_problems("Party bunting with a bonus gift", BUNTING, "en")
    assert any("free delivery, gifts" in p for p in bonus)


def test_a_draft_that_copies_its_prompt_is_rejected():
    prompt = "Campaign goal: Bring lapsed buyers back for their Christmas orders with gifts they are likely to buy."
    echo = GOOD.model_copy(update={"body": "Party bunting will bring lapsed buyers back for their Christmas orders."})
    assert any("copies its instructions ('bring lapsed buyers back for')" in p
               for p in floor_problems(echo, BUNTING, "en", prompt))
    assert floor_problems(GOOD, BUNTING, "en", prompt) == []
    zh_prompt = "营销目标：用九折优惠码召回流失客户，为圣诞订货推荐他们最可能购买的礼品"
    zh_echo = GOOD_ZH.model_copy(update={"body": "Party bunting为圣诞订货推荐他们最可能购买的礼品。"})
    assert any("copies its instructions" in p for p in floor_problems(zh_echo, BUNTING, "zh", zh_prompt))


def test_the_copy_tool_rejects_a_draft_that_copies_its_feedback():
    from agent.llm import ScriptedModel, reply_json
    from tools.copywriting import CopyRequest, CopyTool

    echo = {"headline": "Party bunting", "cta": "Shop now",
            "body": "String should have at most ten reasons, and Party bunting is one of them."}
    with ScriptedModel([reply_json(echo)]) as model:
        result = CopyTool(model, retries=0).write(CopyRequest(
            goal="Christmas gifts", segment_name="lapsed", segment_description="lapsed buyers", product=BUNTING,
            channel="email"))
    assert result.source == "template" and "copies its instructions ('string should have at most')" in result.errors[0]


def test_a_hyphenated_last_word_is_complete() -> None:
    from tools.copywriting.quality import _cut_problems

    class Draft:
        headline, body, cta = "Picked for you", "Chosen for you: Star Wars (1977), for fans of Sci-Fi.", "Watch it now"

    assert _cut_problems(Draft(), "en", []) == []  # type: ignore[arg-type]
    Draft.body = "Chosen for you: Star Wars, for fans of the G."
    assert any("cut-off word ('G')" in p for p in _cut_problems(Draft(), "en", []))  # type: ignore[arg-type]
