"""The real Online Retail shop and its cleaning report, built once for the retail tests."""

from __future__ import annotations

import pandas as pd
import pytest

from agent.settings import Settings
from tools.shop.cleaning import CleaningReport
from tools.shop.retail import RETAIL_FILE, load_retail_shop, retail_cleaning_report
from tools.shop.shop_data import Shop


@pytest.fixture(scope="session")
def retail_shop(settings: Settings) -> Shop:
    return load_retail_shop(settings)


@pytest.fixture(scope="session")
def retail_report(settings: Settings) -> CleaningReport:
    return retail_cleaning_report(settings)


@pytest.fixture(scope="session")
def retail_raw(settings: Settings) -> pd.DataFrame:
    """The source rows as published, read directly (for checks independent of the loader)."""
    return pd.read_parquet(settings.shared_data_dir / RETAIL_FILE)


@pytest.fixture(scope="session")
def retail_orders(retail_shop: Shop) -> pd.DataFrame:
    assert retail_shop.orders is not None
    return retail_shop.orders


@pytest.fixture(scope="session")
def retail_price_history(retail_shop: Shop) -> pd.DataFrame:
    assert retail_shop.price_history is not None
    return retail_shop.price_history
