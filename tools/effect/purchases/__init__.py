"""Purchases on a shop of orders: next-30-day propensity and revenue per customer, product ranking, evaluation.

No campaign exposures exist in the retail data: these models predict organic purchase propensity, not the effect
of a message. See :mod:`tools.effect.purchases.propensity` for what is predicted, from what, and how.
"""

from tools.effect.purchases.evaluation import (
    METRIC_KEYS,
    bench_shop,
    evaluate_later_file,
    purchase_metrics,
    score_period,
)
from tools.effect.purchases.history import (
    DEV_END,
    LINE_COLUMNS,
    VALIDATION_CUT,
    clean_later_lines,
    read_later_file,
    shop_history,
)
from tools.effect.purchases.plan_effect import PurchaseEffect, orders_fingerprint
from tools.effect.purchases.propensity import (
    PurchaseModel,
    category_propensity,
    customer_features,
    next_period,
    product_propensity,
)
from tools.effect.purchases.ranking import NextMonthRanker, personal_frequency, popularity, ranking_metrics

__all__ = [
    "DEV_END",
    "LINE_COLUMNS",
    "METRIC_KEYS",
    "VALIDATION_CUT",
    "NextMonthRanker",
    "PurchaseEffect",
    "PurchaseModel",
    "bench_shop",
    "category_propensity",
    "clean_later_lines",
    "customer_features",
    "evaluate_later_file",
    "next_period",
    "orders_fingerprint",
    "personal_frequency",
    "popularity",
    "product_propensity",
    "purchase_metrics",
    "ranking_metrics",
    "read_later_file",
    "score_period",
    "shop_history",
]
