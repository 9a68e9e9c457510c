"""Grounding scorer: every product fact stated in copy must exist in the shop's catalog.

Built on :func:`tools.copywriting.grounding.grounding_problems` (title named; no invented year, genre, price,
discount, code or offer; on a shop with prices only the catalog price, the price after an existing offer, that
offer's discount, code and dates, and the product's own colours and materials), with the facts looked up by
product id in the catalog of the plan's shop rather than taken from the plan. The offers a message may state
are those of the campaign: the brief's ``offer`` and the shop's own, without expired ones
(:func:`agent.offers.campaign_offers`), each kept for a product when :meth:`tools.shop.Offer.applies_to` it.
On top of that the scorer flags titles of OTHER catalog products named in the copy, and a price or offer the
plan records for a variant that the catalog does not give.

MovieLens holds titles, years and genres only (no prices: the strict rule, no amount or offer at all); the
retail shop adds a price in GBP, a category and attributes per product.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.brief import Brief
from agent.offers import campaign_offers
from agent.plan import CampaignPlan, CopyVariant
from eval.scoring import MAX_EVIDENCE, ScoreResult, message_text, not_applicable, variant_label
from eval.suite import ScoreThreshold
from tools.copywriting import ProductFacts, grounding_problems, offer_discount_text, shop_titles
from tools.shop import Offer, Shop, product_model

_LANGUAGE_PROBLEMS = ("must be written in",)  # the constraints scorer checks the language
_SAME_AMOUNT = 0.005


class Catalog:
    """A shop's products, for fact lookup and for spotting other products' titles in copy.

    Args:
        shop: The shop (its products table: product_id, title, year, genres and, where it has them, price,
            category and attributes; its currency, own offers and "today" for the campaign's offers).
    """

    def __init__(self, shop: Shop) -> None:
        self.shop = shop
        products = map(product_model, shop.products.to_dict("records"))
        self._products = {p.product_id: p for p in products}
        self._titles = shop_titles(shop)  # the names the copy validator checked the plan's copy against

    def offers(self, brief: Brief) -> list[Offer]:
        """Return the offers a campaign for ``brief`` may state: the brief's and the shop's, unexpired."""
        return campaign_offers(self.shop, brief)

    def facts(self, product_id: str, offers: Sequence[Offer] = ()) -> ProductFacts | None:
        """Return the catalog facts of a product with those of ``offers`` that apply to it.

        Args:
            product_id: The product.
            offers: The campaign's offers (:meth:`offers`); kept when they apply to the product (by id or
                category, or shop-wide) and the product has a price.

        Returns:
            The facts, None when the catalog has no such id.
        """
        product = self._products.get(product_id)
        return None if product is None else ProductFacts.from_product(product, offers, self.shop.currency)

    def other_titles(self, text: str, product_id: str) -> list[str]:
        """Return the titles of catalog products other than ``product_id`` named in ``text``.

        The copy validator's own check (:class:`tools.copywriting.CatalogTitles`): case-sensitive with letter
        boundaries, one-word titles ignored at the start of a sentence.
        """
        return self._titles.other_titles(text, product_id)


def variant_problems(text: str, facts: ProductFacts, language: str, catalog: Catalog) -> list[str]:
    """List every fact in ``text`` the catalog does not back for product ``facts``."""
    problems = [p for p in grounding_problems(text, facts, language) if not p.startswith(_LANGUAGE_PROBLEMS)]
    others = catalog.other_titles(text, facts.product_id)
    if others:
        problems.append(f"names other catalog titles: {', '.join(others)}")
    return problems


def recorded_problems(variant: CopyVariant, facts: ProductFacts) -> list[str]:
    """List the plan's own records of a variant (title, price, offer) that the catalog does not give."""
    problems = []
    if variant.product_title != facts.title:
        problems.append(f"plan calls the product {variant.product_title!r}, the catalog {facts.title!r}")
    if (variant.product_price is None) != (facts.price is None) or (
            variant.product_price is not None and facts.price is not None
            and abs(variant.product_price - facts.price) >= _SAME_AMOUNT):
        problems.append(f"plan records the price {variant.product_price}, the catalog {facts.price}")
    if variant.offer_code is not None:
        offer = next((o for o in facts.offers if o.code.casefold() == variant.offer_code.casefold()), None)
        if offer is None:
            problems.append(f"plan records the offer {variant.offer_code!r}, which does not exist for this product")
        elif facts.price is not None and (variant.price_after_offer is None or abs(
                variant.price_after_offer - offer.price_after(facts.price)) >= _SAME_AMOUNT):
            problems.append(f"plan records {variant.price_after_offer} after {offer.code}, the catalog price "
                            f"{facts.price} less {offer_discount_text(offer, facts.currency, 'en')} is "
                            f"{offer.price_after(facts.price)}")
    return problems


def score_grounding(plan: CampaignPlan, catalog: Catalog, threshold: ScoreThreshold) -> ScoreResult:
    """Score the share of active variants whose copy states only catalog facts about their own product.

    Args:
        plan: The plan.
        catalog: The catalog of the plan's shop.
        threshold: Least share of grounded messages.
    """
    active = plan.active_variants()
    if not active:
        return not_applicable("grounding", "share of grounded messages", "the plan has no messages")
    offers = catalog.offers(plan.brief)
    failures: list[str] = []
    for v in active:
        facts = catalog.facts(v.product_id, offers)
        if facts is None:
            failures.append(f"{variant_label(v)}: product {v.product_id} is not in the catalog")
            continue
        problems = recorded_problems(v, facts) + variant_problems(message_text(v), facts, plan.brief.language,
                                                                    catalog)
        if problems:
            failures.append(f"{variant_label(v)}: " + "; ".join(problems))
    score = 1.0 - len(failures) / len(active)
    evidence = [f"{len(active) - len(failures)}/{len(active)} messages state only catalog facts"]
    if offers:
        evidence.append("offers the copy may state: " + ", ".join(
            f"{o.code} ({offer_discount_text(o, plan.currency, 'en')})" for o in offers))
    evidence += [f"FAILED: {line}" for line in failures[:MAX_EVIDENCE]]
    return ScoreResult(
        scorer="grounding", status="pass" if score >= threshold.min_score else "fail", score=round(score, 4),
        unit="share of grounded messages", threshold=f"≥ {threshold.min_score:.2f}", evidence=evidence,
        details={"messages": len(active), "ungrounded": len(failures),
                 "from_llm": sum(v.source == "llm" for v in active),
                 "stating_an_offer": sum(v.offer_code is not None for v in active),
                 "offers": [o.code for o in offers], "shop": catalog.shop.name},
    )
