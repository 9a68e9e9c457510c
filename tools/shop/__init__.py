"""A shop's data and where it comes from.

A shop's data: the schema every shop is validated against, the loaders (the MovieLens demo shop, CDNOW, the
clothing catalog, Open Bandit logs), dataset fetching, cleaning reports and the library of imported shops.
"""

from tools.shop.datasets import OBD_CAMPAIGNS, OBD_POLICIES, DatasetFetchError, fetch_datasets
from tools.shop.library import SHOP_NAME_PATTERN, erase_from_shops, ingest_shop_files
from tools.shop.schema import LIKED_RATING, Offer, OrderLine, Product, ShopDataError
from tools.shop.shop_data import OUTSIDE_US, Shop, load_demo_shop

__all__ = [
    "LIKED_RATING",
    "OBD_CAMPAIGNS",
    "OBD_POLICIES",
    "OUTSIDE_US",
    "SHOP_NAME_PATTERN",
    "DatasetFetchError",
    "Offer",
    "OrderLine",
    "Product",
    "Shop",
    "ShopDataError",
    "erase_from_shops",
    "fetch_datasets",
    "ingest_shop_files",
    "load_demo_shop",
]
