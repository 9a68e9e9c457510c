"""The decoding constraints: patterns that let the decoder write only the facts' digits, the name and action CTAs."""

import re
from datetime import date

from tools.copywriting import CopyRequest, CopyTool, ProductFacts, grounding_problems, short_title, title_names
from tools.copywriting.constraints import copy_patterns, escape, fact_strings
from tools.copywriting.copywriter import constrained_draft_model
from tools.shop import Offer

XMAS = Offer(code="XMAS10", percent_off=10, valid_from=date(2011, 11, 9), valid_to=date(2011, 12, 9))
BUNTING = ProductFacts(product_id="p1", title="Party bunting", price=4.95, currency="GBP", category="Bunting",
                       attributes=["colour:red"], offers=[XMAS])
GATTACA = ProductFacts(product_id="1", title="Gattaca", year=1997, genres=["Drama", "Sci-Fi", "Thriller"])


def _field(schema: dict, name: str) -> dict:
    return schema["properties"][name]


def test_the_priced_schema_carries_patterns_and_forbids_other_fields():
    schema = constrained_draft_model("push", 120, BUNTING, "en").model_json_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(schema["required"]) == {"headline", "body", "cta"}
    for name in ("headline", "body", "cta"):
        # The patterns bound the length (vLLM would hand a pattern with maxLength to llguidance, which cuts words).
        assert _field(schema, name)["pattern"].startswith("^") and "maxLength" not in _field(schema, name)
    headline, body, cta = (_field(schema, n)["pattern"] for n in ("headline", "body", "cta"))
    assert re.fullmatch(headline, "Party bunting: £4.46 with XMAS10")
    assert re.fullmatch(headline, "Party bunting for festive rooms!")
    assert not re.fullmatch(headline, "Party bunting for a very festive dinner table!")  # three words fit in push
    assert not re.fullmatch(headline, "Festive bunting for your party")  # the name is required, first
    assert not re.fullmatch(headline, "Party Bunting: ready for Christmas")  # exactly as the catalog writes it
    # Digits and currency only inside the facts: the price, the price after the offer, the code, the discount.
    assert re.fullmatch(body, "Dress the tree with Party bunting, now £4.95 or £4.46 with XMAS10, 10% off.")
    assert re.fullmatch(body, "Offer valid 9 Nov 2011 to 9 Dec 2011, so order early.")
    assert not re.fullmatch(body, "One. Two. Three.")  # two words at least per sentence, one sentence per 110
    assert not re.fullmatch(body, " ".join(["word"] * 30) + ".")  # at most 20 words a sentence
    for invented in ("Party bunting for £3.99 today.", "Buy 2 packs of Party bunting.", "Save 20% on it.",
                     "Use XMAS20 now.", "Party bunting, 27, 107 of them."):
        assert not re.fullmatch(body, invented), invented
    assert not re.fullmatch(body, "PARTY TIME with bunting.")  # no shouting outside the facts
    assert not re.fullmatch(body, "Bring back a group ofcliquescommittedtowelcome.")  # no glued words
    assert not re.fullmatch(body, "Bunting for the party")  # ends with a full stop, ! or ?
    assert re.fullmatch(cta, "Shop now") and re.fullmatch(cta, "Use XMAS10!")
    assert not re.fullmatch(cta, "Use XMAS10 today and tomorrow")  # a push CTA holds 20 characters
    assert not re.fullmatch(cta, "Party bunting") and not re.fullmatch(cta, "Now 10% off")


def test_the_film_schema_allows_its_year_and_title_and_no_offer_verbs():
    schema = constrained_draft_model("email", 240, GATTACA, "en").model_json_schema()
    headline, body, cta = (_field(schema, n)["pattern"] for n in ("headline", "body", "cta"))
    assert re.fullmatch(headline, "Gattaca: a sharp look at the future")
    assert re.fullmatch(body, "Made in 1997, Gattaca asks who we are allowed to be.")
    assert not re.fullmatch(body, "Made in 1998, Gattaca asks who we are.")
    assert not re.fullmatch(body, "Gattaca is 50% off this week.")
    assert re.fullmatch(cta, "Watch Gattaca tonight") and not re.fullmatch(cta, "Claim your code")


