"""Grounding checks: does a piece of copy state only facts the catalog holds?

Used to validate LLM drafts (the problems are fed back to the model) and by the eval harness.

A product without a price (MovieLens-100k: titles, years and genres and nothing else) keeps the strict rule:
any price, discount or offer in copy is invented, as is a year or a genre the product does not have.

A product with a price (a retail shop such as UCI Online Retail) may be sold with facts: copy may state the
catalog price and the price after an offer that exists for it (both written by :func:`format_price`), that
offer's discount, code and validity, and the product's attributes. Anything else about money is invented: another
amount, a discount or code no offer gives, sale or coupon wording when no offer exists, free delivery, multi-buys,
stock claims, price comparisons; so are colours and materials the product does not have, and the claims the
catalog never backs (awards, star ratings, rankings, newness).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import BaseModel, Field

from tools.copywriting.attribute_words import APPEARANCE_TERMS, appearance_kind, appearance_terms, split_attribute
from tools.copywriting.prices import find_amounts, find_codes, find_discounts, format_price, offer_discount_text
from tools.shop import Offer, Product

# Genre names that are unambiguous in prose. "Action", "Drama", "War" and "Musical" are left out: they occur
# as ordinary words ("take action", "star wars") and would flag honest copy.
_GENRE_WORDS_EN: dict[str, str] = {
    "Animation": r"animat(?:ed|ion)",
    "Comedy": r"comed(?:y|ies)|comedic",
    "Crime": r"crime",
    "Documentary": r"documentar(?:y|ies)",
    "Fantasy": r"fantasy",
    "Film-Noir": r"film[- ]noir|noir",
    "Horror": r"horror",
    "Mystery": r"myster(?:y|ies)",
    "Romance": r"romance|romantic",
    "Sci-Fi": r"sci[- ]?fi|science[- ]fiction",
    "Thriller": r"thriller",
    "Western": r"western",
}
GENRES_ZH: dict[str, str] = {
    "Action": "动作", "Adventure": "冒险", "Animation": "动画", "Children's": "儿童", "Comedy": "喜剧",
    "Crime": "犯罪", "Documentary": "纪录片", "Drama": "剧情", "Fantasy": "奇幻", "Film-Noir": "黑色电影",
    "Horror": "恐怖", "Musical": "歌舞", "Mystery": "悬疑", "Romance": "爱情", "Sci-Fi": "科幻",
    "Thriller": "惊悚", "War": "战争", "Western": "西部",
}
_ZH_CHECKED = ("Animation", "Comedy", "Documentary", "Fantasy", "Horror", "Mystery", "Romance", "Sci-Fi",
               "Thriller", "Western")
_YEAR = re.compile(r"(?<!\d)(1[89]\d{2}|20\d{2})(?!\d)")
_OFFER = re.compile(
    r"[$€£¥￥]\s*\d|\d\s*(?:%|percent|usd|eur|dollars?|元|块)|\b(?:discount|coupon|sale|free|cheap|price|deal)s?\b"
    r"|折扣|优惠|免费|打折|特价|促销|价格",
    re.IGNORECASE,
)
# Claims the catalog can never back: it holds titles, years and genres only.
CLAIMS: dict[str, re.Pattern[str]] = {
    "an award": re.compile(r"\b(?:oscars?|academy awards?|award[- ]winning|golden globes?|nominated|nobel|"
                           r"prize[- ]winning|palme d'or|emmys?|baftas?)\b"
                           r"|奥斯卡|获奖|金球奖|诺贝尔|大奖", re.IGNORECASE),
    "cast or crew": re.compile(r"\b(?:starring|directed by|director)\b|主演|导演", re.IGNORECASE),
    "a star rating": re.compile(r"\d(?:\.\d)?\s*(?:/\s*(?:5|10)\b|stars?\b)|★|评分|\d\s*星", re.IGNORECASE),
    "newness": re.compile(r"\b(?:new releases?|just released|brand[- ]new|in theaters|premieres?|the latest)\b"
                          r"|新片|首映|刚上映|最新", re.IGNORECASE),
    "fame or acclaim": re.compile(r"\b(?:true stor(?:y|ies)|based on (?:a )?true|real[- ]life stor(?:y|ies)|"
                                  r"most (?:beloved|famous|loved|celebrated)|world'?s (?:most|best|favou?rite|first)|"
                                  r"of all time|in (?:recent )?history|legendary|masterpieces?|"
                                  r"(?:best|greatest|finest)(?: [\w'-]+){0,3} ever(?: made)?|"
                                  r"(?:critically )?acclaimed|"
                                  r"cult classic|iconic)\b|真实故事|真人真事|史上|传奇|神作|口碑|家喻户晓",
                                  re.IGNORECASE),
    "sales or rankings": re.compile(r"\b(?:best[- ]?sell(?:ing|er)s?|blockbusters?|box[- ]office|top[- ]rated|"
                                    r"number one|#\s?1|chart[- ]topping)\b|畅销|票房|排行榜", re.IGNORECASE),
}
# Claims a retail catalog never backs either (it holds names, prices, categories, attributes and offers).
RETAIL_CLAIMS: dict[str, re.Pattern[str]] = {
    "free delivery, gifts or samples": re.compile(
        r"(?<!feel )(?<!-)\bfree\b(?!-)|\bcomplimentary\b|\bon the house\b|\bgift with purchase\b|\bbonus\b"
        r"|免费|包邮|免运费|赠品|送礼品", re.IGNORECASE),
    "a multi-buy deal": re.compile(
        r"\bbuy (?:one|two|three|\d+),? get\b|\bbogof?\b|\b(?:two|three|\d+) for (?:the price of )?(?:one|two|\d+)\b"
        r"|买[一二两三\d]送[一二\d]|第二件|满\d+减", re.IGNORECASE),
    "stock or scarcity": re.compile(
        r"\b(?:limited (?:stock|edition|quantit(?:y|ies)|supply|numbers)|only \d+ left|(?:a )?few left|"
        r"(?:while|until) stocks? lasts?|selling (?:fast|out)|almost gone|low (?:in )?stock|(?:back )?in stock|"
        r"sold out|last (?:few|ones?))\b|限量|库存|售完即止|数量有限|仅剩|售罄|现货|有货|抢光", re.IGNORECASE),
    "a price comparison": re.compile(
        r"\b(?:cheap(?:est|er)?|lowest prices?|best prices?|unbeatable|price match)\b"
        r"|最低价|价格最低|最便宜|全网最低|白菜价",
        re.IGNORECASE),
    "how it was made": re.compile(
        r"\b(?:hand[- ]?made|hand[- ]?crafted|hand[- ]painted|organic|eco[- ]friendly|sustainabl[ey]|recycled|"
        r"made in [A-Z]\w+|fair[- ]?trade|vegan)\b|手工|手作|环保|有机|可持续|可回收", re.IGNORECASE),
    "a guarantee": re.compile(
        r"\b(?:guarantee[ds]?|warranty|money[- ]back|risk[- ]free)\b|保修|包退|质保|保证|无理由退", re.IGNORECASE),
    "newness": re.compile(r"\b(?:new (?:arrivals?|in|season|collection|range|stock)|just (?:in|landed|arrived)|"
                          r"newly (?:arrived|added)|latest)\b|新品|新款|上新|新到|新上市", re.IGNORECASE),
    "popularity": re.compile(r"\b(?:(?:most )?popular|(?:customer|fan) favou?rites?|best[- ]loved|top[- ]selling|"
                             r"hot[- ]selling|in demand|trending|sells? out)\b|热销|爆款|人气|销量|好评|网红",
                             re.IGNORECASE),
}
# Wording that presents a discount, sale or code: true only when an offer exists for the product.
_OFFER_WORDING = re.compile(
    r"\b(?:discount(?:s|ed)?|coupons?|vouchers?|promo(?:tion(?:al)?)?s?|(?:promo |offer |discount )?codes?|"
    r"special offers?|deals?|sale|save|saving|savings|reduced|markdown|price drop|bargains?|clearance)\b"
    r"|折扣|优惠|打折|促销|特价|减价|降价|立减|让利|清仓|省钱|节省|券|折后|秒杀|特惠|\d折",
    re.IGNORECASE,
)
# A deadline: true only when an offer with an end date exists.
_DEADLINE = re.compile(
    r"\b(?:limited[- ]time|for a limited period|ends? (?:soon|today|tonight|tomorrow|this week(?:end)?)|"
    r"(?:today|tonight|this week(?:end)?) only|last chance|expires?|expiring)\b"
    r"|限时|即将结束|最后机会|仅限今天|倒计时|过期",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)?(?![\w.])|\d+")
CJK = re.compile(r"[\u4e00-\u9fff]")  # Han characters: how every check tells Chinese text
_SAME_AMOUNT = 0.005  # amounts within half a penny are the same amount


class ProductFacts(BaseModel):
    """What the catalog says about one product (all copy must be grounded in this).

    The catalog fields (price, currency, category, attributes, offers) are what a retail shop adds; a product
    without a price (MovieLens) is checked by the strict rule: no price, discount or offer at all.
    """

    product_id: str
    title: str
    year: int | None = None
    genres: list[str] = Field(default_factory=list)
    price: float | None = Field(None, ge=0, description="Current catalog price in ``currency``; None: no prices.")
    currency: str | None = Field(None, description="ISO 4217 code of ``price``, e.g. 'GBP'.")
    category: str | None = Field(None, description="The product's category, e.g. 'Holders'.")
    attributes: list[str] = Field(default_factory=list, description="'name:value', e.g. 'colour:white'.")
    offers: list[Offer] = Field(
        default_factory=list,
        description="The offers that exist for this product (the shop's and the brief's), already filtered with "
        "Offer.applies_to; copy may state these and no other. Ignored without a price.",
    )

    @classmethod
    def from_product(cls, product: Product, offers: Iterable[Offer] = (), currency: str | None = None) -> ProductFacts:
        """Return the facts of a catalog product with the offers of ``offers`` that apply to it.

        Args:
            product: The catalog row.
            offers: Offers that may apply (filtered here with :meth:`Offer.applies_to`; validity dates are the
                caller's to check).
            currency: The shop's currency, used when the product row has none.

        Returns:
            The facts copy about the product may state.
        """
        priced = product.price is not None
        return cls(
            product_id=product.product_id, title=product.title, year=product.year, genres=product.genres,
            price=product.price, currency=(product.currency or currency) if priced else None,
            category=product.category, attributes=product.attributes,
            offers=[o for o in offers if o.applies_to(product.product_id, product.category)] if priced else [],
        )

    @property
    def display_title(self) -> str:
        """The title as people write it ("Usual Suspects, The" → "The Usual Suspects")."""
        return display_title(self.title)

    def allowed_amounts(self) -> dict[str, float]:
        """Return every amount copy may state as a price: {"the price": 2.95, "with code XMAS10": 2.66}.

        Empty for a product without a price.
        """
        if self.price is None:
            return {}
        amounts = {"the price": round(self.price, 2)}
        for offer in self.offers:
            amounts[f"with code {offer.code}"] = offer.price_after(self.price)
        return amounts


def display_title(title: str) -> str:
    """Move a trailing article to the front, as catalogue titles store it ("Birdcage, The")."""
    match = re.fullmatch(r"(.*), (The|A|An|La|Le|Les|Il|Das|Die|El)", title.strip())
    return f"{match.group(2)} {match.group(1)}" if match else title.strip()


SHORT_TITLE_MAX = 28
"""Longest short name (:func:`short_title`): an SMS headline (30 characters) holds it."""
_TITLE_BREAKS = (": ", " (", " - ", "; ")
_DANGLING_TITLE_WORDS = frozenset({"the", "a", "an", "of", "and", "or", "with", "in", "on", "for", "to", "at", "by",
                                   "&", "de", "la", "le", "du", "des", "und", "der"})


def short_title(title: str, limit: int = SHORT_TITLE_MAX) -> str:
    """Return the product's name shortened to at most ``limit`` characters, as people shorten it.

    The display title when it fits. Else the part before its first break (": ", " (", " - ", "; ") when that fits
    ("Paradise Lost: The Child Murders at Robin Hood Hills" → "Paradise Lost"; a trailing " or" goes too: "Dr.
    Strangelove or: How I Learned…" → "Dr. Strangelove"); else its first whole words that fit, without a
    trailing article, preposition or punctuation ("Victorian glass hanging T-light" at 28 → "Victorian glass
    hanging"). Never a cut word: a headline too short for the name names it this way instead.

    Args:
        title: The catalog title.
        limit: Longest result.
    """
    full = display_title(title)
    if len(full) <= limit:
        return full
    for mark in _TITLE_BREAKS:
        head = re.sub(r"\s+or$", "", full.split(mark, 1)[0]).strip()
        if mark in full and 3 <= len(head) <= limit:
            return head
    words: list[str] = []
    for word in full.split():
        if len(" ".join([*words, word])) > limit:
            break
        words.append(word)
    while words and (words[-1].casefold() in _DANGLING_TITLE_WORDS or not re.search(r"\w", words[-1])):
        words.pop()
    shortened = " ".join(words).rstrip(",:;-–")
    return shortened or full[:limit]


def headline_name(facts: ProductFacts, limit: int) -> str:
    """Return how a headline of ``limit`` characters names the product: the display title, or its short name."""
    return facts.display_title if len(facts.display_title) <= limit else short_title(facts.title, limit)


def bare_title(title: str) -> str:
    """Return the display title without a trailing parenthesis ("Seven (Se7en)" → "Seven")."""
    return re.sub(r"\s*\(.*\)$", "", display_title(title)).strip()


def title_names(title: str) -> set[str]:
    """Return every way copy may name the product of catalog title ``title``.

    Its title, display title, display title without a trailing parenthesis, and short name (:func:`short_title`).
    """
    return {title, display_title(title), bare_title(title), short_title(title)}


def _mentions_title(text: str, facts: ProductFacts) -> bool:
    lowered = text.casefold()
    candidates = title_names(facts.title)
    return any(c.casefold() in lowered for c in candidates if c)


def grounding_problems(
    text: str, facts: ProductFacts, language: str, require_title: bool = True, banned: tuple[str, ...] = (),
    theme: str | None = None,
) -> list[str]:
    """List every way ``text`` departs from the catalog facts of ``facts``.

    Args:
        text: The copy (all fields joined).
        facts: The product the copy promotes.
        language: ``"en"`` or ``"zh"``: the language the copy must be written in.
        require_title: Whether the product's title must appear.
        banned: Phrases the copy must not contain (case-insensitive), e.g. the prompt's example title.
        theme: The message's theme (a segment strategy's angle, derived from the catalog and the segment's
            portrait): where the copy repeats it verbatim (case-insensitive) it is not read for claims, like the
            title.

    Returns:
        Human-readable problems; empty when the copy is grounded.
    """
    problems: list[str] = [f"uses the banned phrase {b!r}" for b in banned if b.casefold() in text.casefold()]
    if require_title and not _mentions_title(text, facts):
        problems.append(f"does not name the title {facts.display_title!r} exactly")
    # Words inside the title ("Free Willy", "2001: A Space Odyssey") are facts, not claims: check the rest.
    for name in sorted(title_names(facts.title), key=len, reverse=True):
        text = re.sub(re.escape(name), " ", text, flags=re.IGNORECASE) if name else text
    if theme and theme.strip():
        text = re.sub(re.escape(theme.strip()), " ", text, flags=re.IGNORECASE)
    if facts.price is None:
        problems += _unpriced_problems(text, facts)
    else:
        problems += _priced_problems(text, facts)
    has_cjk = bool(CJK.search(text))
    if language == "zh" and not has_cjk:
        problems.append("must be written in Chinese (简体中文)")
    if language == "en" and has_cjk:
        problems.append("must be written in English only")
    return problems


def _unpriced_problems(text: str, facts: ProductFacts) -> list[str]:
    """The strict rule for a catalog without prices: the year and genres only, no numbers, prices or offers."""
    problems = []
    for year in sorted(set(_YEAR.findall(text))):
        if facts.year is None or int(year) != facts.year:
            expected = f"the only year you may state is {facts.year}" if facts.year else "no year is known"
            problems.append(f"states the year {year}, but {expected}")
    others = sorted({n for n in _NUMBER.findall(text) if not _YEAR.fullmatch(n)}, key=lambda n: (len(n), n))
    if others:
        problems.append(f"states the number(s) {', '.join(others)}; the catalog gives no numbers but the year")
    for what, claim in CLAIMS.items():
        match = claim.search(text)
        if match:
            problems.append(f"claims {what} ({match.group(0)!r}); the catalog has no such fact")
    offer = _OFFER.search(text)
    if offer:
        problems.append(f"mentions a price or offer ({offer.group(0)!r}); the catalog has no prices or offers")
    for genre, pattern in _GENRE_WORDS_EN.items():
        if genre not in facts.genres and re.search(rf"\b(?:{pattern})\b", text, re.IGNORECASE):
            problems.append(f"calls it {genre}, but its genres are {', '.join(facts.genres) or 'unknown'}")
    for genre in _ZH_CHECKED:
        if genre not in facts.genres and GENRES_ZH[genre] in text:
            problems.append(f"calls it {GENRES_ZH[genre]} ({genre}), but its genres are {', '.join(facts.genres)}")
    return problems


def _blank(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """Replace the characters of ``spans`` by spaces (offsets of the rest stay put)."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _same(a: float, b: float) -> bool:
    return abs(a - b) < _SAME_AMOUNT


def _allowed_text(facts: ProductFacts) -> str:
    """Name the amounts copy may state: "£2.95 (the price) or £2.66 (with code XMAS10)"."""
    return " or ".join(f"{format_price(v, facts.currency)} ({k})" for k, v in facts.allowed_amounts().items())


def _offer_list(facts: ProductFacts) -> str:
    return ", ".join(f"{o.code} ({offer_discount_text(o, facts.currency, 'en')})" for o in facts.offers)


def _money_problems(text: str, facts: ProductFacts) -> tuple[list[str], str]:
    """Check every stated amount against the price and the offers; return the problems and the text without them."""
    price = facts.price or 0.0  # only called for a product with a price
    problems = []
    allowed = facts.allowed_amounts()
    savings = {o.code: round(price - o.price_after(price), 2) for o in facts.offers}
    amounts_off = {o.code: o.amount_off for o in facts.offers if o.amount_off is not None}
    stated = find_amounts(text, facts.currency)
    currency = (facts.currency or "").upper()
    for amount in stated:
        if currency and currency not in amount.currencies:
            problems.append(f"states {amount.text!r}, an amount in {'/'.join(amount.currencies)}; the catalog's prices "
                            f"are in {currency}: state only {_allowed_text(facts)}")
        elif amount.discount:
            if not facts.offers:
                problems.append(f"states a discount of {amount.text!r}, but no offer exists for this product")
            elif not any(_same(amount.amount, v) for v in [*savings.values(), *amounts_off.values()]):
                problems.append(f"states a discount of {amount.text!r} that no offer gives; the offers are "
                                f"{_offer_list(facts)}")
        elif not any(_same(amount.amount, v) for v in allowed.values()):
            problems.append(f"states the price {amount.text!r}, but the only amounts you may state are "
                            f"{_allowed_text(facts)}")
    return problems, _blank(text, [(a.start, a.end) for a in stated])


def _discount_problems(text: str, facts: ProductFacts) -> tuple[list[str], str]:
    """Check every stated percentage discount against the offers; return the problems and the text without them."""
    problems = []
    stated = find_discounts(text)
    percents = [o.percent_off for o in facts.offers if o.percent_off is not None]
    for discount in stated:
        if not facts.offers:
            problems.append(f"states a discount ({discount.text!r}), but no offer exists for this product")
        elif not any(_same(discount.percent_off, p) for p in percents):
            problems.append(f"states a discount ({discount.text!r}, {discount.percent_off:g}% off) that no offer "
                            f"gives; the offers are {_offer_list(facts)}")
    return problems, _blank(text, [(d.start, d.end) for d in stated])


def _code_problems(text: str, facts: ProductFacts) -> tuple[list[str], str]:
    """Check every stated offer code against the offers' codes; return the problems and the text without them."""
    problems = []
    stated = find_codes(text)
    codes = {o.code.casefold() for o in facts.offers}
    for code in stated:
        if code.code.casefold() in codes:
            continue
        if facts.offers:
            problems.append(f"states the code {code.code!r}, but the only codes are "
                            f"{', '.join(o.code for o in facts.offers)}")
        else:
            problems.append(f"states the code {code.code!r}, but no offer exists for this product")
    return problems, _blank(text, [(c.start, c.end) for c in stated])


def _known_numbers(facts: ProductFacts) -> set[str]:
    """Numbers copy may state besides amounts and discounts: those in the name and attributes, offer dates."""
    known = set(_NUMBER.findall(facts.title)) | {n for a in facts.attributes for n in _NUMBER.findall(a)}
    for offer in facts.offers:
        for day in (offer.valid_from, offer.valid_to):
            if day is not None:
                known |= {str(day.year), str(day.month), str(day.day), f"{day.month:02d}", f"{day.day:02d}"}
    return known


def _number_problems(text: str, facts: ProductFacts) -> list[str]:
    known = _known_numbers(facts)
    allowed = [format_price(v, None) for v in facts.allowed_amounts().values()]
    problems = []
    for year in sorted(set(_YEAR.findall(text)) - known):
        problems.append(f"states the year {year}, but no year is known (only the offers' dates)")
    others = sorted({n for n in _NUMBER.findall(text) if not _YEAR.fullmatch(n)} - known - set(allowed),
                    key=lambda n: (len(n), n))
    if others:
        problems.append(f"states the number(s) {', '.join(others)}; the only amounts you may state are "
                        f"{_allowed_text(facts)}, written with the currency")
    return problems


def _appearance_problems(text: str, facts: ProductFacts) -> list[str]:
    """Reject colours and materials the product's name, category and attributes do not give."""
    own = " | ".join([facts.title, facts.category or "", *(split_attribute(a)[1] for a in facts.attributes)])
    allowed = set(appearance_terms(own))
    allowed |= {split_attribute(a)[1].casefold() for a in facts.attributes}
    problems = []
    for value, written in appearance_terms(text, checked_only=True).items():
        if value in allowed:
            continue
        kind = appearance_kind(value)
        known = sorted(allowed & APPEARANCE_TERMS.keys())
        described = f"its colours and materials are {', '.join(known)}" if known else f"the catalog gives no {kind}"
        problems.append(f"calls it {written!r}, a {kind} ({value}) it does not have: {described}")
    return problems


def _priced_problems(text: str, facts: ProductFacts) -> list[str]:
    """The rule for a catalog with prices: the price, existing offers and attributes only."""
    problems = []
    for what, claim in {**CLAIMS, **RETAIL_CLAIMS}.items():
        match = claim.search(text)
        if match and not any(match.group(0).casefold() in a.casefold() for a in facts.attributes):
            problems.append(f"claims {what} ({match.group(0)!r}); the catalog has no such fact")
    found, text = _code_problems(text, facts)
    problems += found
    found, text = _money_problems(text, facts)
    problems += found
    found, text = _discount_problems(text, facts)
    problems += found
    problems += _number_problems(text, facts)
    wording = _OFFER_WORDING.search(text)
    if wording and not facts.offers:
        problems.append(f"mentions a discount or offer ({wording.group(0)!r}), but no offer exists for this product")
    deadline = _DEADLINE.search(text)
    if deadline and not any(o.valid_to for o in facts.offers):
        problems.append(f"claims a deadline ({deadline.group(0)!r}), but no offer with an end date exists")
    problems += _appearance_problems(text, facts)
    return problems
