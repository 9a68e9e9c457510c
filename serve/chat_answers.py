"""Chat answers that state only what the tools returned, in the question's language.

The model writes an answer from the turn's tool results (given as short fact lines, never raw JSON). Then
:func:`answer_problems` checks it, the way grounding checks copy: every number (amounts, prices, percentages,
years) must be one of the numbers in that turn's tool calls and results (a share may be written as a
percentage), every catalog title it names must be in the results, it must be in the question's language
(the copy tool's CJK check), hold no markup or echoed tool output, and not loop. When it fails, the answer is
built from the results by ``prompts/chat_answer_template.jinja`` and labelled ``source="template"``.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from agent.llm import ChatModel, ChatRequest, Message
from prompts import render
from serve.chat_routing import ChatLanguage
from tools.copywriting import CJK, display_title

_NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
_MARKUP = re.compile(r"[{}\[\]<>`|#*\\]|tool_response|tool_call|product_id|\"\w+\"\s*:|\bnull\b", re.IGNORECASE)
MAX_ANSWER = 700
MIN_TITLE = 6  # shorter catalog titles are common words ("Heat"), not a product named in the answer


@dataclass
class StepResult:
    """One tool call of a turn and what it returned.

    Attributes:
        tool: The tool's name.
        call_id: The call's id in the event stream.
        arguments: The arguments it was called with.
        result: Its JSON result (``{"error": ...}`` when it failed).
    """

    tool: str
    call_id: str
    arguments: dict[str, Any]
    result: dict[str, Any]

    @property
    def failed(self) -> bool:
        """True when the tool returned an error."""
        return "error" in self.result


@dataclass
class Answer:
    """The turn's answer.

    Attributes:
        text: What the marketer reads.
        source: ``"llm"`` (the model's answer passed validation), ``"template"`` (built from the results)
            or ``"none"`` (no tool fitted: what the chat can do).
        problems: Why the model's answer was rejected.
    """

    text: str
    source: str
    problems: list[str] = field(default_factory=list)


def _values(value: Any) -> Iterable[Any]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _values(v)
    elif isinstance(value, list):
        for v in value:
            yield from _values(v)
    else:
        yield value


def _as_float(text: str) -> float:
    return float(text.replace(",", ""))


def grounded_numbers(steps: list[StepResult]) -> list[float]:
    """Every number in the turn's tool calls and results (in strings too: titles' years, prices, errors)."""
    numbers: list[float] = []
    for step in steps:
        for v in [*_values(step.arguments), *_values(step.result)]:
            if isinstance(v, bool) or v is None:
                continue
            if isinstance(v, int | float):
                numbers.append(float(v))
            else:
                numbers += [_as_float(m) for m in _NUMBER.findall(str(v))]
    return numbers


def result_titles(steps: list[StepResult]) -> set[str]:
    """Lower-cased titles and names the results (and calls) hold."""
    out: set[str] = set()
    for step in steps:
        for v in [*_values(step.result), *_values(step.arguments)]:
            if isinstance(v, str):
                out.add(v.lower())
    return out


def _matches(number: str, allowed: list[float]) -> bool:
    value = _as_float(number)
    decimals = len(number.split(".")[1]) if "." in number else 0
    for b in allowed:
        for candidate in (b, b * 100) if 0 <= b <= 1 else (b,):
            if decimals == 0 and (candidate == value or (abs(candidate) >= 10 and round(candidate) == value)):
                return True
            if decimals and round(candidate, decimals) == value:
                return True
    return False


def answer_problems(answer: str, steps: list[StepResult], language: ChatLanguage, catalog_titles: Iterable[str]
                    ) -> list[str]:
    """Return what is wrong with an answer (empty: it may be shown).

    Args:
        answer: The answer text.
        steps: The turn's tool calls and results.
        language: The question's language.
        catalog_titles: The shop's product titles, as displayed (any named one must be in the results).
    """
    text = answer.strip()
    if not text:
        return ["the answer is empty"]
    problems: list[str] = []
    if len(text) > MAX_ANSWER:
        problems.append(f"the answer is longer than {MAX_ANSWER} characters")
    if not in_language(text, language):
        problems.append("the question is in Chinese, the answer is not" if language == "zh"
                        else "the question is in English, the answer is not")
    problems += ungrounded(text, steps, catalog_titles)
    problems += missing_facts(text, steps)
    low = text.lower()
    units = re.findall(r"\w+", low) if language == "en" else list(re.sub(r"\s", "", low))
    size = 5 if language == "en" else 8
    grams = Counter(tuple(units[i:i + size]) for i in range(max(0, len(units) - size + 1)))
    if grams and max(grams.values()) >= 3:
        problems.append("the answer repeats itself")
    return problems


def ungrounded(answer: str, steps: list[StepResult], catalog_titles: Iterable[str]) -> list[str]:
    """What in the answer the turn's tools did not return: numbers, catalog titles, markup or raw tool output."""
    problems: list[str] = []
    markup = _MARKUP.search(answer)
    if markup:
        problems.append(f"markup or raw tool output: {markup.group(0)!r}")
    allowed = grounded_numbers(steps)
    unknown = [n for n in _NUMBER.findall(answer) if not _matches(n, allowed)]
    if unknown:
        problems.append(f"numbers not in the tool results: {', '.join(dict.fromkeys(unknown))}")
    known = result_titles(steps)
    low = answer.lower()
    named = [t for t in catalog_titles if len(t) >= MIN_TITLE and t.lower() in low
             and not any(t.lower() in k for k in known)]
    if named:
        problems.append(f"products not in the tool results: {', '.join(sorted(set(named))[:3])}")
    return problems


