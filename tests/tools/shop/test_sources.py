"""Real sources brought into the shop schema, with their cleaning reports."""

from __future__ import annotations

from agent.settings import Settings
from tools.shop.clothing_catalog import load_clothing_catalog
from tools.shop.schema import EVENT_TYPES
from tools.shop.sources import load_campaign_log, load_cdnow, load_movielens


def test_cdnow_purchases_keep_money_and_report_cleaning(settings: Settings) -> None:
    shop, report = load_cdnow(settings)
    assert len(shop.interactions) == 69_659 and len(shop.customers) == 23_570
    assert shop.has_monetary and shop.products.empty
    assert set(shop.interactions["event_type"]) == {"purchase"}
    assert round(shop.interactions["value"].sum(), 2) == 2_500_315.63
    assert shop.customers["customer_id"].str.fullmatch(r"c_[0-9a-f]{16}").all()
    assert shop.customers[["age", "gender", "occupation", "region"]].isna().all().all()  # none invented
    counts = report.counts()
    assert counts["events: identical rows (kept)"] == 255
    assert counts["events: zero amount (flagged)"] == 80
    assert counts["events: outlier amount (flagged)"] == 70
    assert report.dropped("events") == 0 and report.rows_out["events"] == 69_659


def test_clothing_catalog_has_real_items_and_anonymous_reviews(settings: Settings) -> None:
    catalog = load_clothing_catalog(settings)
    assert len(catalog.reviews) == 23_486 - 21  # exact duplicates dropped
    assert len(catalog.products) == 1_206 and catalog.products["product_id"].is_unique
    assert "customer_id" not in catalog.reviews.columns
    assert catalog.reviews["reviewer_age"].between(18, 99).all()
    counts = catalog.report.counts()
    assert counts["reviews: duplicate rows (dropped)"] == 21
    imputed = [s for s in catalog.report.steps if s.action == "imputed" and s.column == "Department Name"]
    assert [s.rows for s in imputed] == [0, 14]  # no other review names the 7 items' department
    item = catalog.products.set_index("product_id").loc["1077"]
    assert item["genres"] == ["Dresses"] and item["title"] == "Dresses item 1077"
    assert isinstance(item["description"], str) and len(item["description"]) > 20
    assert (catalog.products["genres"].map(lambda g: "Uncategorised" in g)).sum() == 7


def test_open_bandit_log_has_propensities(settings: Settings) -> None:
    log, report = load_campaign_log(settings, "bts", "men")
    assert len(log) == 10_000 and report.dropped("impressions") == 0
    assert ((log["propensity"] > 0) & (log["propensity"] <= 1)).all()
    assert set(log["position"]) == {1, 2, 3} and set(log["clicked"]) <= {0, 1}
    assert log["customer_id"].isna().all() and log["context"].str.count(r"\|").eq(3).all()
    random, _ = load_campaign_log(settings, "random", "all")
    assert random["propensity"].round(6).eq(0.0125).all()  # uniform over 80 items
    assert any("affinity" in note for note in report.notes)


def test_movielens_checks_run_and_find_it_clean(settings: Settings) -> None:
    shop, report = load_movielens(settings)
    assert len(shop.interactions) == 100_000 and report.dropped("events") == 0
    assert set(EVENT_TYPES) >= {"rating", "purchase"}
