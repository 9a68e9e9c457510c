"""Every shop the assistant can plan for, by name: the built-in ``retail`` and ``movielens`` and the imported ones.

``retail`` is UCI Online Retail (real transactions of a UK gift retailer with prices, the default demo shop);
``movielens`` is MovieLens-100k (ratings, no prices); ``hillstrom`` is the Hillstrom e-mail experiment's customers
(:mod:`tools.shop.hillstrom`; its products are the two e-mails); every other name is a shop stored by
``campaign data import`` (:mod:`tools.shop.library`).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from agent.settings import Settings
from tools.shop.cleaning import CleaningReport
from tools.shop.hillstrom import hillstrom_cleaning_report, load_hillstrom_shop
from tools.shop.library import RESERVED_NAMES, cleaning_report, load_stored_shop, stored_shops
from tools.shop.retail import load_retail_shop, retail_cleaning_report
from tools.shop.shop_data import Shop, ShopDataError, load_demo_shop
from tools.shop.sources import load_movielens

BUILT_IN_SHOPS: dict[str, str] = {
    "retail": "UCI Online Retail: a UK online gift retailer's real transactions, 2010-12-01 to 2011-11-08 (GBP)",
    "movielens": "MovieLens-100k: 943 viewers' film ratings (no prices; the recommender benchmark)",
    "hillstrom": "Hillstrom e-mail experiment (2008): 48,000 customers; products: the men's and women's e-mails",
}
assert tuple(BUILT_IN_SHOPS) == RESERVED_NAMES


class ShopInfo(BaseModel):
    """One plannable shop, as listed by ``campaign data shops`` and ``GET /v1/shops``."""

    name: str
    description: str
    built_in: bool
    default: bool = Field(False, description="Planned for when a brief names no shop.")


def shop_names(settings: Settings) -> list[str]:
    """Return every plannable shop name: the built-in ones, then the imported ones."""
    return [*BUILT_IN_SHOPS, *(n for n in stored_shops(settings) if n not in BUILT_IN_SHOPS)]


def list_shops(settings: Settings) -> list[ShopInfo]:
    """Describe every plannable shop (the default one is ``settings.default_shop``)."""
    return [
        ShopInfo(name=name, description=BUILT_IN_SHOPS.get(name, "imported with `campaign data import`"),
                 built_in=name in BUILT_IN_SHOPS, default=name == settings.default_shop)
        for name in shop_names(settings)
    ]


def check_shop_name(settings: Settings, name: str) -> str:
    """Return ``name`` when it is a plannable shop.

    Raises:
        ShopDataError: one line listing the shops there are.
    """
    known = shop_names(settings)
    if name not in known:
        raise ShopDataError(f"unknown shop {name!r}; the shops are {', '.join(known)}")
    return name


def load_shop(settings: Settings, name: str | None = None) -> Shop:
    """Load a shop by name (None: ``settings.default_shop``).

    Args:
        settings: Project settings.
        name: ``retail``, ``movielens`` or an imported shop's name.

    Returns:
        The shop.

    Raises:
        ShopDataError: unknown name, or the shop's data is missing.
    """
    name = check_shop_name(settings, name or settings.default_shop)
    if name == "retail":
        return load_retail_shop(settings)
    if name == "movielens":
        return load_demo_shop(settings)
    if name == "hillstrom":
        return load_hillstrom_shop(settings)
    return load_stored_shop(settings, name)


def shop_cleaning_report(settings: Settings, name: str) -> CleaningReport:
    """Return how a shop's data was cleaned (every rule, rows dropped or fixed, and why).

    Raises:
        ShopDataError: unknown name, or the shop's data is missing.
    """
    name = check_shop_name(settings, name)
    if name == "retail":
        return retail_cleaning_report(settings)
    if name == "movielens":
        return load_movielens(settings)[1]
    if name == "hillstrom":
        return hillstrom_cleaning_report(settings)
    return cleaning_report(settings, name)
