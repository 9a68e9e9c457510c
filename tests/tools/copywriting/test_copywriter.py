import re
import shutil
from datetime import date

import pytest

from agent.llm import FunctionModel, ScriptedModel, reply_candidates, reply_json, reply_text
from prompts import PRODUCTION_PROMPTS, PROMPTS_DIR, PromptError, PromptRenderer
from tools.copywriting import (
    CHANNEL_LIMITS,
    CatalogTitles,
    CopyRequest,
    CopyTool,
    CopyUnavailableError,
    ProductFacts,
    RewriteError,
    RewriteFeedback,
    display_title,
    format_price,
    grounding_problems,
)
from tools.copywriting.copywriter import CopyDraft
from tools.shop import Offer, Product

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
    assert model.requests[0].response_schema["properties"]["headline"]["pattern"].startswith("^Star Wars")
    long_headline = {"headline": "Star Wars " + "x" * CHANNEL_LIMITS["push"].headline, "body": "The 1977 space saga "
                     "awaits you.", "cta": "Watch"}
    with ScriptedModel([reply_json(long_headline)]) as model:
        too_long = CopyTool(model, retries=0).write(_request())
    assert too_long.source == "template" and "at most 45 characters" in too_long.errors[0]


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
    assert "the body copies the headline" in result.errors[0] and "not a copy of the headline" in result.errors[0]


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


XMAS10 = Offer(code="XMAS10", percent_off=10, valid_from=date(2011, 12, 1), valid_to=date(2011, 12, 24),
               categories=["Holders"])
HOLDER = dict(product_id="85123A", title="White hanging heart T-light holder", price=2.95, currency="GBP",
              category="Holders", attributes=["type:t-light holder", "colour:white", "theme:Love"])
CAKE_CASES = ProductFacts(product_id="21212", title="Pack of 72 retrospot cake cases", price=0.55, currency="GBP",
                          category="Baking", attributes=["type:cake cases", "pattern:polka dot", "theme:Baking"],
                          offers=[Offer(code="BAKE20", percent_off=20, product_ids=["21212"])])
CAKESTAND = ProductFacts(product_id="22423", title="Regency cakestand 3 tier", price=10.95, currency="GBP",
                         category="Cake stands", attributes=["type:cakestand", "theme:Vintage"],
                         offers=[Offer(code="CAKE2", amount_off=2, product_ids=["22423"])])
PRICED = {"no offer": ProductFacts(**HOLDER), "percent offer": ProductFacts(**HOLDER, offers=[XMAS10]),
          "long name": CAKE_CASES, "amount offer": CAKESTAND}


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("channel", ["email", "push", "sms"])
@pytest.mark.parametrize("product", list(PRICED))
def test_fallback_for_a_priced_product_states_its_price_and_offer_and_is_grounded(product, channel, language):
    facts = PRICED[product]
    with ScriptedModel([reply_text("no json here")]) as model:
        result = CopyTool(model, retries=0).write(_request(product=facts, channel=channel, language=language,
                                                           disclaimer="T&Cs apply."))
    assert result.source == "template"
    assert grounding_problems(result.text, facts, language) == []
    assert facts.title in result.text
    if facts.offers:
        offer = facts.offers[0]
        assert offer.code in result.text and format_price(offer.price_after(facts.price), "GBP") in result.text
    else:
        assert "£2.95" in result.text
    assert len(result.text) <= CHANNEL_LIMITS[channel].total + 3  # three newlines join the parts


def test_fallback_for_a_priced_product_in_email_says_the_discount_and_the_dates():
    facts = PRICED["percent offer"]
    english = CopyTool(ScriptedModel()).fallback(_request(product=facts, channel="email"))
    assert english.body == ("Picked for you from our Holders range: White hanging heart T-light holder, £2.95, "
                            "or £2.66 with code XMAS10 (10% off, valid 1 Dec 2011 to 24 Dec 2011).")
    assert english.cta == "Shop now"
    chinese = CopyTool(ScriptedModel()).fallback(_request(product=facts, channel="email", language="zh"))
    assert chinese.body == ("为您精选：White hanging heart T-light holder（白色、爱心），售价£2.95，"
                            "使用优惠码XMAS10享9折，折后£2.66，有效期2011年12月1日至2011年12月24日。")


