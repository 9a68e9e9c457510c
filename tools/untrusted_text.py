"""Text from outside the system that must never carry markup or instructions to a model.

Briefs, imported catalogs and customer tables are pasted from anywhere; their text reaches copy prompts, copy
that is sent, the chat and the web page. :func:`text_problem` names what makes a text unsafe to take in:

* markup: an HTML tag, a ``javascript:`` URL or an ``on…=`` event handler (stored XSS in the page or an e-mail);
* an injected instruction: words addressed to the model rather than to a customer ("ignore previous
  instructions", "system prompt", "assistant:", "note to the writer", "new rule", "in every message" …),
  English and Chinese (the phrasings of ``serve.chat_routing``'s filter and those the injection suite found).

Checked where the text comes in (:mod:`agent.brief`, the shop import in :mod:`tools.shop`), so nothing unsafe is
stored; the checks are patterns, so copy and answers are validated again downstream (grounding, copy floor,
answer checks).
"""

from __future__ import annotations

import re

MARKUP = re.compile(r"<\s*/?\s*[a-z][a-z0-9-]*(?:\s[^>]*)?/?\s*>|<\s*(?:script|img|iframe|svg|a)\b|javascript\s*:"
                    r"|\bon[a-z]{3,}\s*=", re.IGNORECASE)
INSTRUCTION = re.compile(
    r"\bignore\b.{0,40}\b(?:instructions?|rules?|prompts?|above|facts?|list|limits?)\b|\bdisregard\b|"
    r"\bforget (?:everything|all|your|the)\b|\bsystem[ -]?prompt\b|\byou are now\b|\bpretend (?:to be|you)\b|"
    r"\bdeveloper mode\b|\bjailbreak\b|\breveal your\b|\bprint your\b|\brepeat after me\b|"
    r"\brepeat the instructions\b|\b(?:system|assistant|copywriter|writer|model|chatbot|ai)\s*(?:override)?\s*:|"
    r"\bsystem override\b|\bnote to the (?:writer|copywriter|assistant|model|ai)\b|\bnew rule\b|"
    r"\bin every message\b|\bevery message must\b|\binstead (?:write|say|promise|add)\b|\bapi key\b|"
    r"忽略|无视|忘记(?:之前|以上|所有)|系统提示|你现在是|扮演|假装",
    re.IGNORECASE,
)


def text_problem(text: str) -> str | None:
    """Return why ``text`` is unsafe to take in (markup or an injected instruction), or None when it is safe."""
    markup = MARKUP.search(text)
    if markup:
        return f"markup is not allowed ({markup.group(0)!r})"
    instruction = INSTRUCTION.search(text)
    if instruction:
        return f"text addressed to the assistant is not allowed ({instruction.group(0)!r})"
    return None
