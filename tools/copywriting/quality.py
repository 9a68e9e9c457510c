"""The quality floor LLM copy must pass (besides grounding): checks of the kind a reader notices at once.

A draft from the LLM is rejected when (each rule returns one problem, fed back to the model):

1. the body is a copy of the headline (the same words, or at least 80% alike), or says fewer than four words
   (zh: six Han characters) besides the fact strings (a list of facts is not a sentence);
2. the call to action is not an action phrase: it must start with a verb of :func:`cta_verbs` (en: "Shop",
   "Watch", …; zh: 购买, 观看, … after an optional 立即/马上/…), and must not copy the headline or body;
3. a word is cut off: the body must end with sentence punctuation (. ! ? or 。！？), and the last word of every
   field must be complete — a word of the facts (name, category, attributes, code), a word of three or more
   letters, or one of the short words a phrase can end with (:data:`SHORT_ENDINGS`), and not a word a phrase
   does not end with (:data:`DANGLING`: "the", "and", "of"…); a one-letter fragment such as "a G" is cut;
4. a word or phrase is repeated to pad the length: a fact string twice in one field or three times in the message
   (the name: three times in the body);
   outside the fact strings, an English word of four or more letters three times or more in the message, or the
   same two-word phrase (both words of three letters or more, one of four) twice in the body; in Chinese, the
   same two Han characters three times or more, or the same four twice, in the body; a punctuation mark three
   times in a row;
5. it copies its instructions: five words in a row (zh: eight characters), outside the fact strings, from the
   prompt (the goal, the audience, the instructions, the feedback) — a small model echoes its prompt;
   the message's theme (a segment strategy's angle, shown in the prompt to be used) is not an echo, and a field
   may end with it as with a fact string (rule 3);
6. (claims beyond the facts are grounding's: :data:`tools.copywriting.grounding.CLAIMS`.)
7. it is not written in real words: outside the fact strings, the theme and the prompt's own words, an English
   word that is not in the ``wordfreq`` word list ("isemaeth", "andlovethebomb"), or Chinese that falls apart
   into rare single characters (:mod:`tools.copywriting.real_words`).
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from difflib import SequenceMatcher
from typing import Protocol

from tools.copywriting.constraints import CTA_ADVERBS_ZH, cta_verbs, fact_strings
from tools.copywriting.grounding import CJK, ProductFacts, title_names
from tools.copywriting.real_words import word_problems

SHORT_ENDINGS = frozenset({"in", "on", "up", "it", "me", "us", "go", "do", "be"})
"""Words of fewer than three letters that count as complete at the end of a field (en)."""

DANGLING = frozenset({"the", "and", "for", "with", "your", "our", "from", "this", "that", "its", "their", "into",
                      "than", "but", "nor", "of", "to", "at", "a", "an", "or", "as", "my", "if", "when", "while",
                      "which", "some", "any", "every", "each", "more", "most", "only", "all", "just", "very", "no",
                      "not"})
"""Words a finished phrase does not end with (en): a field ending in one was cut off."""

_SAME_TEXT = 0.8  # bodies at least this alike to the headline (difflib ratio) are copies of it
_WORD = re.compile(r"[A-Za-z]+(?:['-][A-Za-z]+)*")
_END_EN = re.compile(r"[.!?]\s*$")
_END_ZH = re.compile(r"[。！？!?.]\s*$")


class Draft(Protocol):
    """The three fields of a message draft."""

    headline: str
    body: str
    cta: str


def _blank_facts(text: str, facts: list[str]) -> str:
    for fact in facts:
        text = re.sub(re.escape(fact), " ", text, flags=re.IGNORECASE)
    return text


def _normal(text: str) -> str:
    return re.sub(r"\W+", " ", text.casefold()).strip()


def _copies_headline(draft: Draft, facts: ProductFacts, language: str) -> list[str]:
    problems = []
    body, headline = _normal(draft.body), _normal(draft.headline)
    if body == headline or SequenceMatcher(None, body, headline).ratio() >= _SAME_TEXT:
        problems.append("the body copies the headline: say something new about it in the body")
    rest = _blank_facts(draft.body, fact_strings(facts, language))
    # A Chinese "word" is two Han characters on average; six characters make a short sentence.
    words = len(CJK.findall(rest)) / 1.5 if language == "zh" else len(_WORD.findall(rest))
    if words < 4:
        problems.append("the body must say something about the product in a full sentence, not just list its facts")
    return problems


def _cta_problems(draft: Draft, facts: ProductFacts, language: str) -> list[str]:
    cta = draft.cta.strip()
    verbs = cta_verbs(facts, language)
    problems = []
    if language == "zh":
        rest = re.sub(f"^(?:{'|'.join(CTA_ADVERBS_ZH)})", "", cta)
        if not rest.startswith(verbs):
            problems.append(f"the cta must be an action phrase starting with a verb such as {'、'.join(verbs[:4])}")
    else:
        first = (_WORD.findall(cta) or [""])[0]
        if first.casefold() not in {v.casefold() for v in verbs}:
            problems.append(f"the cta must be an action phrase starting with a verb such as {', '.join(verbs[:4])}")
    if _normal(cta) in (_normal(draft.headline), _normal(draft.body)):
        problems.append("the cta must be a short call to action, not a copy of the headline or body")
    return problems


def _cut_problems(draft: Draft, language: str, strings: list[str]) -> list[str]:
    problems = []
    if not (_END_ZH if language == "zh" else _END_EN).search(draft.body):
        problems.append("the body must end with a full sentence (. ! ?)" if language == "en"
                        else "the body must end with a full sentence (。！？)")
    fact_words = {w.casefold() for s in strings for w in _WORD.findall(s)}
    for field in ("headline", "body", "cta"):
        text = getattr(draft, field).strip()
        if any(text.casefold().endswith(s.casefold()) for s in strings):
            continue
        tail = re.search(r"([A-Za-z]+(?:-[A-Za-z]+)*)\W*$", text)  # "Sci-Fi" is one word, not a cut "Fi"
        if tail is None:
            continue
        word = tail.group(1).casefold()
        if word in DANGLING or (len(word) < 3 and word not in SHORT_ENDINGS and word not in fact_words):
            problems.append(f"the {field} ends with a cut-off word ({tail.group(1)!r}): end it with a complete word")
    return problems


def _fact_repeats(draft: Draft, facts: ProductFacts, strings: list[str]) -> list[str]:
    names = {n.casefold() for n in title_names(facts.title)}
    fields = {"headline": draft.headline, "body": draft.body, "cta": draft.cta}
    problems = []
    for fact in strings:  # longest first: a fact inside a longer one is not counted twice
        found = {f: len(re.findall(re.escape(fact), t, flags=re.IGNORECASE)) for f, t in fields.items()}
        most = max(found, key=lambda f: found[f])
        if fact.casefold() in names:
            if found["body"] >= 3:
                problems.append(f"repeats {fact!r} {found['body']} times in the body to pad the length")
        elif found[most] >= 2 or sum(found.values()) >= 3:
            problems.append(f"repeats {fact!r} {sum(found.values())} times to pad the length: state each fact once")
        fields = {f: re.sub(re.escape(fact), " ", t, flags=re.IGNORECASE) for f, t in fields.items()}
    return problems[:1]


def _repeat_problems(draft: Draft, language: str, strings: list[str]) -> list[str]:
    marks = re.search(r"([^\w\s])\1{2,}", f"{draft.headline} {draft.body} {draft.cta}")
    if marks:
        return [f"repeats {marks.group(0)!r} to pad the length: say each thing once"]
    body = _blank_facts(draft.body, strings)
    if language == "zh":
        runs = ["".join(m) for m in re.findall(f"[{CJK.pattern[1:-1]}]+", body)]
        pairs = Counter(r[i:i + 2] for r in runs for i in range(len(r) - 1))
        quads = Counter(r[i:i + 4] for r in runs for i in range(len(r) - 3))
        padded = [g for g, c in pairs.items() if c >= 3] + [g for g, c in quads.items() if c >= 2]
        return [f"repeats {padded[0]!r} to pad the length: say each thing once"] if padded else []
    whole = _blank_facts(f"{draft.headline} {draft.body} {draft.cta}", strings)
    words = Counter(w.casefold() for w in _WORD.findall(whole) if len(w) >= 4)
    problems = [f"repeats {w!r} {c} times to pad the length: say each thing once" for w, c in words.items() if c >= 3]
    tokens = [w.casefold() for w in _WORD.findall(body)]
    # Phrases of short function words ("of the", "to a") recur in honest prose: a phrase counts when both words
    # have three letters or more and one has four.
    bigrams = Counter(p for p in itertools.pairwise(tokens) if min(map(len, p)) >= 3 and max(map(len, p)) >= 4)
    problems += [f"repeats the phrase {' '.join(b)!r} to pad the length: say each thing once"
                 for b, c in bigrams.items() if c >= 2]
    return problems[:2]


def _echo_problems(draft: Draft, language: str, strings: list[str], prompt: str) -> list[str]:
    if not prompt:
        return []
    text = _blank_facts(f"{draft.headline}\n{draft.body}\n{draft.cta}", strings)
    source = _blank_facts(prompt, strings)
    if language == "zh":
        runs = re.findall(f"[{CJK.pattern[1:-1]}]{{8,}}", text)
        echoed = next((r[i:i + 8] for r in runs for i in range(len(r) - 7) if r[i:i + 8] in source), None)
    else:
        words = [w.casefold() for w in _WORD.findall(text)]
        known = " " + " ".join(w.casefold() for w in _WORD.findall(source)) + " "
        echoed = next((" ".join(words[i:i + 5]) for i in range(len(words) - 4)
                       if f" {' '.join(words[i:i + 5])} " in known), None)
    return [f"copies its instructions ({echoed!r}): write your own words"] if echoed else []


def floor_problems(draft: Draft, facts: ProductFacts, language: str, prompt: str = "",
                   theme: str | None = None) -> list[str]:
    """List how an LLM draft falls below the quality floor (the module docstring states the rules).

    Args:
        draft: The headline, body and call to action.
        facts: The product the draft is about (its fact strings may repeat and end fields).
        language: "en" or "zh".
        prompt: The prompt the draft answered (empty: rule 5 is not checked).
        theme: The message's theme shown in the prompt (a segment strategy's angle): repeating it is neither an
            echo of the prompt nor a cut-off ending.

    Returns:
        One line per broken rule; empty when the draft passes.
    """
    strings = fact_strings(facts, language)
    # The theme first: a fact inside it (a category) must not break it before it is blanked.
    own = [theme.strip(), *strings] if theme and theme.strip() else strings
    return [*_copies_headline(draft, facts, language), *_cta_problems(draft, facts, language),
            *_cut_problems(draft, language, own), *_fact_repeats(draft, facts, strings),
            *_repeat_problems(draft, language, strings), *_echo_problems(draft, language, own, prompt),
            *word_problems(_blank_facts(f"{draft.headline}\n{draft.body}\n{draft.cta}", own), language, prompt)]
