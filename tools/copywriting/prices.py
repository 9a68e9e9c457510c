"""Prices and offers in copy: how they are written, and how stated ones are found again in a draft.

One writing rule serves the prompts, the fallback template, grounding and the plan: :func:`format_price`
("£2.55"), :func:`offer_discount_text` ("10% off" / "9折") and :func:`offer_validity_text`
("until 24 Dec 2011" / "至2011年12月24日"). The finders read what a draft states — money amounts
(:func:`find_amounts`: "£2.55", "2.55英镑", "GBP 2.55", "95p"), discounts (:func:`find_discounts`: "10% off",
"10%折扣", "half price", "打九折", "8.5折") and offer codes (:func:`find_codes`) — so that grounding can compare
each with the catalog price and the offers that exist.
"""

from __future__ import annotations

import re
from datetime import date

from pydantic import BaseModel, Field

from tools.shop import Offer

CURRENCY_SYMBOLS: dict[str, str] = {"GBP": "£", "USD": "$", "EUR": "€", "JPY": "¥", "CNY": "¥"}
"""Symbol written before an amount, by ISO 4217 code; other currencies are written "2.55 SEK"."""
_NO_DECIMALS = frozenset({"JPY"})

# What marks an amount's currency: before the number (symbols and codes) and after it (codes and words).
_PREFIX_CURRENCIES: dict[str, tuple[str, ...]] = {
    "US$": ("USD",), "$": ("USD",), "£": ("GBP",), "€": ("EUR",), "¥": ("JPY", "CNY"), "￥": ("JPY", "CNY"),
    "GBP": ("GBP",), "USD": ("USD",), "EUR": ("EUR",), "CNY": ("CNY",), "RMB": ("CNY",), "JPY": ("JPY",),
}  # fmt: skip
_SUFFIX_CURRENCIES: dict[str, tuple[str, ...]] = {
    "GBP": ("GBP",), "USD": ("USD",), "EUR": ("EUR",), "CNY": ("CNY",), "RMB": ("CNY",), "JPY": ("JPY",),
    "pounds": ("GBP",), "pound": ("GBP",), "quid": ("GBP",), "dollars": ("USD",), "dollar": ("USD",),
    "euros": ("EUR",), "euro": ("EUR",), "yuan": ("CNY",), "yen": ("JPY",), "英镑": ("GBP",), "镑": ("GBP",),
    "美元": ("USD",), "美金": ("USD",), "欧元": ("EUR",), "人民币": ("CNY",), "元": ("CNY",), "块": ("CNY",),
    "日元": ("JPY",), "円": ("JPY",),
}  # fmt: skip
_PENCE = ("pence", "p", "便士")
_LATIN_END = r"(?![A-Za-z])"
_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"

# A discount context: an amount followed by "off" or preceded by "save" is a discount, not a price.
_DISCOUNT_AFTER = re.compile(r"\s*(?:off\b|discount|saving|less\b|cheaper\b|优惠(?!价)|折扣)", re.IGNORECASE)
_DISCOUNT_BEFORE = re.compile(r"(?:\bsave|\bsaving|\bsavings of|\bminus|\bdiscount of|立减|直减|减|省下?|优惠|便宜)"
                              r"\s*(?:of\s+|up to\s+|高达)?$", re.IGNORECASE)
_PERCENT = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s?(?:%|％|percent\b|per cent\b)|百分之(\d+(?:\.\d+)?)",
                      re.IGNORECASE)
_ZH_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_ZHE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?|[一二两三四五六七八九]{1,2})\s?折")
_HALF = re.compile(r"\bhalf[- ]price\b|\bhalf off\b|半价", re.IGNORECASE)
_CODE_TOKEN = r"[A-Za-z0-9][A-Za-z0-9_-]{1,31}"
_CODE_KEYWORD = re.compile(
    r"\b(?:promo |discount |offer |voucher |coupon )?codes?\b|\bvouchers?\b|\bcoupons?\b|\buse\b|\benter\b|\bapply\b"
    r"|优惠码|折扣码|券码|兑换码|代码|使用|输入",
    re.IGNORECASE,
)
_TOKEN_AFTER_KEYWORD = re.compile(r"\s*[:：]?\s*[\"'“‘「]?(" + _CODE_TOKEN + ")")
_NOT_CODES = frozenset({"code", "codes", "promo", "voucher", "vouchers", "coupon", "coupons", "the", "this", "our"})
_CAPS_WITH_DIGIT = re.compile(r"(?<![A-Za-z0-9_-])(?=[A-Z0-9_-]*[A-Z])(?=[A-Z0-9_-]*\d)[A-Z0-9][A-Z0-9_-]{3,31}"
                              r"(?![A-Za-z0-9_-])")


