"""Next-30-day purchase propensity and expected revenue per customer, trained on the shop's own history.

What is predicted: for each customer known before a cut (at least one purchase line before it), the probability
of buying anything in the 30 days from the cut, and the expected revenue in those days. There are no campaign
exposures in this data: this is organic purchase propensity, not the effect of a message.

From what: features computed from purchase lines strictly before the cut (:func:`customer_features`): recency,
invoice counts in several windows, money, tenure, inter-purchase intervals, days since the last purchase day
against the customer's own median and last gap (hazard-like), invoices in each of the last three 31-day months and
their trend, the share of months active, activity in the same season a year earlier, the top-category mix and the
shop-wide momentum of the customer's products (their invoices in the last 30 days against the 60 before).
With ``with_ranker`` (default) also aggregates of the next-month product ranker's per-product probabilities
(:func:`ranker_features`), from a ranker fitted only before each cut.

How: examples are stacked from monthly cuts before the cut (each labelled by the 30 days after its own cut, all
inside the history). The most recent month is held out: the boosted-tree classifier (fixed rounds, no early
stopping) is trained on the older months and an isotonic calibrator on the held-out month
(:attr:`PurchaseModel.calibration` reports the ECE before and after on it). The 90% interval of a probability
has two parts. One is the calibrator refitted on bootstrap resamples of the held-out month: how uncertain the
calibration map is. The other is how much a month's buy rate differs from what the features predict: the spread,
over the training months, of logit(observed buy rate) − logit(mean score), applied as a normal shift of the
log-odds. The next month is a month the model has not seen, and the validation month's rate was such a shift.
Without that part, the interval covered the observed rate in half of the validation month's ten probability bins.
Expected revenue is P(buy) × E[revenue | buy], the latter a boosted-tree regressor on log revenue of buyers with
Duan's smearing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, logit
from scipy.stats import norm
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from tools.effect.calibration import calibration_error
from tools.effect.purchases.history import DAY
from tools.effect.purchases.ranking import NextMonthRanker, _candidates, _features

HORIZON_DAYS = 30
MONTH_DAYS = 31
WINDOWS = (7, 14, 30, 60, 90, 180, 365)
N_TRAIN_CUTS = 8
N_BOOTSTRAP = 100
TOP_CATEGORIES = 12
WITH_RANKER = True
RANKER_TRAIN_CUTS = 1
RANKER_ROUNDS = 60
RANKER_TOP = 10
TREND_DAYS = 30
TREND_BASE_DAYS = 90
HOT_TREND = 1.5
CLASSIFIER_ROUNDS = 100
MIN_FEATURE_DAYS = 60
"""History a training cut needs before it (two months of features)."""
PROBABILITY_FLOOR = 1e-4
"""Probabilities are clipped to [floor, 1 − floor] before taking log-odds."""


def ranker_features(lines: pd.DataFrame, cut: int, categories: pd.Series | None = None) -> pd.DataFrame:
    """Return per-customer aggregates of the next-month product ranker's P(buy product), fitted before ``cut``.

    A :class:`~tools.effect.purchases.ranking.NextMonthRanker` (``RANKER_TRAIN_CUTS`` window, ``RANKER_ROUNDS``
    rounds: smaller than the ranking default, to keep one fit per training cut affordable) is fitted on the lines
    before ``cut`` and scores each customer's candidate products (own, popular, co-purchased). Aggregates:
    ``rk_any`` = 1 − Π(1 − p) over the candidates, ``rk_sum``, ``rk_max``, ``rk_top`` (sum of the top
    ``RANKER_TOP``) and ``rk_due`` (candidates with p > 0.05). The repeat-plus-collaborative signal as features.

    Args:
        lines: Purchase lines; those at or after the cut are ignored (the ranker reads only lines before it).
        cut: Unix time of the cut.
        categories: Optional product_id → category (the ranker's category-affinity feature).

    Returns:
        Indexed by customer_id (customers the ranker knows).
    """
    past = lines[lines["timestamp"] < cut].assign(cancelled=False)
    ranker = NextMonthRanker(categories=categories, train_cuts=RANKER_TRAIN_CUTS, rounds=RANKER_ROUNDS)
    ranker.fit(past, pd.Timestamp(cut, unit="s"))
    state, model = ranker._fitted()
    rows, cols = _candidates(state, np.arange(len(state.customers)))
    with threadpool_limits(limits=1, user_api="openmp"):
        p = model.predict_proba(_features(state, rows, cols))[:, 1]
    pairs = pd.DataFrame({"r": rows, "p": p, "log_miss": np.log1p(-np.minimum(p, 1 - 1e-9))})
    pairs = pairs.sort_values(["r", "p"], ascending=[True, False])
    by = pairs.groupby("r")
    out = pd.DataFrame({
        "rk_any": 1.0 - np.exp(by["log_miss"].sum()),
        "rk_sum": by["p"].sum(),
        "rk_max": by["p"].max(),
        "rk_top": by.head(RANKER_TOP).groupby("r")["p"].sum(),
        "rk_due": (pairs["p"] > 0.05).groupby(pairs["r"]).sum().astype(float),
    })
    out.index = pd.Index(state.customers[out.index.to_numpy()], name="customer_id")
    return out


def customer_features(lines: pd.DataFrame, cut: int, categories: pd.Series | None = None) -> pd.DataFrame:
    """Return one row of features per customer with a purchase line before ``cut``, from those lines only.

    Args:
        lines: Purchase lines (:data:`~tools.effect.purchases.history.LINE_COLUMNS`); lines at or after the cut
            are ignored.
        cut: Unix time of the cut.
        categories: Optional product_id → category; adds the share of invoices per top category.

    Returns:
        Features indexed by customer_id (sorted), all numeric.
    """
    past = lines[lines["timestamp"] < cut]
    invoices = past.groupby(["customer_id", "order_id"], sort=False).agg(
        t=("timestamp", "min"), revenue=("revenue", "sum"), items=("product_id", "nunique")
    ).reset_index()
    invoices["age"] = (cut - invoices["t"]) / DAY
    by = invoices.groupby("customer_id")
    feats = pd.DataFrame({
        "recency": by["age"].min(),
        "tenure": by["age"].max(),
        "invoices": by.size(),
        "monetary": by["revenue"].sum(),
        "basket_mean": by["revenue"].mean(),
        "basket_items": by["items"].mean(),
    })
    for w in WINDOWS:
        recent = invoices[invoices["age"] <= w].groupby("customer_id")
        feats[f"inv_{w}d"] = recent.size().reindex(feats.index, fill_value=0)
        feats[f"rev_{w}d"] = recent["revenue"].sum().reindex(feats.index, fill_value=0.0)
    days = invoices.assign(day=(invoices["age"]).astype(int)).drop_duplicates(["customer_id", "day"])
    feats["active_days"] = days.groupby("customer_id").size()
    gaps = days.sort_values(["customer_id", "age"], ascending=[True, False])
    gaps["gap"] = -gaps.groupby("customer_id")["age"].diff()
    gap = gaps.groupby("customer_id")["gap"]
    feats["gap_mean"] = gap.mean()
    feats["gap_std"] = gap.std()
    feats["gap_last"] = gaps.groupby("customer_id")["gap"].last()
    feats["overdue"] = feats["recency"] / feats["gap_mean"]
    # Hazard-like: days since the last invoice against the customer's own median and last gap between invoices.
    feats["gap_median"] = gap.median()
    feats["overdue_median"] = feats["recency"] / feats["gap_median"]
    feats["overdue_last"] = feats["recency"] / feats["gap_last"]
    # Invoices in each of the last three 31-day months (the validation month is 31 days) and their trend.
    month = (invoices["age"] // MONTH_DAYS).astype(int)
    for k in range(3):
        feats[f"inv_month_{k}"] = invoices[month == k].groupby("customer_id").size().reindex(feats.index, fill_value=0)
    feats["month_trend"] = feats["inv_month_0"] - feats["inv_month_2"]
    active_months = invoices.assign(m=month).drop_duplicates(["customer_id", "m"]).groupby("customer_id").size()
    feats["active_month_share"] = active_months / np.ceil(np.maximum(feats["tenure"], 1.0) / MONTH_DAYS)
    feats["rate"] = feats["invoices"] / np.maximum(feats["tenure"], HORIZON_DAYS)
    feats["trend"] = (feats["inv_90d"] + 1) / (feats["inv_180d"] - feats["inv_90d"] + 1)
    season = invoices[(invoices["age"] > 365 - HORIZON_DAYS) & (invoices["age"] <= 365 + HORIZON_DAYS)]
    feats["same_season_last_year"] = season.groupby("customer_id").size().reindex(feats.index, fill_value=0)
    feats["products"] = past.groupby("customer_id")["product_id"].nunique()
    feats["units"] = past.groupby("customer_id")["quantity"].sum()
    feats = feats.join(_product_trend(past, cut))
    if categories is not None:
        cats = past["product_id"].map(categories).fillna("other")
        share = pd.crosstab(past["customer_id"], cats, normalize="index")
        top = categories.value_counts().index[:TOP_CATEGORIES]  # by catalog size: the same columns at every cut
        for c in sorted(top):
            feats[f"cat_{c}"] = share[c].reindex(feats.index, fill_value=0.0) if c in share else 0.0
    return feats.sort_index().astype("float64")


def _product_trend(past: pd.DataFrame, cut: int) -> pd.DataFrame:
    """Return the shop-wide momentum of each customer's products, from ``past`` (lines before ``cut``) only.

    A product's trend is log((invoices with it in the last ``TREND_DAYS`` + 1) / (its monthly invoices in the
    ``TREND_DAYS``..``TREND_BASE_DAYS`` days before + 1)): the products now picking up across the shop (e.g. the
    Christmas stock from Aug-Sep). Per customer, over the distinct products they bought: ``prod_trend_mean``,
    ``prod_trend_max`` and ``prod_hot_share`` (share of their products whose ratio exceeds ``HOT_TREND``).
    """
    invoices = past.drop_duplicates(["order_id", "product_id"])
    age = (cut - invoices["timestamp"]) / DAY
    last = invoices[age <= TREND_DAYS].groupby("product_id").size()
    base_months = (TREND_BASE_DAYS - TREND_DAYS) / TREND_DAYS
    before = invoices[(age > TREND_DAYS) & (age <= TREND_BASE_DAYS)].groupby("product_id").size() / base_months
    products = last.index.union(before.index)
    trend = np.log((last.reindex(products, fill_value=0) + 1) / (before.reindex(products, fill_value=0) + 1))
    own = past.drop_duplicates(["customer_id", "product_id"])
    own_trend = own["product_id"].map(trend).fillna(0.0)
    by = own_trend.groupby(own["customer_id"])
    return pd.DataFrame({
        "prod_trend_mean": by.mean(),
        "prod_trend_max": by.max(),
        "prod_hot_share": (own_trend > np.log(HOT_TREND)).groupby(own["customer_id"]).mean(),
    })


def _month_spread(data: pd.DataFrame, raw: np.ndarray) -> float:
    """Return the standard deviation over cuts of logit(buy rate) − logit(mean raw score) (0 with one cut).

    Args:
        data: Stacked examples (columns ``cut`` and ``buy``).
        raw: The classifier's raw scores of ``data``'s rows.
    """
    by = pd.DataFrame({"cut": data["cut"].to_numpy(), "buy": data["buy"].to_numpy(), "raw": raw}).groupby("cut")
    rate = np.clip(by["buy"].mean(), PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)
    score = np.clip(by["raw"].mean(), PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)
    shift = logit(rate.to_numpy()) - logit(score.to_numpy())
    return float(np.std(shift, ddof=1)) if len(shift) > 1 else 0.0


def purchase_classifier(seed: int) -> HistGradientBoostingClassifier:
    """Return the purchase classifier: fixed rounds, no early stopping (whose random 10% hold-out varied by seed).

    ``CLASSIFIER_ROUNDS`` = 100: early stopping had settled on 70-80 rounds, and on the latest training cut (held
    out, trained on the older ones) 80-100 rounds scored best among 60-200.
    """
    return HistGradientBoostingClassifier(
        learning_rate=0.05, max_iter=CLASSIFIER_ROUNDS, max_leaf_nodes=15, min_samples_leaf=50, l2_regularization=1.0,
        early_stopping=False, random_state=seed,
    )


def next_period(lines: pd.DataFrame, cut: int, customers: pd.Index, days: int = HORIZON_DAYS) -> pd.DataFrame:
    """Return per customer whether they bought in [cut, cut + days) and their revenue then (0 if none).

    Args:
        lines: Purchase lines.
        cut: Start of the period (unix s).
        customers: Customers to label (all of them get a row).
        days: Length of the period.
    """
    later = lines[(lines["timestamp"] >= cut) & (lines["timestamp"] < cut + days * DAY)]
    revenue = later.groupby("customer_id")["revenue"].sum().reindex(customers, fill_value=0.0)
    return pd.DataFrame({"buy": (revenue > 0).astype(int), "revenue": revenue}, index=customers)


def model_features(lines: pd.DataFrame, cut: int, categories: pd.Series | None, with_ranker: bool) -> pd.DataFrame:
    """Return :func:`customer_features`, joined with :func:`ranker_features` if ``with_ranker``."""
    feats = customer_features(lines, cut, categories)
    if with_ranker:
        feats = feats.join(ranker_features(lines, cut, categories)).astype("float64")
    return feats


def monthly_cuts(cut: int, start: int, n_cuts: int | None = None) -> list[int]:
    """Return the training cuts before ``cut``, latest first: every ``HORIZON_DAYS`` back, each with features.

    Args:
        cut: The cut the model is trained for (unix s); the first training cut is ``HORIZON_DAYS`` before it, so
            its labels end at ``cut``.
        start: Time of the first purchase line: a cut needs ``MIN_FEATURE_DAYS`` of history after it.
        n_cuts: At most this many cuts (None: every one the history allows).
    """
    count = (cut - start) // (HORIZON_DAYS * DAY) if n_cuts is None else n_cuts
    cuts = [cut - k * HORIZON_DAYS * DAY for k in range(1, count + 1)]
    return [c for c in cuts if c - start >= MIN_FEATURE_DAYS * DAY]


def stacked_examples(lines: pd.DataFrame, cuts: list[int], categories: pd.Series | None,
                     with_ranker: bool = False) -> pd.DataFrame:
    """Return features and labels of every cut stacked (column ``cut`` says which); labels must lie in history.

    With ``with_ranker`` the ranker features of each cut come from a ranker fitted only before that cut.
    """
    frames = []
    for c in cuts:
        feats = model_features(lines, c, categories, with_ranker)
        frames.append(feats.join(next_period(lines, c, feats.index)).assign(cut=c))
    return pd.concat(frames)


@dataclass
class PurchaseModel:
    """Calibrated next-30-day purchase propensity and expected revenue, fitted on history before ``cut``.

    Attributes:
        cut: The time the model was trained up to (it scores customers as of this time).
        calibration: ECE (10 equal-mass bins) and AUC on the held-out month, before and after calibration.
    """

    cut: int
    classifier: HistGradientBoostingClassifier
    calibrator: IsotonicRegression
    bootstrap: list[IsotonicRegression]
    regressor: HistGradientBoostingRegressor
    smearing: float
    columns: list[str]
    categories: pd.Series | None
    calibration: dict[str, float] = field(default_factory=dict)
    with_ranker: bool = False
    residual_quantiles: list[float] = field(default_factory=list)
    """Percentiles 0..100 of the regressor's log-revenue residuals on buyers (for :meth:`predict`'s median)."""
    month_spread: float = 0.0
    """Standard deviation over the training months of logit(buy rate) − logit(mean raw score) (the interval's
    month-to-month part)."""

    @classmethod
    def fit(cls, lines: pd.DataFrame, cut: int, categories: pd.Series | None = None,
            n_cuts: int = N_TRAIN_CUTS, seed: int = 0, with_ranker: bool = WITH_RANKER) -> PurchaseModel:
        """Train on monthly cuts before ``cut``; calibrate on the most recent one.

        Args:
            lines: Purchase lines; only those before ``cut`` are used.
            cut: Unix time the model scores from.
            categories: Optional product_id → category (category-mix features).
            n_cuts: Monthly cuts used for training (the latest of them is the calibration month).
            seed: Random seed (trees and bootstrap).
            with_ranker: Add :func:`ranker_features` (one ranker fitted before each training cut and the cut).
        """
        history = lines[lines["timestamp"] < cut]
        cuts = monthly_cuts(cut, int(history["timestamp"].min()), n_cuts)
        if len(cuts) < 2:
            raise ValueError("need at least three months of history before the cut")
        data = stacked_examples(history, cuts, categories, with_ranker)
        columns = [c for c in data.columns if c not in ("buy", "revenue", "cut")]
        with threadpool_limits(1):  # OpenMP threads on a shared, loaded machine made a 1 s fit take minutes
            model = cls._fit(data, cuts, columns, cut, categories, seed)
        model.with_ranker = with_ranker
        return model

    @classmethod
    def _fit(cls, data: pd.DataFrame, cuts: list[int], columns: list[str], cut: int,
             categories: pd.Series | None, seed: int) -> PurchaseModel:
        """Fit the classifier, calibrator, bootstrap calibrators and revenue regressor on stacked examples.

        The classifier is trained on the older cuts and the calibrator on the latest one. (Cross-fitting, i.e. the
        classifier on every cut and the calibrator on 2-fold out-of-fold scores of the latest, ranked the
        validation month better, auc_buy 0.7435/0.7428 against 0.7391, but its calibrator made that month's ECE
        worse than the raw scores', 0.031 against 0.020, so it was not kept.)
        """
        held = data[data["cut"] == cuts[0]]
        train = data[data["cut"] != cuts[0]]
        classifier = purchase_classifier(seed).fit(train[columns], train["buy"])
        raw = classifier.predict_proba(held[columns])[:, 1]
        calibrator = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, held["buy"])
        rng = np.random.default_rng(seed)
        boot = []
        for _ in range(N_BOOTSTRAP):
            i = rng.integers(0, len(raw), len(raw))
            boot.append(IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw[i], held["buy"].iloc[i]))
        y = held["buy"].to_numpy()
        calibrated = calibrator.predict(raw)
        month_spread = _month_spread(data, classifier.predict_proba(data[columns])[:, 1])
        calibration = {
            "held_out_cut": pd.Timestamp(cuts[0], unit="s").date().isoformat(),
            "held_out_customers": len(held),
            "ece_before": calibration_error(y, raw, strategy="quantile"),
            "ece_after_in_sample": calibration_error(y, calibrated, strategy="quantile"),
            "auc_held_out": float(roc_auc_score(y, raw)),
            "month_spread_logit": month_spread,
        }
        buyers = data[data["buy"] == 1]
        target = np.log(buyers["revenue"].to_numpy())
        regressor = HistGradientBoostingRegressor(
            learning_rate=0.05, max_iter=300, max_leaf_nodes=15, min_samples_leaf=50, random_state=seed,
        ).fit(buyers[columns], target)
        residuals = target - regressor.predict(buyers[columns])
        smearing = float(np.mean(np.exp(residuals)))
        model = cls(cut, classifier, calibrator, boot, regressor, smearing, columns, categories, calibration)
        model.residual_quantiles = np.percentile(residuals, np.arange(101)).tolist()
        model.month_spread = month_spread
        return model

    def predict(self, lines: pd.DataFrame) -> pd.DataFrame:
        """Score every customer known before :attr:`cut` from the lines before it.

        Args:
            lines: Purchase lines (those at or after the cut are ignored).

        Returns:
            Indexed by customer_id: ``p_raw`` (uncalibrated), ``p_buy``, ``p_low``/``p_high`` (90% interval of
            the calibrated probability: bootstrap calibrators, each with a month-to-month shift of the log-odds),
            ``revenue_if_buy``, ``expected_revenue`` (the mean: what plans add up) and ``median_revenue`` (the
            median of the predicted revenue, 0 unless P(buy) ≥ 0.5: the value that minimises the expected absolute
            error, which ``revenue_mae`` measures).
        """
        feats = model_features(lines, self.cut, self.categories, self.with_ranker)
        feats = feats.reindex(columns=self.columns, fill_value=0.0)
        with threadpool_limits(1):
            raw = self.classifier.predict_proba(feats)[:, 1]
            log_if_buy = self.regressor.predict(feats)
        if_buy = np.exp(log_if_buy) * self.smearing
        boot = np.vstack([b.predict(raw) for b in self.bootstrap])
        # Month-to-month part: calibrator b is shifted by the b-th of evenly spaced normal quantiles (the
        # calibrators are exchangeable, so pairing them in order is as good as a random pairing, and deterministic).
        shifts = self.month_spread * norm.ppf((np.arange(len(boot)) + 0.5) / len(boot))
        boot = expit(logit(np.clip(boot, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)) + shifts[:, None])
        p = self.calibrator.predict(raw)
        return pd.DataFrame({
            "p_raw": raw, "p_buy": p, "p_low": np.minimum(np.quantile(boot, 0.05, axis=0), p),
            "p_high": np.maximum(np.quantile(boot, 0.95, axis=0), p), "revenue_if_buy": if_buy,
            "expected_revenue": p * if_buy,
            "median_revenue": self._median_revenue(p, log_if_buy),
        }, index=feats.index)

    def _median_revenue(self, p: np.ndarray, log_if_buy: np.ndarray) -> np.ndarray:
        """Median of revenue = 0 with probability 1 − p, else exp(log prediction + residual): 0 when p < 0.5.

        For p ≥ 0.5 the median is the revenue-if-buy quantile (p − 0.5)/p, read off the residual percentiles.
        """
        if not self.residual_quantiles:
            return np.zeros_like(p)
        q = np.clip((p - 0.5) / np.maximum(p, 1e-12), 0.0, 1.0) * 100
        residual = np.interp(q, np.arange(101), np.asarray(self.residual_quantiles))
        return np.where(p >= 0.5, np.exp(log_if_buy + residual), 0.0)

    def card(self) -> dict[str, Any]:
        """Return what the model is, in JSON-ready form."""
        return {"cut": pd.Timestamp(self.cut, unit="s").date().isoformat(), "features": self.columns,
                "calibration": self.calibration, "smearing": self.smearing}


def category_propensity(scores: pd.DataFrame, lines: pd.DataFrame, cut: int, categories: pd.Series,
                        prior_weight: float = 5.0) -> pd.DataFrame:
    """Return P(buy in category c in the next 30 days) per customer, as P(buy) × the customer's category share.

    The share is the customer's share of past invoices containing category c, shrunk toward the shop's share with
    ``prior_weight`` pseudo-invoices. A frequency model scaled by the calibrated P(buy), not a trained model of
    its own; shares over categories may sum to more than one invoice's worth, so it is an approximation.

    Args:
        scores: :meth:`PurchaseModel.predict` output.
        lines: Purchase lines (only those before ``cut`` are used).
        cut: The cut.
        categories: product_id → category.
        prior_weight: Pseudo-invoices of the shop's share added to each customer's.

    Returns:
        Customers × categories.
    """
    past = lines[lines["timestamp"] < cut].assign(category=lambda f: f["product_id"].map(categories).fillna("other"))
    hits = past.drop_duplicates(["customer_id", "order_id", "category"])
    counts = pd.crosstab(hits["customer_id"], hits["category"])
    n = past.groupby("customer_id")["order_id"].nunique().reindex(counts.index)
    shop_share = hits.groupby("category").size() / past["order_id"].nunique()
    share = (counts.add(prior_weight * shop_share, axis=1)).div(n + prior_weight, axis=0).clip(upper=1.0)
    return share.reindex(scores.index).fillna(shop_share).mul(scores["p_buy"], axis=0)


def product_propensity(scores: pd.DataFrame, lines: pd.DataFrame, cut: int, product_id: str,
                       prior_weight: float = 5.0) -> pd.Series:
    """Return P(buy ``product_id`` in the next 30 days) per customer, as P(buy) × the product's invoice share.

    Same construction as :func:`category_propensity` for one product (a frequency approximation).
    """
    past = lines[lines["timestamp"] < cut]
    orders = past.groupby("customer_id")["order_id"].nunique()
    with_p = past[past["product_id"] == product_id].groupby("customer_id")["order_id"].nunique()
    shop_share = past.loc[past["product_id"] == product_id, "order_id"].nunique() / max(past["order_id"].nunique(), 1)
    share = (with_p.reindex(orders.index, fill_value=0) + prior_weight * shop_share) / (orders + prior_weight)
    return (share.reindex(scores.index).fillna(shop_share) * scores["p_buy"]).rename(product_id)
