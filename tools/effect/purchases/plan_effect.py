"""The effect tool of a shop of purchases: expected incremental revenue per send, from the purchase model and a prior.

What a plan needs from the effect tool is the same on every shop: for a group of customers and each candidate
product, an estimate per send with a 90% interval and its factors in words. On a shop of orders with prices
(:class:`PurchaseEffect`) that estimate is money:

* **organic probability** ``p`` of each customer buying the product in the 30 days after the shop's last day, from
  the :class:`~tools.effect.purchases.ranking.NextMonthRanker` trained on the shop's own order history (time-based
  cuts; validated on a later month, see ``campaign bench shop``);
* **line revenue** of the product: its median quantity per order line in the history × its current catalog price;
* **uplift prior**: the relative lift of an e-mail in the Hillstrom experiment (:func:`tools.effect.uplift.
  hillstrom_prior`, both e-mails pooled). The data has no campaign exposures, so what a message adds is this
  borrowed lift: an assumption (visits, not purchases), stated in the model card and every estimate.

The point estimate (``unit`` "currency") is the expected incremental revenue per send: mean ``p`` × (lift − 1) ×
line revenue. Products are ranked by it, so a plan chooses them by expected incremental revenue. Its interval
combines the 5th/95th percentiles of a seeded bootstrap of mean ``p`` over the group's customers with the prior's
interval. ``value`` gives the group's expected orders and revenue with and without the send
(:class:`~tools.effect.send_value.SendValue`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import sklearn
from scipy import sparse

from agent.settings import Settings
from tools.copywriting import format_price
from tools.effect.effect_tool import N_BOOTSTRAP, EffectEstimate, EffectRequest, EffectResult
from tools.effect.purchases.history import DAY, PRODUCT_CODE, shop_history
from tools.effect.purchases.ranking import NextMonthRanker
from tools.effect.send_value import Amount, SendValue
from tools.effect.uplift import ASSUMPTION, LearnedLift, LiftPrior, hillstrom_prior, load_learned_lift
from tools.saved_models import load_saved, save_model

if TYPE_CHECKING:
    from tools.shop import Shop

__all__ = ["CAVEAT", "METRIC", "PurchaseEffect", "orders_fingerprint"]

log = logging.getLogger(__name__)

SEED = 42
MIN_HISTORY_DAYS = 120
"""Order history a shop needs for its purchase model: two 30-day label windows, with features before each."""
Z_90 = 1.6448536269514722
CAVEAT = "what a message adds is the Hillstrom e-mail lift in visits, assumed to carry over to purchases"
METRIC = (
    "expected incremental revenue per send over 30 days: the purchase model's probability that the customer buys "
    "the product anyway (organic) × (uplift prior − 1) × a typical order line's revenue; " + ASSUMPTION
)


def orders_fingerprint(shop: Shop) -> str:
    """Return a hash of the shop's order lines and catalog size: a saved ranker is reused only for the same data."""
    orders = shop.orders if shop.orders is not None else pd.DataFrame()
    digest = int(pd.util.hash_pandas_object(orders, index=False).to_numpy().sum())
    return f"{digest:016x}-{len(orders)}-{len(shop.products)}"


def _product_pattern(shop: Shop) -> str | None:
    """The retail shop learns from its stock codes only (not postage or fees); an imported shop from every product."""
    return PRODUCT_CODE if shop.name == "retail" else None


