"""Recommendation from purchases as implicit feedback (the retail shop): repeat purchases are counted, kept
when asked, and reasons speak of buying, not rating."""

from __future__ import annotations

from tools.recommend import RecommendRequest
from tools.recommend.interactions import InteractionMatrix


def test_purchase_counts_are_kept_beside_the_binary_matrix(retail_shop):
    matrix = InteractionMatrix.from_shop(retail_shop)
    assert matrix.purchases and matrix.implicit.max() == 1.0
    events = retail_shop.interactions
    pair = events.groupby(["customer_id", "product_id"]).size().idxmax()  # the most repeated purchase
    times = int(events.groupby(["customer_id", "product_id"]).size().max())
    row, col = matrix.rows([pair[0]])[0], matrix.product_ids.get_loc(pair[1])
    assert times > 10 and matrix.ratings[row, col] == times


def test_repeat_buyers_keep_what_they_buy_and_reasons_say_bought(retail_tools):
    shop = retail_tools.shop
    counts = shop.interactions.groupby("customer_id")["product_id"].nunique()
    customer = counts.idxmax()  # a wholesaler buying many lines
    bought = set(shop.interactions.loc[shop.interactions["customer_id"] == customer, "product_id"])
    fresh = retail_tools.recommend.score(RecommendRequest(customer_ids=[customer], k=20))
    again = retail_tools.recommend.score(RecommendRequest(customer_ids=[customer], k=20, exclude_seen=False))
    assert not bought & {p.product_id for p in fresh.products}
    assert bought & {p.product_id for p in again.products}
    reasons = [p.reason for p in again.products]
    assert all("rated" not in r for r in reasons) and any("because you bought" in r for r in reasons)
