from datetime import date

import pytest

from tools.copywriting import format_price, offer_discount_text, offer_validity_text
from tools.copywriting.prices import find_amounts, find_codes, find_discounts
from tools.shop import Offer

XMAS10 = Offer(code="XMAS10", percent_off=10, valid_from=date(2011, 12, 1), valid_to=date(2011, 12, 24))


@pytest.mark.parametrize(
    ("amount", "currency", "written"),
    [(2.55, "GBP", "£2.55"), (2.5, "gbp", "£2.50"), (1234.5, "GBP", "£1,234.50"), (3, "USD", "$3.00"),
     (1200, "JPY", "¥1,200"), (3, "SEK", "3.00 SEK"), (2.5, None, "2.50")],
)
def test_format_price(amount, currency, written):
    assert format_price(amount, currency) == written


@pytest.mark.parametrize(
    ("offer", "english", "chinese"),
    [(Offer(code="A10", percent_off=10), "10% off", "9折"),
     (Offer(code="A15", percent_off=15), "15% off", "8.5折"),
     (Offer(code="A50", percent_off=50), "50% off", "5折"),
     (Offer(code="A125", percent_off=12.5), "12.5% off", "立减12.5%"),
     (Offer(code="TWO", amount_off=2), "£2.00 off", "立减£2.00")],
)
def test_offer_discount_text_in_both_languages(offer, english, chinese):
    assert offer_discount_text(offer, "GBP", "en") == english
    assert offer_discount_text(offer, "GBP", "zh") == chinese


def test_written_discounts_read_back_as_the_same_discount():
    for percent in (5, 10, 12.5, 15, 20, 25, 30, 50, 75):
        offer = Offer(code="P1", percent_off=percent)
        for language in ("en", "zh"):
            stated = find_discounts(offer_discount_text(offer, "GBP", language))
            assert [d.percent_off for d in stated] == [percent], (percent, language)
    written = offer_discount_text(Offer(code="TWO", amount_off=2), "GBP", "zh")
    assert [(a.amount, a.discount) for a in find_amounts(written, "GBP")] == [(2.0, True)]


def test_offer_validity_text():
    assert offer_validity_text(XMAS10, "en") == "1 Dec 2011 to 24 Dec 2011"
    assert offer_validity_text(XMAS10, "zh") == "2011年12月1日至2011年12月24日"
    until = XMAS10.model_copy(update={"valid_from": None})
    assert offer_validity_text(until, "en") == "until 24 Dec 2011"
    assert offer_validity_text(until, "zh") == "至2011年12月24日"
    assert offer_validity_text(XMAS10.model_copy(update={"valid_to": None}), "en") == "from 1 Dec 2011"
    assert offer_validity_text(Offer(code="ANY1", percent_off=5), "en") is None


@pytest.mark.parametrize(
    ("text", "amount", "currencies", "discount"),
    [("now £2.55", 2.55, ("GBP",), False), ("售价2.55英镑", 2.55, ("GBP",), False), ("GBP 2.55", 2.55, ("GBP",), False),
     ("only 95p", 0.95, ("GBP",), False), ("for $3", 3.0, ("USD",), False), ("售价2.95元", 2.95, ("CNY",), False),
     ("¥300", 300.0, ("JPY", "CNY"), False), ("£1,234.50 today", 1234.5, ("GBP",), False),
     ("£5 off", 5.0, ("GBP",), True), ("save £0.29", 0.29, ("GBP",), True), ("立减£1.00", 1.0, ("GBP",), True),
     ("优惠价£2.66", 2.66, ("GBP",), False)],
)
def test_find_amounts(text, amount, currencies, discount):
    (found,) = find_amounts(text, "GBP")
    assert (found.amount, found.currencies, found.discount) == (amount, currencies, discount)
    assert text[found.start:found.end] == found.text


def test_find_amounts_knows_a_currency_without_a_symbol_and_ignores_bare_numbers():
    assert [a.amount for a in find_amounts("only 25 SEK, 3 tiers", "SEK")] == [25.0]
    assert find_amounts("Regency cakestand 3 tier, 72 cases", "GBP") == []


@pytest.mark.parametrize(
    ("text", "percent"),
    [("10% off", 10), ("10%折扣", 10), ("20 percent off", 20), ("打九折", 10), ("9折", 10), ("8.5折", 15), ("85折", 15),
     ("八五折", 15), ("half price", 50), ("half-price", 50), ("半价", 50), ("百分之10", 10)],
)
def test_find_discounts(text, percent):
    assert [d.percent_off for d in find_discounts(text)] == [percent]


@pytest.mark.parametrize(
    ("text", "codes"),
    [("Use code XMAS10 at checkout", ["XMAS10"]), ("use code xmas10", ["xmas10"]), ("Enter WELCOME today", ["WELCOME"]),
     ("code: 'SAVE-5'", ["SAVE-5"]), ("使用优惠码XMAS10享9折", ["XMAS10"]), ("with XMAS10, £2.66", ["XMAS10"]),
     ("use the code below", []), ("use it tonight", []), ("use 10% off", []), ("T-light holder, 3D card", [])],
)
def test_find_codes(text, codes):
    assert [c.code for c in find_codes(text)] == codes