class PurchaseEffect:
    """Each group's expected incremental revenue per send of a product, its orders and revenue, and the factors.

    Same interface as :class:`~tools.effect.effect_tool.EffectTool`: :meth:`predict` and :attr:`model_card`.

    Args:
        shop: A shop with order lines and prices.
        ranker: A next-month ranker fitted on the shop's orders up to its last day.
        prior: The uplift prior.
        seed: Seed of the bootstrap (the same request always gets the same interval).
        learned: What ``campaign train`` learned from the shop's own campaign outcomes (None: none yet). Where it
            has evidence for a product, its posterior lift replaces the prior: a lift the shop measured itself.
    """

    def __init__(self, shop: Shop, ranker: NextMonthRanker, prior: LiftPrior, seed: int = SEED,
                 learned: LearnedLift | None = None) -> None:
        if shop.orders is None or shop.orders.empty or not shop.has_prices:
            raise ValueError(f"shop {shop.name!r} has no priced order lines")
        self.ranker, self.prior, self.seed, self.learned = ranker, prior, seed, learned
        self.currency = shop.currency
        lines = shop_history(shop.orders, product_pattern=_product_pattern(shop))
        products = shop.products.assign(product_id=shop.products["product_id"].astype(str)).set_index("product_id")
        self.titles = products["title"].astype(str)
        quantity = lines.groupby("product_id")["quantity"].median()
        unit_price = lines.groupby("product_id")["unit_price"].median()
        price = products["price"].astype("float64").fillna(unit_price.reindex(products.index))
        self.quantity = quantity.reindex(products.index).fillna(1.0).clip(lower=1.0)
        self.line_revenue = (self.quantity * price).fillna(0.0)
        self.price = price
        self.customer_ids = pd.Index(sorted(lines["customer_id"].unique()))
        self.product_ids = pd.Index(products.index)
        pairs = lines[["customer_id", "product_id"]].drop_duplicates()
        rows = self.customer_ids.get_indexer(pairs["customer_id"])
        cols = self.product_ids.get_indexer(pairs["product_id"])
        keep = (rows >= 0) & (cols >= 0)
        self.bought = sparse.csr_matrix((np.ones(int(keep.sum()), dtype=bool), (rows[keep], cols[keep])),
                                        shape=(len(self.customer_ids), len(self.product_ids)))
        recent = lines[lines["timestamp"] >= int(shop.today.timestamp()) - 30 * DAY]
        self.recent_invoices = recent.groupby("product_id")["order_id"].nunique()
        self.shop_customers = pd.Index(shop.customers["customer_id"].astype(str))
        self._card: dict[str, Any] = {
            "name": "PurchaseEffect",
            "what": "expected incremental revenue per send: organic purchase probability × (uplift prior − 1) × "
                    "order line revenue",
            "metric": METRIC,
            "caveat": CAVEAT,
            "assumption": ASSUMPTION if learned is None else (
                f"{learned.summary()}; it replaces the Hillstrom prior for the products and customers those "
                f"campaigns cover. Elsewhere: {ASSUMPTION}"),
            "learned": learned.card() if learned is not None else None,
            "organic_model": {
                "name": "NextMonthRanker", "trained_to": str(ranker.cut), "train_cuts": ranker.train_cuts,
                "validation": "campaign bench shop --json (validation month 2011-10-09..11-08 on retail)",
            },
            "uplift_prior": prior.model_dump(),
            "data": {"shop": shop.name, "order_lines": len(lines), "customers_with_orders": len(self.customer_ids),
                     "products": len(self.product_ids), "currency": self.currency},
            "line_revenue": "median quantity per order line in the history × current catalog price",
            "interval": f"90%: bootstrap of the group's mean organic probability ({N_BOOTSTRAP} resamples, seed "
                        f"{seed}) × the uplift prior's 90% interval",
            "seed": seed,
        }

    @classmethod
    def load_or_train(cls, shop: Shop, settings: Settings) -> PurchaseEffect:
        """Build the tool with the shop's ranker, loaded if saved for the same orders, else trained and saved.

        Args:
            shop: A shop with priced order lines.
            settings: Settings (``models_dir``, the Hillstrom file's folder, seed).

        Raises:
            ValueError: The shop has less than :data:`MIN_HISTORY_DAYS` of priced order history.
        """
        path = settings.models_dir / "effect" / f"purchase_ranker-{shop.name}.joblib"
        fingerprint = f"{orders_fingerprint(shop)}-{sklearn.__version__}"
        saved = load_saved(path, dict)
        ranker = saved.get("ranker") if saved and saved.get("fingerprint") == fingerprint else None
        if not isinstance(ranker, NextMonthRanker):
            lines = shop_history(shop.orders, product_pattern=_product_pattern(shop)) if shop.orders is not None \
                else pd.DataFrame({"timestamp": []})
            span = (int(lines["timestamp"].max()) - int(lines["timestamp"].min())) // DAY if len(lines) else 0
            if span < MIN_HISTORY_DAYS:
                raise ValueError(f"shop {shop.name!r} has {span} days of priced order history; its purchase model "
                                 f"needs at least {MIN_HISTORY_DAYS} (two 30-day training windows and features)")
            log.info("training the next-month purchase ranker of shop %s", shop.name)
            categories = shop.products.set_index(shop.products["product_id"].astype(str))["category"] \
                if "category" in shop.products.columns else None
            cut = pd.Timestamp(int(shop.today.timestamp()) + 1, unit="s")  # every line up to the last day
            ranker = NextMonthRanker(categories=categories, seed=settings.seed,
                                     product_pattern=_product_pattern(shop)).fit(shop.orders, cut)
            save_model({"fingerprint": fingerprint, "ranker": ranker}, path)
        return cls(shop, ranker, hillstrom_prior(settings, "any"), seed=settings.seed,
                   learned=load_learned_lift(settings.models_dir, shop.name))

    @property
    def model_card(self) -> dict[str, Any]:
        """Return what the estimate is, the models and data behind it, and the stated assumption."""
        return self._card

    def predict(self, req: EffectRequest) -> EffectResult:
        """Estimate, per product, the group's expected incremental revenue per send, with its value and factors.

        Raises:
            ValueError: If a customer or product id is not in the shop.
        """
        cids, pids = list(dict.fromkeys(req.customer_ids)), list(dict.fromkeys(req.product_ids))
        codes, distinct, rows = self._scored_as(cids)
        unknown_p = [p for p in pids if p not in self.product_ids]
        if unknown_p:
            raise ValueError(f"unknown product ids: {unknown_p}")
        weights = np.bincount(codes, minlength=len(distinct)).astype(np.float64)
        n, m, k = len(cids), len(pids), len(distinct)
        p_distinct = np.asarray(self._score(np.repeat(distinct, m).tolist(), np.tile(pids, k).tolist()),
                                dtype=np.float64).reshape(k, m)
        p = p_distinct[codes]
        rng = np.random.default_rng(self.seed)
        boot = rng.multinomial(n, weights / n, size=N_BOOTSTRAP) @ p_distinct / n  # bootstrap × products
        mean_low, mean_high = np.quantile(boot, [0.05, 0.95], axis=0)
        cols = self.product_ids.get_indexer(pd.Index(pids))
        known = rows >= 0
        bought = self.bought[rows[known]][:, cols].toarray().astype(np.float64)
        already = weights[known] @ bought if known.any() else np.zeros(m)
        lift_ids = [str(c) for c in distinct]
        estimates = []
        for j, pid in enumerate(pids):
            lift, source = self._lift(lift_ids, pid)
            value = self._value(p[:, j], float(mean_low[j]), float(mean_high[j]), self.line_revenue[pid], lift, source)
            per_send = value.incremental_revenue.scaled(1.0 / n)
            estimates.append(EffectEstimate(
                product_id=pid, metric=self._card["metric"], point=per_send.point, low=per_send.low,
                high=per_send.high, n_customers=n, already_rated=int(already[j]), unit="currency",
                value=self.for_group(value, req),
                factors=self._factors(pid, p[:, j], int(already[j]), value, sampled=req.sample_of is not None),
            ))  # fmt: skip
        return EffectResult(estimates=estimates, model_card=self._card)

    def _scored_as(self, customer_ids: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return who each customer is scored as: ``(codes, distinct, rows)``.

        Customer ``i`` is scored as ``distinct[codes[i]]``, each distinct customer once (here every customer is
        itself); ``rows`` are the distinct customers' rows of :attr:`bought` (−1: no order history).

        Raises:
            ValueError: If a customer id is not in the shop.
        """
        unknown = [c for c in customer_ids if c not in self.shop_customers]
        if unknown:
            raise ValueError(f"unknown customer ids: {unknown[:10]}")
        distinct = np.asarray(customer_ids, dtype=object)
        return np.arange(len(customer_ids)), distinct, self.customer_ids.get_indexer(pd.Index(customer_ids))

    def _score(self, customer_ids: list[str], product_ids: list[str]) -> np.ndarray:
        """Return the organic P(buys in the next 30 days) of each (customer, product) pair."""
        return np.asarray(self.ranker.score(customer_ids, product_ids), dtype=np.float64)

    @staticmethod
    def for_group(value: SendValue, req: EffectRequest) -> SendValue:
        """Return ``value`` scaled to the group the request's customers are a sample of (itself when they are all)."""
        return value.scaled(req.sample_of) if req.sample_of is not None else value

    def _lift(self, customer_ids: list[str], product_id: str) -> tuple[Amount, str]:
        """Return the relative lift of a send of ``product_id`` to the group, and where it comes from.

        The shop's learned lift when its campaigns sent this product (their customers take their own cell's
        posterior, the others the product's pooled posterior), else the Hillstrom prior.
        """
        if self.learned is not None and any(v.product_id == product_id for v in self.learned.variants):
            g = self.learned.group_lift(customer_ids, product_id)
            used = ", ".join(c.plan_id for c in self.learned.campaigns)
            return Amount(point=g.lift, low=g.low, high=g.high), f"learned from campaign(s) {used}"
        return Amount(point=self.prior.lift, low=self.prior.low, high=self.prior.high), self.prior.source

    def _value(self, p: np.ndarray, mean_low: float, mean_high: float, line_revenue: float, lift: Amount,
               source: str) -> SendValue:
        """Return the group's expected orders and revenue, with and without a send, from probabilities ``p``."""
        n = p.size

        def count(probabilities: np.ndarray, low: np.ndarray, high: np.ndarray) -> Amount:
            sd = float(np.sqrt(np.sum(probabilities * (1 - probabilities))))
            return Amount(point=float(probabilities.sum()), low=max(0.0, float(low.sum()) - Z_90 * sd),
                          high=min(float(n), float(high.sum()) + Z_90 * sd))

        organic = count(p, p, p)
        sent = [np.minimum(p * x, 1.0) for x in (lift.point, lift.low, lift.high)]
        with_send = count(*sent)
        incremental = Amount(point=float(p.sum()) * (lift.point - 1), low=n * mean_low * (lift.low - 1),
                             high=n * mean_high * (lift.high - 1))
        return SendValue(
            customers=n, currency=self.currency or "", line_revenue=float(line_revenue), organic_orders=organic,
            with_send_orders=with_send, incremental_orders=incremental,
            organic_revenue=organic.scaled(line_revenue), with_send_revenue=with_send.scaled(line_revenue),
            incremental_revenue=incremental.scaled(line_revenue), lift=lift, lift_source=source,
        )

    def _factors(self, pid: str, p: np.ndarray, already: int, value: SendValue, sampled: bool = False) -> list[str]:
        """Phrase the estimate: who would buy anyway, what an order line is worth, and the borrowed lift.

        ``sampled``: the customers are a uniform sample of the group (the numbers are the sample's).
        """
        n, title = p.size, self.titles.get(pid, pid)
        who = (f"these customers (a uniform sample of {n:,} of them)" if sampled else
               "this customer" if n == 1 else f"these {n:,} customers")
        invoices = int(self.recent_invoices.get(pid, 0))
        before = (f"{'has' if already else 'has not'} bought it before" if n == 1 and not sampled
                  else f"{already:,} of {'the sample' if sampled else 'them'} have bought it before")
        price = format_price(float(self.price.get(pid, 0.0)), self.currency)
        line = format_price(value.line_revenue, self.currency)
        return [
            f"without a message, {who} would buy {title} in the next 30 days with a mean chance of {p.mean():.2%} "
            f"(the shop's purchase model; {before}; {invoices:,} orders of it in the shop's last 30 days)",
            f"a typical order line of it is {self.quantity.get(pid, 1.0):g} × {price} = {line}",
            f"a message is assumed to multiply buying by {value.lift.point:.2f} ({value.lift.low:.2f}–"
            f"{value.lift.high:.2f}): the lift in site visits of the Hillstrom e-mail experiment, not a measured "
            "effect on purchases in this shop" if value.lift_source == self.prior.source else
            f"a message multiplies buying by {value.lift.point:.2f} ({value.lift.low:.2f}–{value.lift.high:.2f}): "
            f"the lift this shop measured against its holdout, {value.lift_source} (Hillstrom prior "
            f"{self.prior.lift:.2f} updated by the outcomes)",
        ]
