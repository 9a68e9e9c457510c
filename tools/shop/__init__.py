"""A shop's data and where it comes from.

A shop's data: the schema every shop is validated against, the loaders (the MovieLens demo shop, CDNOW, the
clothing catalog, Open Bandit logs), dataset fetching, cleaning reports and the library of imported shops.
"""

from tools.shop.datasets import OBD_CAMPAIGNS, OBD_POLICIES, DatasetFetchError, fetch_datasets
from tools.shop.directory import ShopInfo, check_shop_name, list_shops, load_shop, shop_cleaning_report, shop_names
from tools.shop.hillstrom import ARM_PRODUCTS, HILLSTROM_SHOP_NAME, MENS_EMAIL, WOMENS_EMAIL, load_hillstrom_shop
from tools.shop.library import SHOP_NAME_PATTERN, erase_from_shops, ingest_shop_files
from tools.shop.product_naming import CatalogCoverage, Coverage
from tools.shop.retail import RETAIL_SHOP_NAME, load_retail_shop, retail_catalog_coverage, retail_cleaning_report
from tools.shop.retail_cleaning import RAW_COLUMNS
from tools.shop.schema import LIKED_RATING, Offer, OrderLine, Product, ShopDataError
from tools.shop.shop_data import OUTSIDE_US, Shop, load_demo_shop, product_model, pseudonymise

__all__ = [
    "ARM_PRODUCTS",
    "HILLSTROM_SHOP_NAME",
    "LIKED_RATING",
    "MENS_EMAIL",
    "OBD_CAMPAIGNS",
    "OBD_POLICIES",
    "OUTSIDE_US",
    "RAW_COLUMNS",
    "RETAIL_SHOP_NAME",
    "SHOP_NAME_PATTERN",
    "WOMENS_EMAIL",
    "CatalogCoverage",
    "Coverage",
    "DatasetFetchError",
    "Offer",
    "OrderLine",
    "Product",
    "Shop",
    "ShopDataError",
    "ShopInfo",
    "check_shop_name",
    "erase_from_shops",
    "fetch_datasets",
    "ingest_shop_files",
    "list_shops",
    "load_demo_shop",
    "load_hillstrom_shop",
    "load_retail_shop",
    "load_shop",
    "product_model",
    "pseudonymise",
    "retail_catalog_coverage",
    "retail_cleaning_report",
    "shop_cleaning_report",
    "shop_names",
]
