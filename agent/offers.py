"""What a message may say about a product: its catalog facts and the offers that exist for it.

Offers come from the shop's own offers file and from the brief's ``offer:``. One applies to a product when it
names the product or its category (or names neither: a shop-wide code) and its validity window has not ended
before the shop's "today" (:attr:`tools.shop.Shop.today`). Copy may state these offers and nothing else.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from agent.brief import Brief
from tools.copywriting import ProductFacts
from tools.recommend import ScoredProduct
from tools.shop import Offer, Shop


def campaign_offers(shop: Shop, brief: Brief) -> list[Offer]:
    """Return the offers a campaign may state: the brief's, then the shop's, without expired ones or repeats."""
    today = shop.today.date()
    offers = [*([brief.offer] if brief.offer else []), *shop.offers]
    live = [o for o in offers if o.valid_to is None or o.valid_to >= today]
    return list({o.code.casefold(): o for o in reversed(live)}.values())[::-1]


def _cell(row: pd.Series, column: str) -> Any:
    value = row.get(column) if column in row.index else None
    if isinstance(value, list | tuple):
        return list(value)
    return None if value is None or (not hasattr(value, "__len__") and pd.isna(value)) else value


def product_facts(shop: Shop, product: ScoredProduct, offers: list[Offer]) -> ProductFacts:
    """Return the catalog facts of ``product`` with the offers of ``offers`` that apply to it.

    Args:
        shop: The shop (its catalog gives price, currency, category and attributes where it has them).
        product: The recommended product.
        offers: The campaign's offers (:func:`campaign_offers`).

    Returns:
        What copy about the product may state.
    """
    rows = shop.products.loc[shop.products["product_id"] == product.product_id]
    row = rows.iloc[0] if len(rows) else pd.Series(dtype=object)
    price, category = _cell(row, "price"), _cell(row, "category")
    return ProductFacts(
        product_id=product.product_id, title=product.title, year=product.year, genres=product.genres,
        price=float(price) if price is not None else None, currency=shop.currency if price is not None else None,
        category=category, attributes=[str(a) for a in _cell(row, "attributes") or []],
        offers=[o for o in offers if o.applies_to(product.product_id, category)] if price is not None else [],
    )
