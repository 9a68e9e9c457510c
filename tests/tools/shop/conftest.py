"""The real Online Retail shop and its cleaning report, built once for the retail tests."""

from __future__ import annotations

import pandas as pd
import pytest

from agent.settings import Settings
from tools.shop.cleaning import CleaningReport
from tools.shop.retail import RETAIL_FILE, load_retail_shop, retail_cleaning_report
from tools.shop.shop_data import Shop


@pytest.fixture(scope="session")
def retail_settings(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings whose data folder is empty, so the retail shop is built from the file, not read from a cache."""
    return settings.model_copy(update={"home": tmp_path_factory.mktemp("retail-home")})


@pytest.fixture(scope="session")
def retail_shop(retail_settings: Settings) -> Shop:
    return load_retail_shop(retail_settings)


@pytest.fixture(scope="session")
def retail_report(retail_settings: Settings, retail_shop: Shop) -> CleaningReport:
    return retail_cleaning_report(retail_settings)  # read from the cache the shop's build wrote


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