def test_chinese_patterns_bound_their_repeats_and_keep_the_name_in_english():
    patterns = copy_patterns(BUNTING, "zh", (30, 100, 20))
    assert re.fullmatch(patterns.headline, "Party bunting，圣诞装点")
    assert re.fullmatch(patterns.body, "用Party bunting装点圣诞，使用优惠码XMAS10享9折，折后£4.46。")
    assert not re.fullmatch(patterns.body, "Party bunting is festive.")  # no free English words in Chinese copy
    assert not re.fullmatch(patterns.body, "装点圣诞，只要£3.99。")
    assert re.fullmatch(patterns.cta, "立即选购") and re.fullmatch(patterns.cta, "使用XMAS10")
    assert not re.fullmatch(patterns.cta, "圣诞快乐")
    assert not re.fullmatch(patterns.body, "装" * 200 + "。")  # bounded (the schema has no maxLength for zh)
    schema = constrained_draft_model("sms", 100, BUNTING, "zh").model_json_schema()
    assert "maxLength" not in _field(schema, "body") and _field(schema, "body")["pattern"].startswith("^")


def test_fact_strings_and_escaping():
    strings = fact_strings(BUNTING, "en")
    assert {"Party bunting", "£4.95", "£4.46", "XMAS10", "10% off", "9 Nov 2011 to 9 Dec 2011"} <= set(strings)
    assert len(strings[0]) >= len(strings[-1])
    assert escape("£4.95 (x)") == r"£4\.95 \(x\)" and escape("T-light holder") == "T-light holder"


def test_the_copy_tool_sends_the_constrained_schema_with_n_candidates():
    seen = []

    def answer(request):
        seen.append(request)
        from agent.llm import reply_json
        return reply_json({"headline": "Gattaca: a sharp look at the future",
                           "body": "Made in 1997, Gattaca asks who we are allowed to be.", "cta": "Watch it tonight"})

    from agent.llm import FunctionModel
    tool = CopyTool(FunctionModel(answer), candidates=3)
    result = tool.write(CopyRequest(goal="win back fans", segment_name="fans", segment_description="sci-fi fans",
                                    product=GATTACA, channel="email"))
    assert result.source == "llm" and seen[0].n == 3 and seen[0].frequency_penalty > 0
    assert "pattern" in seen[0].response_schema["properties"]["body"]


PARADISE = ProductFacts(product_id="1", title="Paradise Lost: The Child Murders at Robin Hood Hills", year=1996,
                        genres=["Documentary"])
T_LIGHT = ProductFacts(product_id="p2", title="Victorian glass hanging T-light", price=1.95, currency="GBP")


def test_a_name_longer_than_the_headline_is_named_by_its_short_name_never_cut():
    assert short_title(PARADISE.title) == "Paradise Lost"
    assert short_title("Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb") == "Dr. Strangelove"
    assert short_title(T_LIGHT.title) == "Victorian glass hanging"  # whole words, no trailing article
    assert short_title("Englishman Who Went Up a Hill, But Came Down a Mountain, The") == "The Englishman Who Went Up"
    assert short_title("Gattaca") == "Gattaca" and short_title("Usual Suspects, The") == "The Usual Suspects"
    push = copy_patterns(PARADISE, "en", (45, 120, 20))  # 52 characters of name: no headline could hold it
    assert re.fullmatch(push.headline, "Paradise Lost: true crime, filmed")
    assert not re.fullmatch(push.headline, PARADISE.title)
    assert re.fullmatch(copy_patterns(PARADISE, "en", (80, 500, 30)).headline, PARADISE.title)  # email holds it
    sms_zh = copy_patterns(T_LIGHT, "zh", (30, 110, 20))
    assert re.fullmatch(sms_zh.headline, "Victorian glass hanging，烛光")
    assert re.fullmatch(sms_zh.body, "用Victorian glass hanging T-light点亮冬夜，售价£1.95。")  # the whole name


def test_the_short_name_names_the_product_for_grounding_and_the_template_uses_it():
    assert grounding_problems("Paradise Lost: a documentary. Watch now", PARADISE, "en") == []
    assert "Paradise Lost" in title_names(PARADISE.title)
    draft = CopyTool(None).fallback(CopyRequest(goal="g", segment_name="s", segment_description="d", product=PARADISE,
                                                channel="push"))
    assert draft.headline == "Paradise Lost"  # was "Paradise Lost: The Child Murders at Robin Hoo", a cut word