def test_priced_prompt_states_the_price_and_each_offer_and_only_these():
    tool = CopyTool(ScriptedModel())
    system, user = tool.messages(_request(product=PRICED["percent offer"]))
    assert "online shop" in system.content and "state a price or an offer only exactly as given" in system.content
    assert "- Name: White hanging heart T-light holder\n- Category: Holders\n" in user.content
    assert "- Attributes: colour white, theme Love\n- Price: £2.95\n" in user.content
    assert "- Offer: code XMAS10, 10% off, £2.66 after it, valid 1 Dec 2011 to 24 Dec 2011\n" in user.content
    assert "State only these facts, this price and these offers" in user.content and "Genres" not in user.content
    _, plain = tool.messages(_request(product=PRICED["no offer"]))
    assert "- Offers: none (no discount, sale or code exists)" in plain.content and "Offer:" not in plain.content
    system_zh, user_zh = tool.messages(_request(product=PRICED["percent offer"], language="zh"))
    assert "商品名按给出的英文原样写出" in system_zh.content
    assert "- 特点：白色、爱心\n- 价格：£2.95\n" in user_zh.content
    assert "- 优惠：优惠码 XMAS10，9折，折后 £2.66，有效期2011年12月1日至2011年12月24日" in user_zh.content
    _, plain_zh = tool.messages(_request(product=PRICED["no offer"], language="zh"))
    assert "- 优惠：无（没有任何折扣、促销或优惠码）" in plain_zh.content


def test_an_invented_discount_is_fed_back_and_the_grounded_fix_accepted():
    facts = PRICED["percent offer"]
    turns = [reply_json({"headline": "White hanging heart T-light holder", "cta": "Shop now",
                         "body": "Get 25% off with code XMAS25 and free delivery, now £2.21."}),
             reply_json({"headline": "White hanging heart T-light holder", "cta": "Shop now",
                         "body": "A warm heart-shaped glow: £2.66 with code XMAS10, until 24 Dec 2011."})]
    with ScriptedModel(turns) as model:
        result = CopyTool(model).write(_request(product=facts))
    assert result.source == "llm" and result.attempts == 2
    feedback = model.requests[1].messages[-1].content
    for problem in ("'XMAS25', but the only codes are XMAS10", "'25%', 25% off) that no offer gives",
                    "'£2.21', but the only amounts you may state are £2.95 (the price) or £2.66 (with code XMAS10)",
                    "free delivery"):
        assert problem in feedback


def test_movielens_prompt_and_fallback_are_unchanged():
    system, user = CopyTool(ScriptedModel()).messages(_request(product=STAR_WARS.model_copy(
        update={"genres": ["Action", "Sci-Fi"]})))
    assert system.content.startswith("You are a marketing copywriter for an online video shop.")
    assert user.content == (
        "Campaign goal: win back fans\nAudience: lapsed, 30s\nChannel: push (headline at most 45 characters, body at "
        "most 120, cta at most 20)\nProduct facts:\n- Title: Star Wars\n- Year: 1977\n- Genres: Action, Sci-Fi\n"
        "Write one short push message that makes this audience want to watch Star Wars. Name the title exactly as "
        "written above. Use only these facts: no prices, offers or other years.")
    draft = CopyTool(ScriptedModel()).fallback(_request(language="zh"))
    assert draft.model_dump() == {"headline": "Star Wars（1977）", "cta": "立即观看",
                                  "body": "为喜欢动作、冒险、爱情、科幻、战争的您推荐：Star Wars（1977）。"}


FEEDBACK = RewriteFeedback(
    headline="Star Wars is back", body="The 1977 space saga awaits you tonight.", cta="Watch now", point=0.4123,
    low=0.3011, high=0.5234, headline_index=0.87, headline_index_low=0.71, headline_index_high=1.04,
    factors=["product for this segment: likes Sci-Fi", "headline: asks a question: no (-6.2% click-through vs an "
             "average headline)"],
    evidence=['"What happens next will surprise you" +12.0% in its test'],
)


