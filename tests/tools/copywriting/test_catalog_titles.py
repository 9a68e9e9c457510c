"""Other products' names in copy: what the copy validator and the grounding scorer both flag."""

from types import SimpleNamespace

import pandas as pd

from tools.copywriting import CatalogTitles, shop_titles
from tools.shop import Product

PRODUCTS = [Product(product_id="1", title="Star Kid (1997)", genres=["Adventure"]),
            Product(product_id="2", title="Kids (1995)", genres=["Drama"]),
            Product(product_id="3", title="Heat (1995)", genres=["Action"]),
            Product(product_id="4", title="Star Wars (1977)", genres=["Sci-Fi"]),
            Product(product_id="5", title="Drama (1990)", genres=["Drama"])]


def test_another_title_is_found_but_not_the_own_name_a_sentence_start_or_a_genre():
    titles = CatalogTitles(PRODUCTS)
    assert titles.other_titles("A brave boy and his Kids save the day.", "1") == ["Kids"]
    assert titles.other_titles("Star Kid (1997) is back.", "1") == []  # its own name holds "Kid", not "Kids"
    assert titles.other_titles("Heat is back. Tonight, see Heat.", "1") == ["Heat"]  # not at a sentence start
    assert titles.other_titles("A Drama for the weekend.", "1") == []  # a genre word is no title
    assert titles.other_titles("kids love it", "1") == []  # case-sensitive: an ordinary word
    assert CatalogTitles([]).other_titles("Kids", "1") == []


def test_a_shops_names_are_built_once_per_products_table():
    frame = pd.DataFrame([p.model_dump() for p in PRODUCTS])
    shop = SimpleNamespace(products=frame)
    first = shop_titles(shop)
    assert shop_titles(SimpleNamespace(products=frame)) is first
    assert shop_titles(SimpleNamespace(products=frame.copy())) is not first
    assert first.other_titles("See Heat and Kids tonight", "4") == ["Heat", "Kids"]
