"""Other products' names in copy: a message about one product must not name another product of the shop.

A small model borrows words from its prompt and its training, and some of them are other catalog titles ("Kids"
in a message about "Star Kid", "Heat", "Seven"). The copy validator rejects such a draft (so another candidate or
the fact template is used) with the same check the eval's grounding scorer applies, so what the scorer would flag
never reaches a plan.

Matching is case-sensitive, on letter boundaries, over each product's display title and the display title
without a trailing parenthesis ("Seven (Se7en)" → "Seven"); names shorter than :data:`MIN_TITLE_CHARS` and
names that are genres or categories ("Comedy") are not titles here. A one-word title at the start of a sentence is
ignored, since any capitalised word could be one there.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Iterable

from tools.copywriting.grounding import bare_title, display_title, title_names
from tools.shop import Product, Shop, product_model

MIN_TITLE_CHARS = 4
"""Shortest name counted as a title (shorter ones are ordinary words)."""

_EDGE_L, _EDGE_R = r"(?<![A-Za-z0-9])", r"(?![A-Za-z0-9])"
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\n。！？：]\s*)$")


class CatalogTitles:
    """The names of a shop's products, to spot other products named in a message.

    Args:
        products: The catalog's products (id, title, genres).
    """

    def __init__(self, products: Iterable[Product]) -> None:
        products = list(products)
        self._titles = {p.product_id: p.title for p in products}
        genres = {g.casefold() for p in products for g in p.genres}
        self._by_name: dict[str, set[str]] = {}
        for product in products:
            for name in {display_title(product.title), bare_title(product.title)}:
                if len(name) >= MIN_TITLE_CHARS and name.casefold() not in genres:
                    self._by_name.setdefault(name, set()).add(product.product_id)
        names = sorted(self._by_name, key=len, reverse=True)
        self._pattern = re.compile(_EDGE_L + "(" + "|".join(map(re.escape, names)) + ")" + _EDGE_R) if names else None

    def other_titles(self, text: str, product_id: str) -> list[str]:
        """Return the names of catalog products other than ``product_id`` that ``text`` contains, first seen first.

        The product's own names (:func:`tools.copywriting.title_names`) are blanked first, so a title inside
        its own name ("Star Wars" in "Star Wars: Episode IV") is not another product.
        """
        if self._pattern is None:
            return []
        own = self._titles.get(product_id)
        if own is not None:
            for name in sorted(title_names(own), key=len, reverse=True):
                text = text.replace(name, " ")
        found = []
        for match in self._pattern.finditer(text):
            name = match.group(1)
            if " " not in name and _SENTENCE_START.search(text[: match.start()]):
                continue
            if product_id not in self._by_name[name]:
                found.append(name)
        return list(dict.fromkeys(found))


# id of a products table → (a weak reference to it, its names): a table's names are built once while it lives.
_BUILT: dict[int, tuple[weakref.ref[object], CatalogTitles]] = {}
_LOCK = threading.Lock()


def shop_titles(shop: Shop) -> CatalogTitles:
    """Return the product names of ``shop``, built once per products table (kept while the table lives).

    Args:
        shop: The shop (its ``products`` table: product_id, title, genres).
    """
    frame = shop.products
    with _LOCK:
        built = _BUILT.get(id(frame))
        if built is not None and built[0]() is frame:
            return built[1]
    titles = CatalogTitles(map(product_model, frame.to_dict("records")))
    with _LOCK:
        for key in [k for k, (ref, _) in _BUILT.items() if ref() is None]:
            del _BUILT[key]
        _BUILT[id(frame)] = (weakref.ref(frame), titles)
    return titles
