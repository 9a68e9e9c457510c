"""Read a structured audience filter out of a marketer's description, in English or Chinese.

"lapsed documentary fans over 40 in the north-east" gives lifecycle=lapsed, age ≥ 41, region=Northeast,
genre=Documentary, and leaves "documentary fans" as the text to rank by meaning. Only values the shop
has are produced (the index's vocabulary); every constraint records the words that produced it, so the
marketer can see and correct it.

Conventions: "over 40" / "older than 40" mean age ≥ 41 and "under 25" means age ≤ 24, while "40+",
"40 and over" and the Chinese "40岁以上" (which by convention includes 40) mean age ≥ 40, and "25岁以下"
means age ≤ 25. Genre words stay in the ranking text (they carry meaning); age, region, lifecycle, gender,
occupation, spend and segment words are removed from it (the filter enforces them).

The embedding model is English-only: for a Chinese description the recognised terms are turned into an
English ranking text (e.g. "Documentary fans"), and words that were not understood are listed in notes.

This module holds the reading (ages, value phrases, the ranking text); the phrase tables for genres, regions,
lifecycle stages, genders, spend bands and occupations, and the filler words, are in :mod:`tools.audience.words`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tools.audience.words import (
    EN_FILLER,
    GENDER_WORDS,
    GENRE_WORDS,
    LIFECYCLE_WORDS,
    OCCUPATION_WORDS,
    REGION_WORDS,
    SPEND_WORDS,
    ZH_FILLER,
)
from tools.copywriting import CJK

_ZH_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = (
    r"%|\$|dollars?|purchases?|orders?|ratings?|items?|times|days?|weeks?|months?|movies?|films?|titles?|products?|cds?"
)
#: An age: 1–3 digits or a Chinese numeral, not followed by more digits or by a unit other than years.
_N = rf"(\d{{1,3}}|[一二两三四五六七八九十]{{1,3}})(?![\d一二两三四五六七八九十])(?!\s*(?:{_UNITS}))"


@dataclass
class Derivation:
    """What was read from a description.

    Attributes:
        fields: AudienceFilter fields (``age_min``, ``regions``, …) with values in the shop's spelling.
        derived_from_text: Words in the text → the constraint they produced, e.g. {"over 40": "age ≥ 41"}.
        semantic_text: The English text to rank customers by.
        translated: True when the ranking text was made from Chinese terms.
        notes: What was not understood or not available.
    """

    fields: dict[str, Any] = field(default_factory=dict)
    derived_from_text: dict[str, str] = field(default_factory=dict)
    semantic_text: str = ""
    translated: bool = False
    notes: list[str] = field(default_factory=list)


def _zh_number(text: str) -> int:
    if text.isdigit():
        return int(text)
    if "十" not in text:
        return _ZH_DIGITS.get(text, 0)
    tens, _, ones = text.partition("十")
    return _ZH_DIGITS.get(tens, 1) * 10 + _ZH_DIGITS.get(ones, 0)


class _Reader:
    """Finds phrases in the text, never twice in the same place."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.taken: list[tuple[int, int, bool]] = []  # start, end, removed from the ranking text

    def free(self, start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e, _ in self.taken)

    def find(self, pattern: str, remove: bool = True, take: bool = True) -> list[re.Match[str]]:
        found = []
        for match in re.finditer(pattern, self.text, flags=re.IGNORECASE):
            if self.free(match.start(), match.end()):
                if take:
                    self.take(match, remove)
                found.append(match)
        return found

    def take(self, match: re.Match[str], remove: bool = True) -> None:
        self.taken.append((match.start(), match.end(), remove))

    def words(self, phrases: tuple[str, ...], remove: bool = True) -> list[str]:
        hits = []
        for phrase in sorted(phrases, key=len, reverse=True):
            edge = "" if CJK.search(phrase) else r"(?<![\w-])"
            tail = "" if CJK.search(phrase) else r"(?![\w-])"
            hits += [m.group(0) for m in self.find(edge + re.escape(phrase) + tail, remove)]
        return hits

    def leftover(self, everything: bool = False) -> str:
        kept, last = [], 0
        for start, end, removed in sorted(self.taken):
            if removed or everything:
                kept.append(self.text[last:start])
                last = end
        kept.append(self.text[last:])
        return " ".join("".join(kept).split())


def _ages(reader: _Reader, out: Derivation) -> None:
    rules: list[tuple[str, Any]] = [
        (rf"(?:between|ages?d?)\s+{_N}\s*(?:-|–|—|to|and)\s*{_N}(?:\s*years?(?: old)?)?", lambda a, b: (a, b)),
        (rf"{_N}\s*(?:-|–|—|~|到|至)\s*{_N}(?:\s*(?:years?(?: old)?|岁))?", lambda a, b: (a, b)),
        (rf"{_N}\s*(?:to|and)\s*{_N}\s*years?(?: old)?", lambda a, b: (a, b)),
        (rf"(?:over|above|older than|大于|超过)\s*{_N}(?:\s*(?:years?(?: old)?|岁))?", lambda a: (a + 1, None)),
        (
            rf"{_N}\s*(?:\+|plus|and over|and older|or older|and above|years? and over|岁以上|岁及以上)",
            lambda a: (a, None),
        ),
        (rf"(?:at least)\s*{_N}", lambda a: (a, None)),
        (rf"(?:under|below|younger than|小于|不到)\s*{_N}(?:\s*(?:years?(?: old)?|岁))?", lambda a: (None, a - 1)),
        (rf"{_N}\s*(?:and under|or younger|and younger|岁以下|岁及以下)", lambda a: (None, a)),
        (rf"in (?:their|his|her) {_N}s|{_N}多岁", lambda a, b=None: ((a or b), (a or b) + 9)),
    ]
    for pattern, bounds in rules:
        for match in reader.find(pattern, take=False):
            numbers = [_zh_number(g) for g in match.groups() if g]
            if not numbers or max(numbers) > 120 or (len(numbers) == 2 and numbers[0] > numbers[1]):
                continue
            reader.take(match)
            low, high = bounds(*numbers)
            out.fields["age_min"], out.fields["age_max"] = low, high
            label = (
                f"age {low}–{high}"
                if low is not None and high is not None
                else (f"age ≥ {low}" if low is not None else f"age ≤ {high}")
            )
            out.derived_from_text[match.group(0).strip()] = label
            return
    for words, (low, high) in (
        (("seniors", "老年人", "老人"), (65, None)),
        (("teens", "teenagers", "青少年"), (13, 19)),
    ):
        hits = reader.words(words)
        if hits:
            out.fields["age_min"], out.fields["age_max"] = low, high
            out.derived_from_text[hits[0]] = f"age ≥ {low}" if high is None else f"age {low}–{high}"
            return