class StatedAmount(BaseModel):
    """A money amount a piece of copy states.

    Attributes:
        text: As written, e.g. "£2.55".
        amount: Its value in whole currency units (pence are divided by 100).
        currencies: ISO codes it may be in ("¥" is yen or yuan).
        discount: Whether it is written as an amount off ("£5 off", "save £5", "立减£5").
        start: Offset in the text.
        end: Offset after it.
    """

    text: str
    amount: float
    currencies: tuple[str, ...]
    discount: bool
    start: int
    end: int


class StatedDiscount(BaseModel):
    """A percentage discount a piece of copy states ("10% off", "9折", "half price")."""

    text: str
    percent_off: float = Field(description="The discount in percent: '9折' is 10, 'half price' 50.")
    start: int
    end: int


class StatedCode(BaseModel):
    """A token the copy presents as an offer code: "use code XMAS10", "优惠码XMAS10", or ALL CAPS with a digit."""

    code: str
    start: int
    end: int


def currency_symbol(currency: str | None) -> str:
    """Return the symbol written before amounts in ``currency`` ("£" for GBP), or "" when it has none here."""
    return CURRENCY_SYMBOLS.get((currency or "").upper(), "")


def format_price(amount: float, currency: str | None) -> str:
    """Write a price the one way prompts, templates, grounding and plans write it.

    Args:
        amount: The amount, in whole units of ``currency``.
        currency: ISO 4217 code (e.g. "GBP"), or None when the shop gives none.

    Returns:
        "£2.55" (symbol, thousands separator, two decimals; none for yen), "2.55 SEK" for a currency without a
        symbol here, "2.55" without a currency.
    """
    code = (currency or "").upper()
    number = f"{amount:,.{0 if code in _NO_DECIMALS else 2}f}"
    symbol = currency_symbol(code)
    if symbol:
        return f"{symbol}{number}"
    return f"{number} {code}" if code else number


def offer_discount_text(offer: Offer, currency: str | None, language: str) -> str:
    """Return an offer's discount in words: "10% off" / "£5.00 off" in English, "9折" / "立减£5.00" in Chinese.

    A Chinese percentage is written as 折 (10% off is 9折, 15% off 8.5折) when it is a multiple of 5, else "立减12.5%".
    """
    if offer.percent_off is not None:
        if language != "zh":
            return f"{offer.percent_off:g}% off"
        if offer.percent_off % 5 == 0 and offer.percent_off < 100:
            return f"{(100 - offer.percent_off) / 10:g}折"
        return f"立减{offer.percent_off:g}%"
    amount = format_price(offer.amount_off or 0.0, currency)
    return f"立减{amount}" if language == "zh" else f"{amount} off"


def _day(value: date, language: str) -> str:
    return f"{value.year}年{value.month}月{value.day}日" if language == "zh" else f"{value.day} {value:%b %Y}"


def offer_validity_text(offer: Offer, language: str) -> str | None:
    """Return when an offer is valid ("until 24 Dec 2011", "至2011年12月24日"), or None when it has no window."""
    start, end = offer.valid_from, offer.valid_to
    if start and end:
        return f"{_day(start, language)}至{_day(end, language)}" if language == "zh" else (
            f"{_day(start, language)} to {_day(end, language)}")
    if end:
        return f"至{_day(end, language)}" if language == "zh" else f"until {_day(end, language)}"
    if start:
        return f"自{_day(start, language)}起" if language == "zh" else f"from {_day(start, language)}"
    return None


