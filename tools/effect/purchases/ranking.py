"""Next-month product ranking for a shop of orders: the issue's baselines, ranking metrics and a learned ranker.

Everything works on a shop's order lines (``Shop.orders``: order_id, customer_id, product_id, quantity,
unit_price, timestamp in unix seconds, cancelled) and a cut time. The **history** at a cut is the registered,
uncancelled lines with a positive quantity and price, whose product id starts with five digits (a stock code, not
``POST``/``M``/fees), strictly before the cut (:func:`purchase_history`). The **truth** of the month after a cut is
the set of products each customer known before the cut bought in ``[cut, cut + days)`` (:func:`next_month_truth`).

Baselines, as issue 14 defines them:

* :func:`popularity` — the products in the most distinct invoices in the 30 days before the cut;
* :func:`personal_frequency` — the products the customer bought in the most distinct invoices before the cut
  (ties: the one bought most recently), filled with :func:`popularity`.

:class:`NextMonthRanker` scores candidate (customer, product) pairs — the customer's past products, the
popular products and the products bought together with the customer's own (item-item co-purchase) — from
features computed only from the history before its cut: time-decayed repeat counts, recency, the product's
typical repurchase gap against the days since the customer last bought it, the customer's activity, category
affinity, the product's popularity and its trend. A scikit-learn ``HistGradientBoostingClassifier`` learns to
combine them on earlier cuts (features before ``cut - 30·j`` days, label = bought in the following 30 days), so
its output is the probability of buying the product in the next 30 days. No seasonality feature: the data starts
2010-12-01, so the same weeks of the previous year are absent before any cut up to 2011-11-08.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from tools.effect.purchases.history import DAY, PRODUCT_CODE, shop_history

__all__ = [
    "NextMonthRanker",
    "next_month_truth",
    "personal_frequency",
    "popularity",
    "purchase_history",
    "ranking_metrics",
]

POPULAR_DAYS = 30
HALF_LIVES = (14.0, 60.0, 180.0)
TRAIN_CUTS = 2
BOOSTING_ROUNDS = 100
LABEL_DAYS = 30
MAX_OWN = 150
N_POPULAR = 60
N_NEIGHBOURS = 40


def _utc_seconds(cut: pd.Timestamp) -> int:
    """Return a cut as unix seconds (a naive timestamp is read as UTC)."""
    stamp = pd.Timestamp(cut)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return int(stamp.timestamp())


def clean_lines(orders: pd.DataFrame, product_pattern: str | None = PRODUCT_CODE) -> pd.DataFrame:
    """Return the registered, uncancelled lines with quantity and price > 0 and a five-digit stock code.

    The rules are :func:`tools.effect.purchases.history.shop_history`'s (``product_pattern`` as there); the ranker
    keeps four of its columns.
    """
    return shop_history(orders, product_pattern=product_pattern)[["order_id", "customer_id", "product_id", "timestamp"]]


def purchase_history(orders: pd.DataFrame, cut: pd.Timestamp) -> pd.DataFrame:
    """Return the cleaned lines (:func:`clean_lines`) strictly before ``cut``.

    Args:
        orders: A shop's order lines.
        cut: The cut time (naive = UTC).

    Returns:
        Columns order_id, customer_id, product_id, timestamp.
    """
    lines = clean_lines(orders)
    return lines[lines["timestamp"] < _utc_seconds(cut)]


def next_month_truth(orders: pd.DataFrame, cut: pd.Timestamp, days: int = 31) -> dict[str, set[str]]:
    """Return the products each customer known before ``cut`` bought in ``[cut, cut + days)``.

    Args:
        orders: A shop's order lines.
        cut: Start of the month.
        days: Its length (31 covers 2011-10-09 to the end of 2011-11-08).

    Returns:
        Customer id → set of product ids, over the customers who bought in the window and had history before it.
    """
    lines = clean_lines(orders)
    start = _utc_seconds(cut)
    known = set(lines.loc[lines["timestamp"] < start, "customer_id"])
    window = lines[(lines["timestamp"] >= start) & (lines["timestamp"] < start + days * DAY)]
    window = window[window["customer_id"].isin(known)]
    return {str(c): set(p) for c, p in window.groupby("customer_id")["product_id"]}


def _invoices(history: pd.DataFrame) -> pd.DataFrame:
    """Return one row per (customer, product, invoice) with the invoice time."""
    return history.groupby(["customer_id", "product_id", "order_id"], as_index=False)["timestamp"].min()


def _popular_products(history: pd.DataFrame, end: int, k: int) -> list[str]:
    """Return the ``k`` products in the most distinct invoices in the 30 days before ``end`` (ties: product id)."""
    recent = history[history["timestamp"] >= end - POPULAR_DAYS * DAY]
    counts = recent.groupby("product_id")["order_id"].nunique().reset_index(name="n")
    counts = counts.sort_values(["n", "product_id"], ascending=[False, True])
    return counts["product_id"].head(k).tolist()


def popularity(orders: pd.DataFrame, cut: pd.Timestamp, k: int = 10) -> list[str]:
    """The popularity baseline: the ``k`` products in the most distinct invoices in the 30 days before ``cut``.

    Args:
        orders: A shop's order lines.
        cut: The cut time.
        k: How many products.

    Returns:
        Product ids, most popular first (ties by product id).
    """
    return _popular_products(purchase_history(orders, cut), _utc_seconds(cut), k)


def personal_frequency(
    orders: pd.DataFrame, cut: pd.Timestamp, customer_ids: list[str], k: int = 10
) -> dict[str, list[str]]:
    """The personal-frequency baseline: a customer's most frequently bought products, then popular ones.

    "Most frequently" counts the distinct invoices holding the product before the cut; ties go to the product
    bought most recently. Fewer than ``k`` are filled with :func:`popularity` (products not already listed).

    Args:
        orders: A shop's order lines.
        cut: The cut time.
        customer_ids: Customers to recommend to (unknown ones get the popular products).
        k: List length.

    Returns:
        Customer id → ``k`` product ids, best first.
    """
    history = purchase_history(orders, cut)
    per_pair = _invoices(history).groupby(["customer_id", "product_id"], as_index=False).agg(
        n=("order_id", "size"), last=("timestamp", "max")
    )
    per_pair = per_pair[per_pair["customer_id"].isin(set(customer_ids))]
    ranked = per_pair.sort_values(["customer_id", "n", "last", "product_id"], ascending=[True, False, False, True])
    own = ranked.groupby("customer_id").head(k).groupby("customer_id")["product_id"].agg(list).to_dict()
    popular = _popular_products(history, _utc_seconds(cut), 2 * k)
    result: dict[str, list[str]] = {}
    for customer in customer_ids:
        items = list(own.get(customer, []))
        items += [p for p in popular if p not in set(items)][: k - len(items)]
        result[customer] = items[:k]
    return result


def ranking_metrics(recs: dict[str, list[str]], truth: dict[str, set[str]], k: int = 10) -> dict[str, float]:
    """Recall@k, binary nDCG@k and hit@k averaged over the customers in ``truth`` with at least one product.

    nDCG's ideal DCG is over min(|truth|, k) positions; a customer without recommendations scores 0.

    Args:
        recs: Customer → ranked product ids.
        truth: Customer → products bought.
        k: Cut-off.

    Returns:
        ``recall_at_{k}``, ``ndcg_at_{k}``, ``hit_at_{k}`` and ``users`` (how many were averaged).
    """
    users = [c for c, items in truth.items() if items]
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    hits = np.array([[p in truth[c] for p in (recs.get(c, [])[:k] + [None] * k)[:k]] for c in users], dtype=float)
    hits = hits.reshape(len(users), k)
    relevant = np.array([len(truth[c]) for c in users])
    ideal = np.concatenate([[0.0], np.cumsum(discount)])[np.minimum(relevant, k)]
    n_hits = hits.sum(axis=1)

    def mean(values: np.ndarray) -> float:
        return float(values.mean()) if len(users) else 0.0

    return {
        f"recall_at_{k}": mean(n_hits / np.maximum(relevant, 1)),
        f"ndcg_at_{k}": mean((hits @ discount) / np.where(ideal > 0, ideal, 1.0)),
        f"hit_at_{k}": mean((n_hits > 0).astype(float)),
        "users": float(len(users)),
    }


@dataclass
class _CutFeatures:
    """Everything the features of a (customer, product) pair need, computed from the history before one cut."""

    customers: pd.Index
    products: pd.Index
    pair: dict[str, sp.csr_matrix]  # customers × products
    customer: pd.DataFrame  # one row per customer (position = index in ``customers``)
    product: pd.DataFrame  # one row per product
    co_purchase: np.ndarray  # customers × products, float32
    category_share: np.ndarray  # customers × categories
    product_category: np.ndarray  # category code per product (-1 = none)
    popular: np.ndarray  # product positions, most popular first


def _pair_matrix(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """Sum ``values`` at ``(rows, cols)`` into a CSR matrix."""
    return sp.csr_matrix((values.astype(np.float64), (rows, cols)), shape=shape)


def _cut_features(history: pd.DataFrame, end: int, categories: pd.Series | None) -> _CutFeatures:
    """Compute the per-pair, per-customer and per-product tables from ``history`` (all lines before ``end``)."""
    invoices = _invoices(history)
    customers = pd.Index(np.sort(invoices["customer_id"].unique()))
    products = pd.Index(np.sort(invoices["product_id"].unique()))
    shape = (len(customers), len(products))
    rows = customers.get_indexer(invoices["customer_id"])
    cols = products.get_indexer(invoices["product_id"])
    age = (end - invoices["timestamp"].to_numpy()) / DAY  # days before the cut, > 0
    pair = {"n": _pair_matrix(rows, cols, np.ones(len(rows)), shape)}
    for half_life in HALF_LIVES:
        pair[f"decay_{int(half_life)}"] = _pair_matrix(rows, cols, 0.5 ** (age / half_life), shape)
    pair["n_90"] = _pair_matrix(rows, cols, (age <= 90).astype(float), shape)
    per_pair = pd.DataFrame({"r": rows, "c": cols, "age": age}).groupby(["r", "c"])["age"].agg(["min", "max"])
    pr, pc = per_pair.index.get_level_values(0).to_numpy(), per_pair.index.get_level_values(1).to_numpy()
    pair["since_last"] = _pair_matrix(pr, pc, per_pair["min"].to_numpy(), shape)
    pair["since_first"] = _pair_matrix(pr, pc, per_pair["max"].to_numpy(), shape)

    orders = history.groupby("order_id").agg(customer_id=("customer_id", "first"), t=("timestamp", "min"))
    orders["age"] = (end - orders["t"]) / DAY
    cust = orders.groupby("customer_id")["age"].agg(["size", "min", "max"]).reindex(customers)
    customer = pd.DataFrame(
        {
            "c_invoices": cust["size"].to_numpy(float),
            "c_since_last": cust["min"].to_numpy(float),
            "c_tenure": cust["max"].to_numpy(float),
            "c_invoices_90": orders[orders["age"] <= 90].groupby("customer_id").size().reindex(customers)
            .fillna(0).to_numpy(float),
            "c_products": np.diff(pair["n"].indptr).astype(float),
        }
    )
    customer["c_rate"] = customer["c_invoices"] / np.maximum(customer["c_tenure"], 1.0)

    inv_age = pd.Series(age)
    prod_recent = [np.bincount(cols[inv_age.to_numpy() <= d], minlength=len(products)) for d in (7, 30, 90)]
    # Typical repurchase gap: median days between a customer's consecutive invoices of the product.
    ordered = invoices.assign(r=rows, c=cols).sort_values(["r", "c", "timestamp"])
    same = (ordered["r"].to_numpy()[1:] == ordered["r"].to_numpy()[:-1]) & (
        ordered["c"].to_numpy()[1:] == ordered["c"].to_numpy()[:-1]
    )
    gaps = pd.DataFrame(
        {"c": ordered["c"].to_numpy()[1:][same], "gap": np.diff(ordered["timestamp"].to_numpy())[same] / DAY}
    )
    gap = gaps.groupby("c")["gap"].median().reindex(range(len(products))).to_numpy(float)
    buyers = np.diff(pair["n"].tocsc().indptr).astype(float)
    repeaters = np.asarray((pair["n"] > 1).sum(axis=0)).ravel().astype(float)
    product = pd.DataFrame(
        {
            "p_7": prod_recent[0].astype(float),
            "p_30": prod_recent[1].astype(float),
            "p_90": prod_recent[2].astype(float),
            "p_all": np.bincount(cols, minlength=len(products)).astype(float),
            "p_buyers": buyers,
            "p_repeat_share": repeaters / np.maximum(buyers, 1.0),
            "p_gap": np.nan_to_num(gap, nan=np.inf),
            "p_first_age": pd.Series(age).groupby(cols).max().reindex(range(len(products))).to_numpy(float),
        }
    )
    product["p_trend"] = (product["p_30"] + 1) / (product["p_90"] / 3 + 1)

    # Item-item cosine similarity on who bought what (binary), applied to each customer's decayed basket.
    bought = pair["n"].copy()
    bought.data[:] = 1.0
    norms = np.sqrt(np.asarray(bought.sum(axis=0)).ravel())
    scaled = bought @ sp.diags(1.0 / np.maximum(norms, 1.0))
    similarity = (scaled.T @ scaled).tocsr()
    similarity.setdiag(0.0)
    similarity.eliminate_zeros()
    co_purchase = np.asarray((pair["decay_60"] @ similarity).todense(), dtype=np.float32)

    if categories is not None:
        codes, _names = pd.factorize(categories.reindex(products))
    else:
        codes = np.full(len(products), -1)
    n_cat = max(int(codes.max()) + 1, 1)
    with_cat = codes[cols] >= 0
    cat_counts = _pair_matrix(rows[with_cat], codes[cols][with_cat], np.ones(int(with_cat.sum())),
                              (len(customers), n_cat)).toarray()
    category_share = cat_counts / np.maximum(customer["c_invoices"].to_numpy()[:, None], 1.0)
    popular = np.lexsort((np.arange(len(products)), -product["p_30"].to_numpy()))
    return _CutFeatures(customers, products, pair, customer, product, co_purchase, category_share,
                        np.asarray(codes), popular)


def _features(state: _CutFeatures, rows: np.ndarray, cols: np.ndarray) -> pd.DataFrame:
    """Return the feature table of the pairs ``(rows, cols)`` (positions in ``state``; -1 = unknown)."""
    known_r, known_c = rows >= 0, cols >= 0
    both = known_r & known_c
    out: dict[str, np.ndarray] = {}
    for name, matrix in state.pair.items():
        values = np.zeros(rows.size)
        if both.any():
            values[both] = np.asarray(matrix[rows[both], cols[both]]).ravel()
        out[name] = values
    bought = out["n"] > 0
    out["since_last"] = np.where(bought, out["since_last"], np.nan)
    out["since_first"] = np.where(bought, out["since_first"], np.nan)
    for name in state.customer.columns:
        out[name] = np.where(known_r, state.customer[name].to_numpy()[np.maximum(rows, 0)], np.nan)
    for name in state.product.columns:
        out[name] = np.where(known_c, state.product[name].to_numpy()[np.maximum(cols, 0)], np.nan)
    gap = out["p_gap"]
    out["gap_ratio"] = np.where(bought & np.isfinite(gap), out["since_last"] / np.maximum(gap, 1.0), np.nan)
    out["p_gap"] = np.where(np.isfinite(gap), gap, np.nan)
    out["share"] = out["n"] / np.maximum(out["c_invoices"], 1.0)
    out["co_purchase"] = np.zeros(rows.size)
    out["co_purchase"][both] = state.co_purchase[rows[both], cols[both]]
    out["co_purchase_rel"] = out["co_purchase"] / np.maximum(out["decay_60"], 1e-3)
    category = np.where(known_c, state.product_category[np.maximum(cols, 0)], -1)
    with_cat = known_r & (category >= 0)
    out["category_share"] = np.zeros(rows.size)
    out["category_share"][with_cat] = state.category_share[rows[with_cat], category[with_cat]]
    return pd.DataFrame(out)


def _candidates(state: _CutFeatures, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return candidate pairs for the customers at positions ``rows``: own products, popular, co-purchased."""
    decayed = state.pair["decay_60"][rows].tocsr()
    own_r, own_c = decayed.nonzero()
    own = pd.DataFrame({"r": own_r, "c": own_c, "s": decayed.data})
    own = own.sort_values(["r", "s"], ascending=[True, False]).groupby("r").head(MAX_OWN)
    popular = state.popular[:N_POPULAR]
    pop_r, pop_c = np.repeat(np.arange(rows.size), popular.size), np.tile(popular, rows.size)
    neighbours = np.argpartition(-state.co_purchase[rows], N_NEIGHBOURS, axis=1)[:, :N_NEIGHBOURS]
    nb_r, nb_c = np.repeat(np.arange(rows.size), N_NEIGHBOURS), neighbours.ravel()
    pairs = pd.DataFrame(
        {
            "r": np.concatenate([own["r"].to_numpy(), pop_r, nb_r]),
            "c": np.concatenate([own["c"].to_numpy(), pop_c, nb_c]),
        }
    ).drop_duplicates()
    return rows[pairs["r"].to_numpy()], pairs["c"].to_numpy()