def in_language(answer: str, language: ChatLanguage) -> bool:
    """True when the answer is in ``language``: Chinese has Han characters (at least four), English none."""
    han = len(CJK.findall(answer))
    return han >= 4 if language == "zh" else han == 0


def missing_facts(answer: str, steps: list[StepResult]) -> list[str]:
    """The headline fact of each successful tool the answer leaves out (the count, a product, the plan id)."""
    low = answer.lower()
    numbers = {_as_float(n) for n in _NUMBER.findall(answer)}
    missing: list[str] = []
    for step in steps:
        r = step.result
        if step.failed:
            continue
        if step.tool == "find_audience" and float(r.get("matched", -1)) not in numbers:
            missing.append(f"the answer does not say how many customers matched ({r.get('matched')})")
        items = r.get("products") or r.get("estimates") or ([r] if step.tool == "write_copy" else [])
        titles = [str(p.get("title", "")).lower() for p in items if p.get("title")]
        if titles and not any(t in low for t in titles):
            missing.append(f"the answer names none of the products of {step.tool}")
        if step.tool == "create_plan" and str(r.get("plan_id", "")).lower() not in low:
            missing.append("the answer does not give the plan id")
    return missing


def fact_lines(steps: list[StepResult], language: ChatLanguage) -> list[str]:
    """The turn's results as short sentences (the template answer, one line per tool)."""
    return [line for line in template_answer(steps, language).split("\n") if line.strip()]


def template_answer(steps: list[StepResult], language: ChatLanguage) -> str:
    """Build the answer from the results alone (``prompts/chat_answer_template.jinja``)."""
    return render("chat_answer_template.jinja", language=language,
                  steps=[{"tool": s.tool, "arguments": s.arguments, "result": s.result} for s in steps])


def none_answer(language: ChatLanguage, reason: str, interest_key: str, interests: list[str]) -> str:
    """What the chat says when no tool fits (``reason`` "nothing") or the message asks about one customer."""
    example = "Sci-Fi" if "Sci-Fi" in interests else (interests[0] if interests else "loyal")
    return render("chat_answer_none.jinja", language=language, reason=reason, interest_key=interest_key,
                  example=example, example_zh="科幻" if example == "Sci-Fi" else example)


def write_answer(model: ChatModel, question: str, steps: list[StepResult], language: ChatLanguage,
                 catalog_titles: Iterable[str], seed: int | None = None) -> Answer:
    """Ask the model for an answer from the results; keep it only if it passes :func:`answer_problems`.

    Raises:
        LLMError: the model server failed.
    """
    facts = fact_lines(steps, language)
    request = ChatRequest(messages=[Message(role="system", content=render("chat_system.jinja")),
                                    Message(role="user", content=render("chat_answer_user.jinja", question=question,
                                                                        facts=facts, language=language))],
                          temperature=0.2, max_tokens=160, seed=seed)
    text = (model.chat(request).content or "").strip()
    problems = answer_problems(text, steps, language, catalog_titles)
    if not problems:
        return Answer(text=text, source="llm")
    return Answer(text=template_answer(steps, language), source="template", problems=problems)


def display_titles(products: pd.DataFrame) -> list[str]:
    """The catalog's titles as answers write them."""
    return sorted({display_title(str(t)) for t in products["title"]})


def parse_result(content: str) -> dict[str, Any]:
    """A tool's JSON text as a dict (a text that is not a JSON object becomes ``{"error": text}``)."""
    try:
        value = json.loads(content)
    except ValueError:
        return {"error": content}
    return value if isinstance(value, dict) else {"error": content}
