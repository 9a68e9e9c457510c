"""Rule 7 of the quality floor: real words. Made-up English words and Chinese strung from rare characters fail."""

import pytest

from tools.copywriting import ProductFacts
from tools.copywriting.quality import floor_problems
from tools.copywriting.real_words import stranded_characters, unknown_english_words, word_problems

GATTACA = ProductFacts(product_id="1", title="Gattaca", year=1997, genres=["Drama", "Sci-Fi", "Thriller"])


def test_made_up_and_glued_english_words_are_found_and_real_rare_words_are_not():
    # Words the embedded model wrote in the full eval (2026-11-30).
    assert unknown_english_words("The Movie delivers, and it isemaeth. How I Learned andlovethebomb.") == [
        "isemaeth", "andlovethebomb"]
    assert unknown_english_words("A cosy rewatch for Tolkien fans: don't miss it, you've earned it.") == []
    # Fragments at the bottom of the word list are not words either ("Star Kid Lak Msti", "Discover or howi").
    assert unknown_english_words("Star Kid Lak Msti: discover or howi the tribbles") == ["Msti", "howi"]


def test_a_word_of_the_prompt_is_not_invented():
    assert word_problems("Explore the Zorblax range.", "en") == [
        "uses words that are not English (Zorblax): write real words"]
    assert word_problems("Explore the Zorblax range.", "en", known="Brief: the Zorblax range launches") == []


@pytest.mark.parametrize("text", [
    "动画、喜剧、惊悚的苏胁宝福喜哉神封，人们都会看到，福哉神封！",  # the embedded model, full eval
    "粮食视频、摄润现场、漂替美菊、强大富能产线宝、惊天苏蘑杂，全家朴士之间的友朴。",
    "三正识运功思惶！",  # short: three rare characters of seven
])
def test_chinese_strung_from_rare_characters_fails(text):
    rare, gibberish, han = stranded_characters(text)
    assert len(rare) >= 5 or gibberish >= 6 or len(rare) > 0.3 * han
    assert word_problems(text, "zh")[0].startswith("the Chinese does not read as words")


@pytest.mark.parametrize("text", [
    "圣诞将至，这款复古彩旗让您的派对更添节日气氛。",
    "这款陶瓷杯手感细腻，釉色温润，是办公室里的小确幸。",
    "冬日暖心好礼，包邮到家，下单即送精美贺卡。",
    "用Party bunting装点圣诞餐桌，使用优惠码XMAS10享9折，折后£4.46。",
])
def test_hand_written_chinese_marketing_passes(text):
    assert word_problems(text, "zh") == []


def test_the_floor_rejects_an_invented_word_outside_the_facts_only():
    class Draft:
        headline = "Gattaca: a sharp look at tomorrow"
        body = "Gattaca (1997) follows one man who defies his genes, and it isemaeth."
        cta = "Watch it tonight"

    assert floor_problems(Draft(), GATTACA, "en") == ["uses words that are not English (isemaeth): write real words"]
    Draft.body = "Gattaca (1997) follows one man who defies his genes."
    assert floor_problems(Draft(), GATTACA, "en") == []  # "Gattaca" is a fact, not checked against the list
