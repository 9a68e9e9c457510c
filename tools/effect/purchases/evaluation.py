"""Evaluate the purchase models on a later period: a file of the same format, or a month carved from the dev data.

Metrics (:data:`METRIC_KEYS`): ``customers`` known before the period, ``buyers`` among them, ``auc_buy`` of the
calibrated P(buy in 30 days), ``recall_at_10``/``ndcg_at_10``/``hit_at_10`` of the product ranking over the
customers who bought in the period (the products they bought against our top 10), and ``revenue_mae``: mean
absolute error of the predicted period revenue per customer over every known customer, zeros included (the
prediction scored is the median of the predicted revenue, which minimises absolute error; plans use the mean).
Customers not seen before the period are ignored throughout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from agent.settings import Settings
from tools.effect.calibration import calibration_error
from tools.effect.purchases.history import DAY, DEV_END, VALIDATION_CUT, read_later_file, shop_history
from tools.effect.purchases.propensity import (
    MIN_FEATURE_DAYS,
    WITH_RANKER,
    PurchaseModel,
    customer_features,
    model_features,
    monthly_cuts,
    next_period,
    purchase_classifier,
    stacked_examples,
)
from tools.effect.purchases.ranking import NextMonthRanker, personal_frequency, popularity, ranking_metrics
from tools.shop import ShopDataError, load_retail_shop

METRIC_KEYS = ("customers", "buyers", "auc_buy", "recall_at_10", "ndcg_at_10", "hit_at_10", "revenue_mae")
K = 10
MONTHS_BACK = 6
"""Months :func:`auc_by_month` scores, the validation month and the five before it."""


def purchase_metrics(bought: np.ndarray, p_buy: np.ndarray, revenue: np.ndarray,
                     expected_revenue: np.ndarray) -> dict[str, float]:
    """Return ``auc_buy`` (ROC AUC of P(buy); NaN with one class) and ``revenue_mae`` (zeros included).

    Args:
        bought: 1 if the customer bought in the period, else 0.
        p_buy: Predicted probability of buying.
        revenue: Actual period revenue (0 for non-buyers).
        expected_revenue: Predicted period revenue.
    """
    y = np.asarray(bought)
    auc = float(roc_auc_score(y, p_buy)) if 0 < y.sum() < len(y) else float("nan")
    return {"auc_buy": auc, "revenue_mae": float(np.mean(np.abs(np.asarray(revenue) - np.asarray(expected_revenue))))}


def _truth(period: pd.DataFrame, known: pd.Index) -> dict[str, set[str]]:
    """Return the products each known customer bought in the period."""
    bought = period[period["customer_id"].isin(known)]
    return {str(c): set(p) for c, p in bought.groupby("customer_id")["product_id"]}


def _rank(orders: pd.DataFrame, cut: int, customers: list[str], categories: pd.Series) -> dict[str, list[str]]:
    """Return our top-``K`` products per customer from the next-month ranker fitted on orders before ``cut``."""
    ranker = NextMonthRanker(categories=categories).fit(orders, pd.Timestamp(cut, unit="s"))
    return ranker.recommend(customers, K)


Ranker = Callable[[pd.DataFrame, int, list[str], pd.Series], dict[str, list[str]]]
"""(orders, cut, customers, categories) → top-``K`` products per customer, from orders before the cut."""


def score_period(orders: pd.DataFrame, categories: pd.Series, cut: int, period: pd.DataFrame,
                 with_baselines: bool = False, rank: Ranker | None = None) -> dict[str, Any]:
    """Train on the shop's lines before ``cut`` and score the period's lines for customers known before it.

    Args:
        orders: The retail shop's orders (only lines before ``cut`` are used for training).
        categories: product_id → category.
        cut: Start of the period (unix s).
        period: Purchase lines of the period (:data:`~tools.effect.purchases.history.LINE_COLUMNS`).
        with_baselines: Also measure the personal-frequency and popularity rankings and frequency-alone AUC.
        rank: The product ranking to measure (default: the next-month ranker, :class:`NextMonthRanker`).

    Returns:
        :data:`METRIC_KEYS`, plus ``details`` (calibration, ECE, timing) and ``baselines`` if asked.
    """
    started = time.perf_counter()
    history = shop_history(orders, cut)
    model = PurchaseModel.fit(history, cut, categories)
    scores = model.predict(history)
    known = scores.index
    outcome = next_period(period, cut, known, days=10_000)  # the whole period, however long
    y, revenue = outcome["buy"].to_numpy(), outcome["revenue"].to_numpy()
    trained = time.perf_counter()
    truth = _truth(period, known)
    buyers = sorted(truth)
    ranking = ranking_metrics((rank or _rank)(orders, cut, buyers, categories), truth, K)
    ranked = time.perf_counter()
    two_classes = 0 < y.sum() < len(y)
    # MAE is minimised by the median, not the mean: revenue_mae scores the predicted median revenue.
    metrics = purchase_metrics(y, scores["p_buy"].to_numpy(), revenue, scores["median_revenue"].to_numpy())
    result: dict[str, Any] = {
        "customers": len(known),
        "buyers": int(y.sum()),
        "auc_buy": metrics["auc_buy"],
        "recall_at_10": ranking["recall_at_10"],
        "ndcg_at_10": ranking["ndcg_at_10"],
        "hit_at_10": ranking["hit_at_10"],
        "revenue_mae": metrics["revenue_mae"],
    }
    details: dict[str, Any] = {
        "model": model.card()["calibration"],
        "ece_raw": calibration_error(y, scores["p_raw"].to_numpy(), strategy="quantile"),
        "ece_calibrated": calibration_error(y, scores["p_buy"].to_numpy(), strategy="quantile"),
        "auc_raw": float(roc_auc_score(y, scores["p_raw"])) if two_classes else float("nan"),
        "interval_90_covers_bin_rate": _interval_coverage(y, scores),
        "mean_interval_width": float((scores["p_high"] - scores["p_low"]).mean()),
        "revenue_mae_predict_zero": float(np.mean(revenue)),
        "revenue_mae_of_expected_revenue": float(np.mean(np.abs(revenue - scores["expected_revenue"].to_numpy()))),
        "revenue_mae_is_of": "the predicted median revenue (0 unless P(buy) ≥ 0.5), which minimises absolute error; "
                             "plans add up the expected (mean) revenue",
        "seconds_purchase_model": round(trained - started, 1),
        "seconds_ranking": round(ranked - trained, 1),
    }
    result["details"] = details
    if with_baselines:
        cut_ts = pd.Timestamp(cut, unit="s")
        frequency = customer_features(history, cut)["invoices"].reindex(known)
        result["baselines"] = {
            "personal_frequency": ranking_metrics(personal_frequency(orders, cut_ts, buyers, K), truth, K),
            "popularity": ranking_metrics({c: popularity(orders, cut_ts, K) for c in buyers}, truth, K),
            "purchase_frequency_auc_buy": float(roc_auc_score(y, frequency)) if two_classes else float("nan"),
        }
    return result


def auc_by_month(lines: pd.DataFrame, cut: int, categories: pd.Series | None, months: int = MONTHS_BACK,
                 days: int = 31, with_ranker: bool = WITH_RANKER, seed: int = 0) -> list[dict[str, Any]]:
    """Score the purchase classifier month by month, each month trained only on the months before it.

    The months start at ``cut`` and every 30 days before it. The month starting at ``cut`` is ``days`` long, the
    earlier ones 30 days, and a month is scored by the classifier of :class:`PurchaseModel` trained on the monthly
    cuts before it. Those cuts' labels end by the month's start, and each cut has ``MIN_FEATURE_DAYS`` of history
    before it. The scores are raw: :meth:`PurchaseModel.fit` holds its latest month out for the calibrator. Beside
    each AUC is purchase frequency alone (invoices before the month), which shows how hard the month is.

    Args:
        lines: Purchase lines, through the end of the month starting at ``cut``.
        cut: Start of the latest month scored (unix s).
        categories: Optional product_id → category (the model's category features).
        months: How many months to score; those with fewer than two earlier cuts are skipped.
        days: Length of the month starting at ``cut``.
        with_ranker: Include the ranker features (as the shipped model does).
        seed: Seed of the classifier.

    Returns:
        One dict per scored month, the latest first: ``month`` (its first day), ``trained_on_months``,
        ``customers``, ``buyers``, ``auc_buy`` and ``purchase_frequency_auc_buy``.
    """
    start = int(lines["timestamp"].min())
    cuts = [cut, *monthly_cuts(cut, start)]
    if cut - start < MIN_FEATURE_DAYS * DAY or len(cuts) < 3:
        return []  # no month with two earlier training months
    feats = model_features(lines, cut, categories, with_ranker)
    latest = feats.join(next_period(lines, cut, feats.index, days=days)).assign(cut=cut)
    columns = [c for c in latest.columns if c not in ("buy", "revenue", "cut")]
    examples = pd.concat([latest, stacked_examples(lines, cuts[1:], categories, with_ranker)])
    examples = examples.reindex(columns=[*columns, "buy", "cut"], fill_value=0.0)
    out = []
    for i, month in enumerate(cuts[:months]):
        if len(cuts) - i - 1 < 2:
            break
        train = examples[examples["cut"] < month]  # cuts 30 days or more before: labels end by the month's start
        scored = examples[examples["cut"] == month]
        y = scored["buy"].to_numpy()
        both = 0 < y.sum() < len(y)
        with threadpool_limits(1):
            p = purchase_classifier(seed).fit(train[columns], train["buy"]).predict_proba(scored[columns])[:, 1]
        out.append({
            "month": pd.Timestamp(month, unit="s").date().isoformat(),
            "trained_on_months": len(cuts) - i - 1,
            "customers": len(scored), "buyers": int(y.sum()),
            "auc_buy": round(float(roc_auc_score(y, p)), 4) if both else float("nan"),
            "purchase_frequency_auc_buy":
                round(float(roc_auc_score(y, scored["invoices"])), 4) if both else float("nan"),
        })
    return out


def _interval_coverage(y: np.ndarray, scores: pd.DataFrame, n_bins: int = 10) -> float:
    """Share of equal-mass bins of P(buy) whose observed buy rate lies inside the bin's mean 90% interval."""
    order = np.argsort(scores["p_buy"].to_numpy(), kind="stable")
    inside = []
    for chunk in np.array_split(order, n_bins):
        rate = y[chunk].mean()
        inside.append(scores["p_low"].to_numpy()[chunk].mean() <= rate <= scores["p_high"].to_numpy()[chunk].mean())
    return float(np.mean(inside))


def evaluate_later_file(path: Path, settings: Settings, rank: Ranker | None = None) -> dict[str, Any]:
    """Score a later-period file in the format of ``online_retail_dev.parquet`` with models trained on all dev data.

    The models are trained on the retail shop's history up to :data:`DEV_END` (2011-11-09), or up to the file's
    first line if the file starts earlier (so its lines are never in training); the file is cleaned
    by :func:`~tools.effect.purchases.history.clean_later_lines`; customers not in the dev history are ignored.

    Args:
        path: The later file (parquet, or CSV with the same columns).
        settings: Project settings (data folder, pseudonym key).
        rank: The product ranking (default: the next-month ranker).

    Returns:
        Exactly :data:`METRIC_KEYS`.

    Raises:
        ShopDataError: The file is missing, unreadable or lacks a column.
    """
    period = read_later_file(path, settings)
    if period.empty:
        raise ShopDataError(f"{path.name}: no purchase line left after cleaning (customer id, quantity and price > 0, "
                            "not cancelled, five-digit stock code)", file=path.name)
    shop = load_retail_shop(settings)
    cut = min(DEV_END, int(period["timestamp"].min()))  # a file overlapping the dev data: train only before it
    result = score_period(shop.orders, shop.products.set_index("product_id")["category"], cut, period, rank=rank)
    return {key: result[key] for key in METRIC_KEYS}


def bench_shop(settings: Settings, cut: int = VALIDATION_CUT, days: int = 31, by_month: bool = True
               ) -> dict[str, Any]:
    """Measure the models on the validation month carved from the dev data, beside the baselines.

    Trains only on lines before ``cut`` (2011-10-09) and scores ``[cut, cut + days)`` (to the end of 2011-11-08).

    Args:
        settings: Project settings.
        cut: Start of the validation month.
        days: Its length.
        by_month: Also score the validation month and the five before it, each trained only on the months
            before it (:func:`auc_by_month`, ``auc_by_month``): how the AUC varies from month to month.

    Returns:
        :data:`METRIC_KEYS`, ``baselines`` (personal frequency, popularity, frequency-alone AUC), ``details``,
        ``auc_by_month`` if asked, and ``seconds``.
    """
    started = time.perf_counter()
    shop = load_retail_shop(settings)
    lines = shop_history(shop.orders)
    period = lines[(lines["timestamp"] >= cut) & (lines["timestamp"] < cut + days * DAY)]
    categories = shop.products.set_index("product_id")["category"]
    result = score_period(shop.orders, categories, cut, period, with_baselines=True)
    if by_month:
        before = time.perf_counter()
        result["auc_by_month"] = auc_by_month(lines[lines["timestamp"] < cut + days * DAY], cut, categories,
                                              days=days)
        result["details"]["seconds_auc_by_month"] = round(time.perf_counter() - before, 1)
    return {"validation": f"{pd.Timestamp(cut, unit='s').date()}..+{days}d (carved from dev data)", **result,
            "seconds": round(time.perf_counter() - started, 1)}