def _pick(
    reader: _Reader,
    out: Derivation,
    table: dict[str, tuple[str, ...]],
    valid: list[str],
    key: str,
    label: str,
    remove: bool = True,
    many: bool = True,
) -> None:
    for value, phrases in table.items():
        canonical = next((v for v in valid if v.lower() == value.lower()), None)
        hits = reader.words(phrases + ((value,) if canonical and value.lower() not in phrases else ()), remove)
        if not hits:
            continue
        if canonical is None:
            out.notes.append(f"'{hits[0]}' ({label} {value}) is not used: this shop has no such {label}")
            continue
        if many:
            out.fields.setdefault(key, [])
            if canonical not in out.fields[key]:
                out.fields[key].append(canonical)
        else:
            out.fields[key] = canonical
        for hit in hits:
            out.derived_from_text[hit] = f"{label} = {canonical}"


def derive_filter(text: str, vocabulary: dict[str, list[str]]) -> Derivation:
    """Read an audience filter and the ranking text out of a description.

    Args:
        text: The marketer's description, English or Chinese.
        vocabulary: The index's values (:meth:`~tools.portraits.store.PortraitStore.vocabulary`).

    Returns:
        The derivation.
    """
    out = Derivation()
    reader = _Reader(text)
    segments = vocabulary.get("segments", [])
    for number, name in enumerate(segments):
        hits = reader.words((name,)) + [
            m.group(0) for m in reader.find(rf"segment\s*#?\s*{number}\b|细分\s*{number}\b")
        ]
        if hits:
            out.fields.setdefault("segments", []).append(name)
            out.derived_from_text[hits[0]] = f"segment = {name}"
    _ages(reader, out)
    if vocabulary.get("spend_bands"):
        _pick(reader, out, SPEND_WORDS, vocabulary["spend_bands"], "spend_bands", "spend band")
    else:
        for phrases in SPEND_WORDS.values():
            for hit in reader.words(phrases):
                out.notes.append(f"'{hit}' is not used: this shop records no money, so there is no spend band")
    _pick(
        reader,
        out,
        LIFECYCLE_WORDS,
        vocabulary.get("lifecycles", ["new", "active", "lapsed"]),
        "lifecycle",
        "lifecycle",
    )
    _pick(reader, out, GENDER_WORDS, vocabulary.get("genders", []), "gender", "gender", many=False)
    occupations = {o: OCCUPATION_WORDS.get(o, (o + "s",)) for o in vocabulary.get("occupations", [])}
    occupations = {o: w for o, w in occupations.items() if o not in ("other", "none", "marketing", "entertainment")}
    _pick(reader, out, occupations, list(occupations), "occupations", "occupation")
    genres = {g: GENRE_WORDS.get(g, (g.lower(), g.lower() + "s")) for g in vocabulary.get("genres", [])}
    _pick(reader, out, genres, list(genres), "genres", "genre", remove=False)
    regions = {**REGION_WORDS, **{r: (r.lower(),) for r in vocabulary.get("regions", []) if r not in REGION_WORDS}}
    _pick(reader, out, regions, vocabulary.get("regions", []), "regions", "region")
    _ranking_text(text, reader, out)
    return out


def _ranking_text(text: str, reader: _Reader, out: Derivation) -> None:
    leftover = reader.leftover()
    genres = out.fields.get("genres", [])
    if CJK.search(text):
        unknown = "".join(ZH_FILLER.sub(" ", "".join(CJK.findall(reader.leftover(everything=True)))).split())
        english = " ".join(w for w in re.findall(r"[A-Za-z][A-Za-z'-]*", leftover) if w.lower() not in EN_FILLER)
        if unknown:
            out.notes.append(f"not understood and not used for ranking: {unknown}")
        out.semantic_text = " ".join(filter(None, [english, f"{' and '.join(genres)} fans" if genres else ""]))
        out.translated = True
    else:
        words = re.findall(r"[\w'&-]+", leftover)
        while words and words[-1].lower() in EN_FILLER:
            words.pop()
        while words and words[0].lower() in EN_FILLER:
            words.pop(0)
        out.semantic_text = " ".join(words)
    if not out.semantic_text:
        stages = " or ".join(out.fields.get("lifecycle", []))
        who = f"{' and '.join(genres)} fans" if genres else f"{stages} customers".strip()
        where = " or ".join(out.fields.get("regions", []))
        out.semantic_text = f"{who} in the {where} region" if where else who
    if out.translated:
        out.notes.append(f"the embedding model is English-only: ranked by the English text '{out.semantic_text}'")