def test_rewrite_prompt_holds_the_old_message_its_prediction_and_factors():
    new = {"headline": "Star Wars: ready for the saga?", "body": "The 1977 space saga is waiting for you.",
           "cta": "Watch now"}
    with ScriptedModel([reply_json(new)]) as model:
        result = CopyTool(model, retries=0).rewrite(_request(), FEEDBACK)
    assert result.source == "llm" and result.headline == new["headline"]
    first, messages = CopyTool(ScriptedModel()).messages(_request()), model.requests[0].messages
    assert [m.content for m in messages[:2]] == [m.content for m in first]  # the first draft's prompt, then …
    assert messages[2].role == "assistant" and '"headline":"Star Wars is back"' in messages[2].content
    feedback = messages[3].content
    assert messages[3].role == "user" and "0.4123" in feedback and "0.3011" in feedback and "0.87" in feedback
    assert all(f in feedback for f in FEEDBACK.factors) and FEEDBACK.evidence[0] in feedback
    with ScriptedModel([reply_text("no")]) as model, pytest.raises(RewriteError):
        CopyTool(model, rewrite_retries=0).rewrite(_request(language="zh"), FEEDBACK)
    assert "文案效果模型" in model.requests[0].messages[3].content and "0.4123" in model.requests[0].messages[3].content


def test_rewrite_keeps_the_best_valid_candidate_by_the_given_rank_and_never_the_old_headline():
    same = {"headline": "Star Wars is back", "body": "The 1977 space saga returns for you.", "cta": "Watch now"}
    short = {"headline": "Star Wars tonight", "body": "The 1977 space saga returns for you.", "cta": "Watch now"}
    longer = {"headline": "Star Wars: why it still thrills", "body": "The 1977 space saga returns for you.",
              "cta": "Watch now"}
    with ScriptedModel([reply_candidates([same, short, longer])]) as model:
        result = CopyTool(model, retries=0, candidates=3).rewrite(_request(), FEEDBACK,
                                                                 rank=lambda d: -len(d.headline))
    assert result.headline == "Star Wars tonight" and model.requests[0].n == 3
    assert any("the headline is the old one" in e for e in result.errors)
    with ScriptedModel([reply_json(same)] * 2) as model, pytest.raises(RewriteError) as failed:
        CopyTool(model, retries=3, rewrite_retries=1, candidates=1).rewrite(_request(), FEEDBACK)  # rewrite's own
    assert failed.value.attempts == 2 and len(failed.value.errors) == 2 and failed.value.prompt_tokens == 40


def test_the_strategys_angle_is_the_theme_of_the_copy_and_rewrite_prompts():
    tool = CopyTool(ScriptedModel())
    _, user = tool.messages(_request(angle="welcome back to sci-fi"))
    assert "Audience: lapsed, 30s\nTheme of the message: welcome back to sci-fi (write the message around it)\n" \
        in user.content
    _, user_zh = tool.messages(_request(angle="welcome back to sci-fi", language="zh"))
    assert "文案主题：welcome back to sci-fi（围绕这个主题写）" in user_zh.content
    _, plain = tool.messages(_request())
    assert "Theme" not in plain.content and "welcome back" not in plain.content
    with ScriptedModel([reply_text("no")]) as model, pytest.raises(RewriteError):
        CopyTool(model, rewrite_retries=0).rewrite(_request(angle="welcome back to sci-fi"), FEEDBACK)
    messages = model.requests[0].messages
    assert "Theme of the message: welcome back to sci-fi" in (messages[1].content or "")
    assert "product and facts on the same theme (welcome back to sci-fi) with a new headline" in (
        messages[3].content or "")


@pytest.mark.parametrize(("angle", "rule"), [("more comedy you will enjoy", "calls it Comedy"),
                                             ("welcome: sci-fi to start with", "ends with a cut-off word ('with')")])
