"""Grounding checks: does a piece of copy state only facts the catalog holds?

Used to validate LLM drafts (the problems are fed back to the model) and, later, by the eval harness.
MovieLens-100k has titles, years and genres and nothing else, so any price, discount or offer in copy is
invented, as is a year or a genre the product does not have.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

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
    "an award": re.compile(r"\b(?:oscars?|academy awards?|award[- ]winning|golden globes?|nominated)\b"
                           r"|奥斯卡|获奖|金球奖", re.IGNORECASE),
    "cast or crew": re.compile(r"\b(?:starring|directed by|director)\b|主演|导演", re.IGNORECASE),
    "a star rating": re.compile(r"\d(?:\.\d)?\s*(?:/\s*(?:5|10)\b|stars?\b)|★|评分|\d\s*星", re.IGNORECASE),
    "newness": re.compile(r"\b(?:new releases?|just released|brand[- ]new|in theaters|premieres?|the latest)\b"
                          r"|新片|首映|刚上映|最新", re.IGNORECASE),
    "sales or rankings": re.compile(r"\b(?:best[- ]?sell(?:ing|er)s?|blockbusters?|box[- ]office|top[- ]rated|"
                                    r"number one|#\s?1|chart[- ]topping)\b|畅销|票房|排行榜", re.IGNORECASE),
}
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)?(?![\w.])|\d+")
CJK = re.compile(r"[\u4e00-\u9fff]")  # Han characters: how every check tells Chinese text


class ProductFacts(BaseModel):
    """What the catalog says about one product (all copy must be grounded in this)."""

    product_id: str
    title: str
    year: int | None = None
    genres: list[str] = Field(default_factory=list)

    @property
    def display_title(self) -> str:
        """The title as people write it ("Usual Suspects, The" → "The Usual Suspects")."""
        return display_title(self.title)


def display_title(title: str) -> str:
    """Move a trailing article to the front, as catalogue titles store it ("Birdcage, The")."""
    match = re.fullmatch(r"(.*), (The|A|An|La|Le|Les|Il|Das|Die|El)", title.strip())
    return f"{match.group(2)} {match.group(1)}" if match else title.strip()


def _mentions_title(text: str, facts: ProductFacts) -> bool:
    lowered = text.casefold()
    candidates = {facts.title, facts.display_title, re.sub(r"\s*\(.*\)$", "", facts.display_title)}
    return any(c.casefold() in lowered for c in candidates if c)


def grounding_problems(
    text: str, facts: ProductFacts, language: str, require_title: bool = True, banned: tuple[str, ...] = ()
) -> list[str]:
    """List every way ``text`` departs from the catalog facts of ``facts``.

    Args:
        text: The copy (all fields joined).
        facts: The product the copy promotes.
        language: ``"en"`` or ``"zh"``: the language the copy must be written in.
        require_title: Whether the product's title must appear.
        banned: Phrases the copy must not contain (case-insensitive), e.g. the prompt's example title.

    Returns:
        Human-readable problems; empty when the copy is grounded.
    """
    problems: list[str] = [f"uses the banned phrase {b!r}" for b in banned if b.casefold() in text.casefold()]
    if require_title and not _mentions_title(text, facts):
        problems.append(f"does not name the title {facts.display_title!r} exactly")
    # Words inside the title ("Free Willy", "2001: A Space Odyssey") are facts, not claims: check the rest.
    for name in sorted({facts.title, facts.display_title}, key=len, reverse=True):
        text = re.sub(re.escape(name), " ", text, flags=re.IGNORECASE) if name else text
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
    has_cjk = bool(CJK.search(text))
    if language == "zh" and not has_cjk:
        problems.append("must be written in Chinese (简体中文)")
    if language == "en" and has_cjk:
        problems.append("must be written in English only")
    return problems
