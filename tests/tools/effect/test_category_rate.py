"""CategoryPurchaseRate on real Online Retail rows, checked against hand computations with pandas.

The fixture builds a Shop from data/online_retail_dev.parquet itself (the retail loader is separate work): every
registered customer; one purchase event per uncancelled order line with positive quantity and price (through
the shop's own :func:`events_from_orders`); products named by their most frequent Description. The category is
DERIVED for the test only: the last word of that Description (e.g. "... T-LIGHT HOLDER" → "Holder"); the
non-merchandise codes (postage, manual, carriage, fees: codes not starting with a digit) get no category.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from agent.settings import Settings
from tools.effect import CategoryPurchaseRate, EffectRequest
from tools.effect.category_rate import METRIC
from tools.shop import Shop
from tools.shop.shop_data import events_from_orders

WINDOW_S = 30 * 86_400
HEART_HOLDER = "85123A"  # WHITE HANGING HEART T-LIGHT HOLDER, category "Holder"
POSTAGE = "POST"  # no category: its own


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return pd.read_parquet(Settings().shared_data_dir / "online_retail_dev.parquet")


@pytest.fixture(scope="module")
def shop(raw: pd.DataFrame) -> Shop:
    registered = raw[raw["CustomerID"].notna()]
    lines = registered[(registered["Quantity"] > 0) & (registered["UnitPrice"] > 0)]
    orders = pd.DataFrame({
        "customer_id": lines["CustomerID"].astype(str), "product_id": lines["StockCode"],
        "cancelled": lines["InvoiceNo"].str.startswith("C"), "timestamp": lines["InvoiceDate"].astype("int64") // 10**9,
        "quantity": lines["Quantity"], "unit_price": lines["UnitPrice"],
    })  # fmt: skip
    title = lines.groupby("StockCode")["Description"].agg(lambda s: s.mode().iat[0])
    merchandise = title.index.str[0].str.isdigit()
    products = pd.DataFrame({
        "product_id": title.index, "title": title.to_numpy(), "year": pd.array([None] * len(title), dtype="Int64"),
        "genres": [[] for _ in title], "category": np.where(merchandise, title.str.split().str[-1].str.title(), None),
    })  # fmt: skip
    customers = pd.DataFrame({"customer_id": sorted(registered["CustomerID"].astype(str).unique())})
    return Shop(name="retail-test", customers=customers, products=products, interactions=events_from_orders(orders))


@pytest.fixture(scope="module")
def tool(shop: Shop) -> CategoryPurchaseRate:
    return CategoryPurchaseRate(shop)


@pytest.fixture(scope="module")
def windows(shop: Shop) -> pd.DataFrame:
    """Every purchase with its category key and 30-day window (0 = the last 30 days to Shop.today), by hand."""
    products = shop.products.set_index("product_id")
    key = products["category"].where(products["category"].notna(), "own:" + products.index.to_series())
    events = shop.interactions
    return pd.DataFrame({
        "customer_id": events["customer_id"], "product_id": events["product_id"],
        "key": events["product_id"].map(key), "w": (int(shop.today.timestamp()) - events["timestamp"]) // WINDOW_S,
    })  # fmt: skip


def hand_rates(windows: pd.DataFrame, customers: list[str], key: str) -> pd.Series:
    """Each customer's share of windows (from their first purchase's) with a purchase of ``key``; no history: absent."""
    first = windows.groupby("customer_id")["w"].max()
    hits = windows[windows["key"] == key].groupby("customer_id")["w"].nunique()
    known = [c for c in customers if c in first.index]
    return hits.reindex(known, fill_value=0) / (first[known] + 1)


def customers_of(raw: pd.DataFrame, country: str) -> list[str]:
    return sorted(raw.loc[(raw["Country"] == country) & raw["CustomerID"].notna(), "CustomerID"].astype(str).unique())


def test_point_is_the_mean_of_each_customers_share_of_windows(tool, raw, windows) -> None:
    germany = customers_of(raw, "Germany")
    jumbo_bag = "85099B"  # JUMBO BAG RED RETROSPOT, category "Retrospot" (the test's last-word rule)
    result = tool.predict(EffectRequest(customer_ids=germany, product_ids=[HEART_HOLDER, jumbo_bag]))
    holder, jumbo = result.estimates
    expected = hand_rates(windows, germany, "Holder")
    assert len(germany) > 50 and holder.n_customers == len(expected)
    assert holder.point == pytest.approx(expected.mean()) and 0 < holder.point < 1
    assert jumbo.point == pytest.approx(hand_rates(windows, germany, "Retrospot").mean())
    assert holder.metric == METRIC and "not a causal prediction" in holder.metric
    assert holder.already_rated == 0  # no German customer bought this holder; the rate is the category's
    assert f"this group bought Holder in {holder.point:.1%}" in holder.factors[0]
    everyone = hand_rates(windows, list(windows["customer_id"].unique()), "Holder").mean()
    assert f"vs {everyone:.1%} for all" in holder.factors[0]
    recent = windows.loc[(windows["key"] == "Holder") & (windows["w"] == 0), "customer_id"].nunique()
    assert holder.factors[1].startswith(f"category Holder: {recent:,} buyers in the last 30 days")


def test_products_of_one_category_share_the_estimate(tool, raw) -> None:
    holders = ["85123A", "21733"]  # WHITE and RED HANGING HEART T-LIGHT HOLDER
    one, two = tool.predict(EffectRequest(customer_ids=customers_of(raw, "France"), product_ids=holders)).estimates
    assert (one.point, one.low, one.high) == (two.point, two.low, two.high)


def test_interval_holds_the_point_and_is_seeded(tool, raw) -> None:
    request = EffectRequest(customer_ids=customers_of(raw, "France"), product_ids=[HEART_HOLDER, POSTAGE])
    first, again = tool.predict(request), tool.predict(request)
    for estimate in first.estimates:
        assert estimate.low < estimate.point < estimate.high
    assert first == again
    solo = tool.predict(EffectRequest(customer_ids=request.customer_ids[:1], product_ids=[HEART_HOLDER])).estimates[0]
    assert solo.low == solo.point == solo.high and solo.factors[0].startswith("this customer bought Holder")


def test_many_products_for_two_thousand_customers_match_by_hand(tool, shop, windows) -> None:
    rng = np.random.default_rng(7)
    customers = list(rng.choice(shop.customers["customer_id"], 2000, replace=False))
    products = list(rng.choice(shop.products["product_id"], 100, replace=False))
    estimates = tool.predict(EffectRequest(customer_ids=customers, product_ids=products)).estimates
    keys = windows.drop_duplicates("product_id").set_index("product_id")["key"]
    assert [e.product_id for e in estimates] == products
    for estimate in estimates[:20]:
        key = keys.get(estimate.product_id)
        assert key is not None
        assert estimate.point == pytest.approx(hand_rates(windows, customers, key).mean())


def test_product_without_category_is_its_own(tool, raw, windows) -> None:
    uk = customers_of(raw, "United Kingdom")[:300]
    postage = tool.predict(EffectRequest(customer_ids=uk, product_ids=[POSTAGE])).estimates[0]
    assert postage.point == pytest.approx(hand_rates(windows, uk, "own:POST").mean())
    assert '"POSTAGE" (no category: the product itself)' in postage.factors[0]
    assert postage.factors[1].startswith('"POSTAGE" (no category: the product itself): ')


def test_customers_without_purchases_are_left_out_and_said_so(tool, shop, raw, windows) -> None:
    buyers = set(windows["customer_id"])
    never = [c for c in shop.customers["customer_id"] if c not in buyers]  # registered, only cancelled lines
    assert len(never) > 5
    alone = tool.predict(EffectRequest(customer_ids=never, product_ids=[HEART_HOLDER])).estimates[0]
    assert (alone.point, alone.low, alone.high, alone.n_customers) == (0.0, 0.0, 0.0, 0)
    assert "has no purchase in the history, so no observed rate" in alone.factors[0]
    germany = customers_of(raw, "Germany")
    never = [c for c in never if c not in germany]
    mixed = tool.predict(EffectRequest(customer_ids=germany + never[:5], product_ids=[HEART_HOLDER])).estimates[0]
    plain = tool.predict(EffectRequest(customer_ids=germany, product_ids=[HEART_HOLDER])).estimates[0]
    assert mixed.point == pytest.approx(plain.point) and mixed.n_customers == plain.n_customers
    assert mixed.factors[-1] == (f"{5 + len(germany) - plain.n_customers} of {len(germany) + 5} customers have no "
                                 "purchase in the history: left out of the rate")  # fmt: skip


def test_already_rated_counts_earlier_buyers_without_zeroing_them(tool, raw, windows) -> None:
    germany = customers_of(raw, "Germany")
    bought = windows[windows["customer_id"].isin(germany)]
    favourite = bought.groupby("product_id")["customer_id"].nunique().idxmax()  # most German buyers
    request = EffectRequest(customer_ids=germany, product_ids=[favourite, HEART_HOLDER])
    estimate, holder = tool.predict(request).estimates
    earlier = bought.loc[bought["product_id"] == favourite, "customer_id"]
    assert estimate.already_rated == earlier.nunique() > 1 and holder.already_rated == 0
    key = windows.loc[windows["product_id"] == favourite, "key"].iat[0]
    assert estimate.point == pytest.approx(hand_rates(windows, germany, key).mean())  # earlier buyers not zeroed
    assert estimate.factors[2].startswith(f"{earlier.nunique()} of {len(germany)} customers have bought this product")
    repeat = tool.predict(EffectRequest(customer_ids=[earlier.iat[0]], product_ids=[favourite])).estimates[0]
    assert repeat.already_rated == 1 and repeat.point > 0  # their own purchases count, not 0
    assert repeat.factors[2].startswith("this customer has bought this product before")


def test_unknown_ids_raise(tool, raw) -> None:
    germany = customers_of(raw, "Germany")[:3]
    with pytest.raises(ValueError, match="unknown customer ids: \\['nobody'\\]"):
        tool.predict(EffectRequest(customer_ids=[*germany, "nobody"], product_ids=[HEART_HOLDER]))
    with pytest.raises(ValueError, match="unknown product ids: \\['no-such-product'\\]"):
        tool.predict(EffectRequest(customer_ids=germany, product_ids=["no-such-product", HEART_HOLDER]))


def test_model_card_says_what_it_is(tool, shop) -> None:
    card = tool.model_card
    assert card["caveat"] == "observed history, not a model of what a message causes"
    assert card["window_days"] == 30 and card["as_of"] == shop.today.isoformat() == "2011-11-08T17:42:00+00:00"
    assert card["data"]["purchase_events"] == len(shop.interactions)
    assert card["data"]["customers_with_purchases"] < card["data"]["customers"] == len(shop.customers)
    assert card["data"]["products_without_category"] == int(shop.products["category"].isna().sum()) > 0
    assert card["metric"] == METRIC


def test_a_shop_without_purchases_is_refused(shop) -> None:
    ratings_only = dataclasses.replace(shop, interactions=shop.interactions.drop(columns="event_type"))
    with pytest.raises(ValueError, match="has no purchase events"):
        CategoryPurchaseRate(ratings_only)