def test_a_draft_that_copies_the_angle_passes_grounding_and_the_quality_floor(angle, rule):
    """The angle (derived, not a claim) repeated verbatim fails neither check; without it as the theme it would.

    "comedy" is not a genre of Star Wars (grounding), five words in a row come from the prompt (the echo rule), and
    "... to start with" ends with a word a phrase does not end with (the cut rule).
    """
    draft = {"headline": f"Star Wars - {angle}", "body": "The 1977 space saga returns for lapsed fans tonight.",
             "cta": "Watch now"}
    with ScriptedModel([reply_json(draft)]) as model:
        result = CopyTool(model, retries=0).write(_request(angle=angle))
    assert result.source == "llm" and result.headline == draft["headline"] and result.errors == []
    # the same draft answering the same prompt, without the angle as the theme to exempt: rejected
    tool, request = CopyTool(ScriptedModel()), _request(angle=angle)
    prompt = "\n".join(m.content or "" for m in model.requests[0].messages)
    context = {**tool._context(request, CHANNEL_LIMITS["push"]), "prompt": prompt, "theme": None}
    with pytest.raises(ValueError) as rejected:
        CopyDraft.model_validate(draft, context=context)
    assert rule in str(rejected.value) and "copies its instructions" in str(rejected.value)
    assert grounding_problems(f"Star Wars - {angle}", STAR_WARS, "en", theme=angle) == []


@pytest.mark.parametrize(("offers", "stated"), [([], False), ([XMAS10], True)])
def test_the_offers_of_the_request_decide_the_codes_of_its_schema_and_prompt(offers, stated):
    """A request whose product facts carry no offer (its segment's strategy chose none) cannot state a code."""
    facts = ProductFacts(**HOLDER, offers=offers)
    with ScriptedModel([reply_text("no json here")]) as model:
        result = CopyTool(model, retries=0).write(_request(product=facts, channel="email", angle="little treats"))
    schema = model.requests[0].response_schema
    assert schema is not None
    assert ("XMAS10" in schema["properties"]["body"]["pattern"]) is stated
    assert ("code XMAS10" in (model.requests[0].messages[1].content or "")) is stated
    assert ("XMAS10" in result.text) is stated  # the fact template too


def test_a_draft_naming_another_product_of_the_shop_is_rejected_for_a_candidate_that_does_not():
    star_kid = ProductFacts(product_id="1", title="Star Kid (1997)", year=1997, genres=["Adventure"])
    titles = CatalogTitles([Product(product_id="1", title="Star Kid (1997)", genres=["Adventure"]),
                            Product(product_id="2", title="Kids (1995)", genres=["Drama"])])
    naming_kids = {"headline": "Star Kid is here", "body": "A brave boy and his Kids save the day.", "cta": "Watch now"}
    clean = {"headline": "Star Kid is here", "body": "A brave boy finds a suit from space.", "cta": "Watch now"}
    with ScriptedModel([reply_candidates([naming_kids, clean])]) as model:
        result = CopyTool(model, retries=0, candidates=2).write(
            _request(product=star_kid, channel="email", catalog=titles))
    assert result.source == "llm" and result.body == clean["body"]
    assert any("names other products of the shop (Kids): name only Star Kid" in e for e in result.errors)
    # Without the shop's names (no catalog) the same draft passes: the check is the catalog's, not a word list.
    with ScriptedModel([reply_candidates([naming_kids])]) as model:
        assert CopyTool(model, retries=0, candidates=1).write(_request(product=star_kid, channel="email")).body \
            == naming_kids["body"]


def test_chinese_copy_samples_more_candidates_per_call_than_english():
    zh = {"headline": "Star Wars 回来了", "body": "喜欢科幻的你，一定不能错过这部经典之作。", "cta": "立即观看"}
    en = {"headline": "Star Wars is back", "body": "The 1977 space saga returns for you.", "cta": "Watch now"}
    with ScriptedModel([reply_candidates([zh] * 8)]) as model:
        assert CopyTool(model, retries=0).write(_request(language="zh", channel="email")).source == "llm"
    with ScriptedModel([reply_candidates([en] * 5)]) as english:
        assert CopyTool(english, retries=0).write(_request(channel="email")).source == "llm"
    assert (model.requests[0].n, english.requests[0].n) == (8, 5)
