"""Grounding of copy for a shop with prices (UCI Online Retail products), and the unpriced rule left as it was."""

from datetime import date

import pytest

from tools.copywriting import ProductFacts, grounding_problems
from tools.shop import Offer, Product

XMAS10 = Offer(code="XMAS10", percent_off=10, valid_from=date(2011, 12, 1), valid_to=date(2011, 12, 24),
               categories=["Holders"])
CAKE2 = Offer(code="CAKE2", amount_off=2, product_ids=["22423"])
HOLDER = dict(product_id="85123A", title="White hanging heart T-light holder", price=2.95, currency="GBP",
              category="Holders", attributes=["type:t-light holder", "colour:white", "theme:Love"])
PLAIN = ProductFacts(**HOLDER)
ON_OFFER = ProductFacts(**HOLDER, offers=[XMAS10])
CAKESTAND = ProductFacts(product_id="22423", title="Regency cakestand 3 tier", price=10.95, currency="GBP",
                         category="Cake stands", attributes=["type:cakestand", "theme:Vintage"], offers=[CAKE2])
NAME = "White hanging heart T-light holder"


def _problems(text: str, facts: ProductFacts, language: str = "en") -> list[str]:
    return grounding_problems(text, facts, language)


@pytest.mark.parametrize(
    ("text", "facts", "language"),
    [(f"{NAME}, just £2.95: a warm white glow for your table.", PLAIN, "en"),
     (f"{NAME} for 2.95 — light up the evening.", PLAIN, "en"),
     (f"{NAME}，白色爱心造型，售价£2.95，点亮温馨的家。", PLAIN, "zh"),
     (f"{NAME}，售价2.95英镑。", PLAIN, "zh"),
     (f"{NAME}: £2.95, or £2.66 with code XMAS10 (10% off), valid 1 Dec 2011 to 24 Dec 2011.", ON_OFFER, "en"),
     (f"Use XMAS10 and save £0.29 on the {NAME}. Limited time: ends 24 Dec.", ON_OFFER, "en"),
     (f"{NAME}，使用优惠码XMAS10享9折，折后£2.66，有效期至2011年12月24日。", ON_OFFER, "zh"),
     (f"{NAME}：10%折扣，打九折后仅需2.66英镑，优惠码XMAS10。", ON_OFFER, "zh"),
     ("Regency cakestand 3 tier: £2.00 off with code CAKE2, now £8.95. Three tiers for 3 kinds of cake.", CAKESTAND,
      "en"),
     ("Regency cakestand 3 tier，使用优惠码CAKE2立减£2.00，到手£8.95。", CAKESTAND, "zh")],
)
def test_the_real_price_and_an_existing_offer_are_grounded(text, facts, language):
    assert _problems(text, facts, language) == []