def _alternatives(words: list[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


def _amount_pattern(extra_code: str | None) -> re.Pattern[str]:
    """Return the money pattern, with ``extra_code`` (a currency without a symbol here) as prefix and suffix."""
    prefixes = [*_PREFIX_CURRENCIES, *([extra_code] if extra_code else [])]
    suffixes = [*_SUFFIX_CURRENCIES, *([extra_code] if extra_code else [])]
    latin = [s for s in suffixes if s.isascii()]
    other = [s for s in suffixes if not s.isascii()]
    return re.compile(
        rf"(?P<pre>{_alternatives(prefixes)})\s?(?P<n1>{_NUMBER})"
        rf"|(?<![A-Za-z0-9.])(?P<n2>{_NUMBER})\s?(?P<post>(?:{_alternatives(latin)}){_LATIN_END}|{_alternatives(other)})"
        rf"|(?<![A-Za-z0-9.])(?P<n3>\d+)\s?(?P<pence>(?:pence|p){_LATIN_END}|便士)"
    )


def find_amounts(text: str, currency: str | None = None) -> list[StatedAmount]:
    """Find every money amount ``text`` states.

    Args:
        text: The copy.
        currency: The shop's currency; a code without a symbol here (e.g. "SEK") is recognised too.

    Returns:
        The amounts in order of appearance.
    """
    code = (currency or "").upper()
    extra = code if code and code not in _PREFIX_CURRENCIES and re.fullmatch(r"[A-Z]{3}", code) else None
    found = []
    for match in _amount_pattern(extra).finditer(text):
        currencies: tuple[str, ...]
        if match.group("n3"):
            amount, currencies = int(match.group("n3")) / 100, ("GBP",)
        else:
            number = (match.group("n1") or match.group("n2")).replace(",", "")
            mark = match.group("pre") or match.group("post")
            table = _PREFIX_CURRENCIES if match.group("pre") else _SUFFIX_CURRENCIES
            currencies = table.get(mark) or table.get(mark.lower()) or (mark.upper(),)
            amount = float(number)
        discount = bool(_DISCOUNT_AFTER.match(text, match.end())
                        or _DISCOUNT_BEFORE.search(text[max(0, match.start() - 20): match.start()]))
        found.append(StatedAmount(text=match.group(0), amount=amount, currencies=currencies, discount=discount,
                                  start=match.start(), end=match.end()))
    return found


def _zhe_percent_off(written: str) -> float:
    """Return the discount of an "N折" price (9折 → 10, 8.5折 → 15, 85折 → 15, 九五折 → 5)."""
    if written[0] in _ZH_DIGITS:
        digits = [_ZH_DIGITS[c] for c in written]
        tenths = digits[0] * 10 + (digits[1] if len(digits) > 1 else 0)
        return float(100 - tenths)
    if "." in written:
        return round(100 - float(written) * 10, 6)
    return float(100 - int(written) * (10 if len(written) == 1 else 1))


def find_discounts(text: str) -> list[StatedDiscount]:
    """Find every percentage discount ``text`` states ("10%", "10% off", "10%折扣", "half price", "9折", "打九折")."""
    found = [StatedDiscount(text=m.group(0), percent_off=float(m.group(1) or m.group(2)), start=m.start(), end=m.end())
             for m in _PERCENT.finditer(text)]
    found += [StatedDiscount(text=m.group(0), percent_off=_zhe_percent_off(m.group(1)), start=m.start(), end=m.end())
              for m in _ZHE.finditer(text)]
    found += [StatedDiscount(text=m.group(0), percent_off=50.0, start=m.start(), end=m.end())
              for m in _HALF.finditer(text)]
    return sorted(found, key=lambda d: d.start)


def _looks_like_code(token: str) -> bool:
    """A token after "code"/"use" is a code when it has a letter and a digit, or is ALL CAPS (3+ letters)."""
    has_letter = any(c.isalpha() for c in token)
    return has_letter and (any(c.isdigit() for c in token) or (token.isupper() and len(token) >= 3))


def find_codes(text: str) -> list[StatedCode]:
    """Find the offer codes ``text`` states.

    They are the code-like tokens after "code", "use", "enter", "优惠码", "使用" … and the ALL-CAPS alphanumeric
    tokens with a digit (e.g. "XMAS10") anywhere.
    """
    found: dict[int, StatedCode] = {}
    for keyword in _CODE_KEYWORD.finditer(text):
        token = _TOKEN_AFTER_KEYWORD.match(text, keyword.end())
        if token and token.group(1).casefold() not in _NOT_CODES and _looks_like_code(token.group(1)):
            found[token.start(1)] = StatedCode(code=token.group(1), start=token.start(1), end=token.end(1))
    for match in _CAPS_WITH_DIGIT.finditer(text):
        found.setdefault(match.start(), StatedCode(code=match.group(0), start=match.start(), end=match.end()))
    return [found[k] for k in sorted(found)]