class NextMonthRanker:
    """Rank a shop's products by each customer's probability of buying them in the 30 days after a cut.

    Fitted with :meth:`fit` on the order lines and the cut; only lines before the cut are read. Two models are
    trained on ``TRAIN_CUTS`` earlier cuts 30 days apart (features before each, labels from the 30 days after):
    :meth:`score` gives P(buys the product) over all known customers; :meth:`recommend` ranks with a second
    model fitted only on the customers who bought one of their candidates in the label window (P(product | buys)),
    which ranks a buyer's products better (validation month nDCG@10 0.318 against 0.310 with the first model).
    """

    def __init__(
        self,
        categories: pd.Series | None = None,
        train_cuts: int = TRAIN_CUTS,
        rounds: int = BOOSTING_ROUNDS,
        seed: int = 0,
        product_pattern: str | None = PRODUCT_CODE,
    ) -> None:
        """Set up an unfitted ranker.

        Args:
            categories: Optional product id → category (e.g. ``Shop.products``), for the category-affinity feature.
            train_cuts: How many earlier 30-day windows to learn from.
            rounds: Boosting rounds.
            seed: Seed of the gradient boosting.
            product_pattern: Product ids to learn from (default: the retail shop's stock codes; None: all).
        """
        self.categories = categories
        self.product_pattern = product_pattern
        self.train_cuts = train_cuts
        self.rounds = rounds
        self.seed = seed
        self.cut: pd.Timestamp | None = None
        self._state: _CutFeatures | None = None
        self._model: HistGradientBoostingClassifier | None = None
        self._ranking_model: HistGradientBoostingClassifier | None = None

    def _training_table(self, lines: pd.DataFrame, end: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """Return candidate features at ``end - LABEL_DAYS`` days and labels from the window up to ``end``.

        The third array says whether the pair's customer bought at least one of its candidates in the window.
        """
        start = end - LABEL_DAYS * DAY
        state = _cut_features(lines[lines["timestamp"] < start], start, self.categories)
        rows, cols = _candidates(state, np.arange(len(state.customers)))
        window = lines[(lines["timestamp"] >= start) & (lines["timestamp"] < end)]
        bought = set(zip(state.customers.get_indexer(window["customer_id"]),
                         state.products.get_indexer(window["product_id"]), strict=True))
        labels = np.fromiter(((r, c) in bought for r, c in zip(rows, cols, strict=True)), dtype=bool, count=rows.size)
        buyer = pd.Series(labels).groupby(rows).transform("any").to_numpy(bool)
        return _features(state, rows, cols), labels, buyer

    def _boosting(self) -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(
            max_iter=self.rounds, learning_rate=0.1, max_leaf_nodes=31, min_samples_leaf=100,
            early_stopping=False, random_state=self.seed,
        )

    def fit(self, orders: pd.DataFrame, cut: pd.Timestamp) -> NextMonthRanker:
        """Learn from the lines before ``cut`` and keep the features as of ``cut`` for ranking.

        Args:
            orders: A shop's order lines (lines at or after the cut are ignored).
            cut: The cut time.

        Returns:
            This ranker.
        """
        end = _utc_seconds(cut)
        lines = clean_lines(orders, self.product_pattern)
        lines = lines[lines["timestamp"] < end]
        tables = [self._training_table(lines, end - j * LABEL_DAYS * DAY) for j in range(self.train_cuts)]
        features = pd.concat([t[0] for t in tables], ignore_index=True)
        labels = np.concatenate([t[1] for t in tables])
        buyer = np.concatenate([t[2] for t in tables])
        # One OpenMP thread: on a shared machine, busy-waiting threads made the fit ten times slower.
        with threadpool_limits(limits=1, user_api="openmp"):
            self._model = self._boosting().fit(features, labels)
            self._ranking_model = self._boosting().fit(features[buyer], labels[buyer])
        self._state = _cut_features(lines, end, self.categories)
        self.cut = pd.Timestamp(cut)
        return self

    def _fitted(self) -> tuple[_CutFeatures, HistGradientBoostingClassifier]:
        if self._state is None or self._model is None:
            raise RuntimeError("NextMonthRanker is not fitted; call fit(orders, cut) first")
        return self._state, self._model

    def score(self, customer_ids: list[str], product_ids: list[str]) -> np.ndarray:
        """Return the probability that each customer buys each product in the 30 days after the cut.

        Args:
            customer_ids: Customers (unknown ones are scored from the product features alone).
            product_ids: Products (same length as ``customer_ids``: pair i is (customer_ids[i], product_ids[i])).

        Returns:
            One probability per pair.
        """
        state, model = self._fitted()
        if len(customer_ids) != len(product_ids):
            raise ValueError("customer_ids and product_ids must have the same length")
        rows = state.customers.get_indexer(pd.Index(customer_ids, dtype=object))
        cols = state.products.get_indexer(pd.Index(product_ids, dtype=object))
        with threadpool_limits(limits=1, user_api="openmp"):
            return np.asarray(model.predict_proba(_features(state, rows, cols))[:, 1])

    def recommend(self, customer_ids: list[str], k: int = 10) -> dict[str, list[str]]:
        """Return each customer's ``k`` products most likely bought in the 30 days after the cut.

        Args:
            customer_ids: Customers; unknown ones get the most popular products of the last 30 days.
            k: List length.

        Returns:
            Customer id → product ids, best first.
        """
        state, _model = self._fitted()
        model = self._ranking_model
        assert model is not None  # fitted together with _model
        positions = state.customers.get_indexer(pd.Index(customer_ids, dtype=object))
        known = np.unique(positions[positions >= 0])
        popular = state.products[state.popular[:k]].tolist()
        result = {c: list(popular) for c in customer_ids}
        if known.size == 0:
            return result
        rows, cols = _candidates(state, known)
        with threadpool_limits(limits=1, user_api="openmp"):
            probability = model.predict_proba(_features(state, rows, cols))[:, 1]
        scored = pd.DataFrame({"r": rows, "c": cols, "s": probability})
        top = scored.sort_values(["r", "s", "c"], ascending=[True, False, True]).groupby("r").head(k)
        ranked = top.groupby("r")["c"].agg(list)
        for customer, position in zip(customer_ids, positions, strict=True):
            if position >= 0 and position in ranked.index:
                result[customer] = state.products[ranked[position]].tolist()
        return result