@pytest.mark.parametrize(
    ("text", "facts", "language", "problem"),
    [(f"{NAME}, now only £2.50!", PLAIN, "en", "the only amounts you may state are £2.95 (the price)"),
     (f"{NAME}, now only £2.50!", ON_OFFER, "en", "£2.95 (the price) or £2.66 (with code XMAS10)"),
     (f"{NAME}，售价3.50英镑。", PLAIN, "zh", "states the price '3.50英镑'"),
     (f"{NAME} for $2.95", PLAIN, "en", "an amount in USD; the catalog's prices are in GBP"),
     (f"{NAME}，售价2.95元", PLAIN, "zh", "an amount in CNY"),
     (f"{NAME}: 20% off today", ON_OFFER, "en", "'20%', 20% off) that no offer gives; the offers are XMAS10 (10% off)"),
     (f"{NAME}: half price with XMAS10", ON_OFFER, "en", "'half price', 50% off) that no offer gives"),
     (f"{NAME}，打八折", ON_OFFER, "zh", "'八折', 20% off) that no offer gives"),
     ("Regency cakestand 3 tier: £5 off", CAKESTAND, "en", "states a discount of '£5' that no offer gives"),
     (f"{NAME}: use code XMAS20 for £2.66", ON_OFFER, "en", "states the code 'XMAS20', but the only codes are XMAS10"),
     (f"{NAME}，使用优惠码SAVE5", ON_OFFER, "zh", "states the code 'SAVE5'"),
     (f"{NAME} at £2.95: use code XMAS10", PLAIN, "en", "states the code 'XMAS10', but no offer exists"),
     (f"{NAME}: 10% off, just £2.95", PLAIN, "en", "states a discount ('10%'), but no offer exists for this product"),
     (f"{NAME}，9折优惠，售价£2.95", PLAIN, "zh", "states a discount ('9折'), but no offer exists"),
     (f"{NAME} is on sale at £2.95", PLAIN, "en", "mentions a discount or offer ('sale'), but no offer exists"),
     (f"{NAME}，限时促销，售价£2.95", PLAIN, "zh", "mentions a discount or offer ('促销'), but no offer exists"),
     (f"{NAME}: limited time, £2.95", PLAIN, "en", "claims a deadline ('limited time'), but no offer with an end date"),
     (f"{NAME} in red, £2.95", PLAIN, "en", "calls it 'red', a colour (red) it does not have: its colours and "
                                             "materials are white"),
     (f"{NAME}: glass and silver, £2.95", PLAIN, "en", "calls it 'glass', a material (glass) it does not have"),
     (f"{NAME}，粉红色玻璃，售价£2.95", PLAIN, "zh", "calls it '粉红色', a colour (pink)"),
     (f"{NAME}，红色，售价£2.95", PLAIN, "zh", "calls it '红色', a colour (red)"),
     ("Regency cakestand 3 tier in blue", CAKESTAND, "en", "the catalog gives no colour"),
     (f"{NAME}: free delivery, £2.95", PLAIN, "en", "claims free delivery, gifts or samples ('free')"),
     (f"{NAME}，包邮，售价£2.95", PLAIN, "zh", "claims free delivery, gifts or samples ('包邮')"),
     (f"{NAME}: buy one, get one for £2.95", PLAIN, "en", "claims a multi-buy deal"),
     (f"{NAME}，买一送一", PLAIN, "zh", "claims a multi-buy deal"),
     (f"{NAME}: limited stock at £2.95", PLAIN, "en", "claims stock or scarcity ('limited stock')"),
     (f"{NAME}，限量发售", PLAIN, "zh", "claims stock or scarcity ('限量')"),
     (f"{NAME}: our bestseller, £2.95", PLAIN, "en", "claims sales or rankings ('bestseller')"),
     (f"{NAME}，热销爆款", PLAIN, "zh", "claims popularity ('热销')"),
     (f"{NAME}: 5 stars from our customers", PLAIN, "en", "claims a star rating"),
     (f"{NAME}: new arrivals for £2.95", PLAIN, "en", "claims newness ('new arrivals')"),
     (f"{NAME}，新品上市", PLAIN, "zh", "claims newness ('新品')"),
     (f"{NAME}: the cheapest in town", PLAIN, "en", "claims a price comparison ('cheapest')"),
     (f"{NAME}: handmade in Devon", PLAIN, "en", "claims how it was made ('handmade')"),
     (f"{NAME}: set of 6 for £2.95", PLAIN, "en", "states the number(s) 6;"),
     (f"{NAME}: Christmas 2012 starts here", ON_OFFER, "en", "states the year 2012, but no year is known"),
     ("A warm glow for £2.95", PLAIN, "en", f"does not name the title {NAME!r} exactly"),
     (f"{NAME}，暖心之选", PLAIN, "en", "must be written in English only"),
     (f"{NAME}, just £2.95", PLAIN, "zh", "must be written in Chinese")],
)
def test_invented_prices_offers_codes_and_attributes_are_rejected(text, facts, language, problem):
    problems = _problems(text, facts, language)
    assert any(problem in p for p in problems), problems


def test_numbers_in_the_product_name_and_the_offer_dates_are_facts():
    assert _problems("Regency cakestand 3 tier: 3 tiers of tea-time joy for £10.95", CAKESTAND) == []
    assert _problems(f"{NAME}: £2.66 with XMAS10 until 24 Dec 2011", ON_OFFER) == []
    assert "states the number(s) 25" in _problems(f"{NAME}: £2.66 with XMAS10 until 25 Dec 2011", ON_OFFER)[0]


def test_without_a_price_the_strict_rule_holds_even_with_offers_and_attributes():
    star_wars = ProductFacts(product_id="50", title="Star Wars", year=1977, genres=["Sci-Fi"],
                             attributes=["colour:white"], offers=[XMAS10])
    problems = _problems("Star Wars now 10% off with XMAS10", star_wars)
    assert any("the catalog has no prices or offers" in p for p in problems), problems
    assert _problems("Star Wars (1977): a white-knuckle ride through red skies.", star_wars) == []


def test_facts_from_a_catalog_product_keep_only_the_offers_that_apply():
    holder = Product(product_id="85123A", title=NAME, price=2.95, category="Holders", attributes=["colour:white"])
    facts = ProductFacts.from_product(holder, [XMAS10, CAKE2, Offer(code="ALL5", percent_off=5)], currency="GBP")
    assert [o.code for o in facts.offers] == ["XMAS10", "ALL5"]
    assert (facts.price, facts.currency, facts.category, facts.attributes) == (2.95, "GBP", "Holders", ["colour:white"])
    assert facts.allowed_amounts() == {"the price": 2.95, "with code XMAS10": 2.66, "with code ALL5": 2.8}
    movie = ProductFacts.from_product(Product(product_id="50", title="Star Wars", year=1977), [XMAS10], "GBP")
    assert (movie.price, movie.currency, movie.offers) == (None, None, [])
