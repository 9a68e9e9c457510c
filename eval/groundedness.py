"""Grounding scorer: every product fact stated in copy must exist in the catalog.

Built on :func:`tools.copywriting.grounding.grounding_problems` (title named, no invented year, genre, price or offer),
with the facts looked up in the catalog by product id rather than taken from the plan. On top of it the
scorer flags titles of OTHER catalog products named in the copy (claims the catalog cannot back — awards,
cast, star ratings, newness, sales, stray numbers — are checked by the shared grounding module).
The catalog (MovieLens) holds titles, years and genres only.
"""

from __future__ import annotations

import re

import pandas as pd

from agent.plan import CampaignPlan
from eval.scoring import MAX_EVIDENCE, ScoreResult, message_text, not_applicable, variant_label
from eval.suite import ScoreThreshold
from tools.copywriting import ProductFacts, display_title, grounding_problems

_LANGUAGE_PROBLEMS = ("must be written in",)  # the constraints scorer checks the language
_EDGE_L, _EDGE_R = r"(?<![A-Za-z0-9])", r"(?![A-Za-z0-9])"
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\n。！？：]\s*)$")
MIN_TITLE_CHARS = 4


def _bare(title: str) -> str:
    """Return the display title without a trailing parenthesis ("Seven (Se7en)" → "Seven")."""
    return re.sub(r"\s*\(.*\)$", "", display_title(title)).strip()


class Catalog:
    """The shop's products, for fact lookup and for spotting other products' titles in copy.

    Args:
        products: The shop's products table (product_id, title, year, genres).
    """

    def __init__(self, products: pd.DataFrame) -> None:
        self._facts = {
            str(r.product_id): ProductFacts(product_id=str(r.product_id), title=str(r.title),
                                            year=None if pd.isna(r.year) else int(r.year), genres=list(r.genres))
            for r in products.itertuples(index=False)
        }
        genres = {g.casefold() for f in self._facts.values() for g in f.genres}
        self._by_name: dict[str, set[str]] = {}
        for pid, facts in self._facts.items():
            for name in {display_title(facts.title), _bare(facts.title)}:
                if len(name) >= MIN_TITLE_CHARS and name.casefold() not in genres:
                    self._by_name.setdefault(name, set()).add(pid)
        names = sorted(self._by_name, key=len, reverse=True)
        self._pattern = re.compile(_EDGE_L + "(" + "|".join(map(re.escape, names)) + ")" + _EDGE_R)

    def facts(self, product_id: str) -> ProductFacts | None:
        """Return the catalog facts of a product, None when the catalog has no such id."""
        return self._facts.get(product_id)

    def other_titles(self, text: str, product_id: str) -> list[str]:
        """Return the titles of catalog products other than ``product_id`` named in ``text``.

        Matching is case-sensitive with letter boundaries; one-word titles are ignored at the start of a
        sentence, where any capitalised word could be one ("Heat", "Speed").
        """
        own = self._facts.get(product_id)
        if own is not None:
            for name in sorted({own.title, display_title(own.title), _bare(own.title)}, key=len, reverse=True):
                text = text.replace(name, " ")
        found = []
        for match in self._pattern.finditer(text):
            name = match.group(1)
            if " " not in name and _SENTENCE_START.search(text[: match.start()]):
                continue
            if product_id not in self._by_name[name]:
                found.append(name)
        return list(dict.fromkeys(found))


def variant_problems(text: str, facts: ProductFacts, language: str, catalog: Catalog) -> list[str]:
    """List every fact in ``text`` the catalog does not back for product ``facts``."""
    problems = [p for p in grounding_problems(text, facts, language) if not p.startswith(_LANGUAGE_PROBLEMS)]
    others = catalog.other_titles(text, facts.product_id)
    if others:
        problems.append(f"names other catalog titles: {', '.join(others)}")
    return problems


def score_grounding(plan: CampaignPlan, catalog: Catalog, threshold: ScoreThreshold) -> ScoreResult:
    """Score the share of active variants whose copy states only catalog facts about their own product."""
    active = plan.active_variants()
    if not active:
        return not_applicable("grounding", "share of grounded messages", "the plan has no messages")
    failures: list[str] = []
    for v in active:
        facts = catalog.facts(v.product_id)
        if facts is None:
            failures.append(f"{variant_label(v)}: product {v.product_id} is not in the catalog")
            continue
        problems = variant_problems(message_text(v), facts, plan.brief.language, catalog)
        if v.product_title != facts.title:
            problems.insert(0, f"plan calls the product {v.product_title!r}, the catalog {facts.title!r}")
        if problems:
            failures.append(f"{variant_label(v)}: " + "; ".join(problems))
    score = 1.0 - len(failures) / len(active)
    evidence = [f"{len(active) - len(failures)}/{len(active)} messages state only catalog facts"]
    evidence += [f"FAILED: {line}" for line in failures[:MAX_EVIDENCE]]
    return ScoreResult(
        scorer="grounding", status="pass" if score >= threshold.min_score else "fail", score=round(score, 4),
        unit="share of grounded messages", threshold=f"≥ {threshold.min_score:.2f}", evidence=evidence,
        details={"messages": len(active), "ungrounded": len(failures),
                 "from_llm": sum(v.source == "llm" for v in active)},
    )
