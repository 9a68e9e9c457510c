import re

import pytest

from tools.copywriting import ATTRIBUTE_WORDS_ZH, attribute_words
from tools.copywriting.attribute_words import APPEARANCE_TERMS, appearance_terms, split_attribute

HEART_HOLDER = ["type:t-light holder", "colour:white", "material:metal", "theme:Christmas", "pattern:polka dot"]


def test_attribute_words_in_english_and_chinese_leave_out_the_type():
    assert attribute_words(HEART_HOLDER, "en") == ["colour white", "material metal", "theme Christmas",
                                                   "pattern polka dot"]
    assert attribute_words(HEART_HOLDER, "zh") == ["白色", "金属", "圣诞", "波点"]
    assert attribute_words(["colour:white", "colour:White", "theme:Nautical"], "zh") == ["白色", "Nautical"]
    assert ATTRIBUTE_WORDS_ZH["glass"] == "玻璃" and ATTRIBUTE_WORDS_ZH["christmas"] == "圣诞"
    assert split_attribute("colour: white") == ("colour", "white") and split_attribute("white") == ("", "white")


@pytest.mark.parametrize(
    ("text", "found"),
    [("a rose gold frame", {"rose gold": "rose gold"}), ("粉红色的蝴蝶结", {"pink": "粉红色"}),
     ("Red and GREY glasses", {"red": "Red", "grey": "GREY", "glass": "glasses"}), ("wooden box", {"wood": "wooden"}),
     ("黄铜制挂钩", {"brass": "黄铜制"}), ("golden glow, reduced, necklace", {}), ("象牙白色陶瓷", {"ivory": "象牙白",
                                                                                    "ceramic": "陶瓷"})],
)
def test_appearance_terms_prefer_the_longest_term(text, found):
    assert appearance_terms(text) == found


def test_ambiguous_words_are_recognised_but_not_checked():
    assert appearance_terms("透明玻璃", checked_only=True) == {"glass": "玻璃"}
    assert "clear" in appearance_terms("透明玻璃")


def test_every_term_reads_back_from_its_own_words():
    for value, term in APPEARANCE_TERMS.items():
        for word in term.chinese:
            assert set(appearance_terms(word)) == {value}, word
        if term.english and re.fullmatch(term.english, value):  # "china" alone is a country: only "bone china" counts
            assert set(appearance_terms(value)) == {value}, value
