"""What a message may say about a product: its catalog facts and the offers that exist for it.

Offers come from the shop's own offers file and from the brief's ``offer:``. One applies to a product when it
names the product or its category (or names neither: a shop-wide code) and its validity window has not ended
before the shop's "today" (:attr:`tools.shop.Shop.today`). Copy may state these offers and nothing else.
"""

from __future__ import annotations

from agent.brief import Brief
from tools.copywriting import ProductFacts
from tools.recommend import ScoredProduct
from tools.shop import Offer, Product, Shop


def campaign_offers(shop: Shop, brief: Brief) -> list[Offer]:
    """Return the offers a campaign may state: the brief's, then the shop's, without expired ones or repeats."""
    today = shop.today.date()
    offers = [*([brief.offer] if brief.offer else []), *shop.offers]
    live = [o for o in offers if o.valid_to is None or o.valid_to >= today]
    return list({o.code.casefold(): o for o in reversed(live)}.values())[::-1]


def product_facts(shop: Shop, product: ScoredProduct, offers: list[Offer]) -> ProductFacts:
    """Return the catalog facts of ``product`` with the offers of ``offers`` that apply to it.

    Args:
        shop: The shop (its catalog gives price, currency, category and attributes where it has them).
        product: The recommended product.
        offers: The campaign's offers (:func:`campaign_offers`).

    Returns:
        What copy about the product may state.
    """
    catalog = shop.product(product.product_id) or Product(
        product_id=product.product_id, title=product.title, year=product.year, genres=product.genres)
    return ProductFacts.from_product(catalog, offers, shop.currency)
