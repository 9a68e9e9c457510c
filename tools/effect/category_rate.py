"""The observed 30-day purchase rate of a product's category in a segment: the retail shop's effect, for now.

Until a model of what a message causes exists for a shop with purchases, its plans use the simplest honest
estimate, read off the history (:data:`METRIC`). It is observed behaviour, not a causal prediction: it says
how often these customers bought from the category anyway, not how many more would buy because of a message.

Definition (:class:`CategoryPurchaseRate`):

* The history is cut into consecutive 30-day windows ending at ``Shop.today`` (the time of the last event):
  window ``k`` holds the purchases with ``today − 30·(k+1) days < time ≤ today − 30·k days``. The oldest window
  may be cut short by the start of the history.
* A customer counts only the windows from the one holding their first purchase up to the latest (``k_first``
  down to 0, i.e. ``k_first + 1`` windows).
* The customer's rate for category ``c`` is the share of those windows in which they bought at least one
  product of ``c``. A product without a category is its own category (its own purchases only).
* A group's point estimate is the mean of its customers' rates, over the customers with at least one purchase
  (a customer with none has no windows, so no rate, and is left out and said so). The 90% interval is the
  5th–95th percentile of a seeded bootstrap over those customers.
* Customers who have bought the product itself before count like any other: repeat purchases are normal in
  this shop, so they are not set to 0 (``already_rated`` only reports how many there are).

Every count comes from one sparse customer × category matrix of windows with a purchase, built once, so a
request of 100 products for 2,000 customers is a slice and a matrix product.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import sparse

from tools.effect.effect_tool import N_BOOTSTRAP, EffectEstimate, EffectRequest, EffectResult

if TYPE_CHECKING:
    from tools.shop import Shop

__all__ = ["METRIC", "WINDOW_DAYS", "CategoryPurchaseRate"]

WINDOW_DAYS = 30
SEED = 42
METRIC = (
    "observed 30-day purchase rate of the product's category (history, not a causal prediction): per customer, "
    "the share of their 30-day windows (from the window of their first purchase to the shop's last day) with at "
    "least one purchase in the category, averaged over the group's customers who have a purchase history; "
    "customers who bought this product before count like any other (repeat purchases are normal, not counted "
    "as 0); a product without a category is its own category"
)
CAVEAT = "observed history, not a model of what a message causes"


class CategoryPurchaseRate:
    """Each group's observed 30-day purchase rate of a product's category, with bootstrap intervals and reasons.

    Same interface as :class:`~tools.effect.effect_tool.EffectTool`: :meth:`predict` and :attr:`model_card`.
    The definition is in the module docstring and in :data:`METRIC`.

    Args:
        shop: A shop whose events include purchases (``event_type`` "purchase").
        window_days: Length of a window in days.
        seed: Seed of the bootstrap (the same request always gets the same interval).

    Raises:
        ValueError: If the shop has no purchase events.
    """

    def __init__(self, shop: Shop, window_days: int = WINDOW_DAYS, seed: int = SEED) -> None:
        events = shop.interactions
        if "event_type" not in events.columns:
            raise ValueError(f"shop {shop.name!r} has no purchase events: its events are ratings")
        bought = events[(events["event_type"] == "purchase") & events["product_id"].notna()]
        if bought.empty:
            raise ValueError(f"shop {shop.name!r} has no purchase events")
        self.window_days, self.seed, self.today = window_days, seed, shop.today
        self.customer_ids = pd.Index(shop.customers["customer_id"].astype(str))
        products = shop.products
        self.product_ids = pd.Index(products["product_id"].astype(str))
        category = products["category"] if "category" in products.columns else pd.Series(None, index=products.index)
        has_category = category.notna() & (category.astype(str).str.strip() != "")
        # A product without a category is its own category: key "product:<id>", label its title.
        keys = np.where(has_category, "category:" + category.astype(str), "product:" + self.product_ids.to_numpy())
        self.product_category, category_keys = pd.factorize(pd.Series(keys))
        titles = products["title"].astype(str).to_numpy()
        first_title = pd.Series(titles).groupby(self.product_category).first()
        self.category_labels = [
            key.removeprefix("category:")
            if key.startswith("category:")
            else f'"{first_title[i]}" (no category: the product itself)'
            for i, key in enumerate(category_keys)
        ]
        self.has_category = [key.startswith("category:") for key in category_keys]
        n_customers, n_categories = len(self.customer_ids), len(category_keys)

        crow = self.customer_ids.get_indexer(bought["customer_id"].astype(str))
        prow = self.product_ids.get_indexer(bought["product_id"].astype(str))
        window = (int(self.today.timestamp()) - bought["timestamp"].to_numpy(dtype="int64")) // (window_days * 86_400)
        keep = (crow >= 0) & (prow >= 0)
        crow, prow, window = crow[keep], prow[keep], window[keep]
        first = np.full(n_customers, -1, dtype="int64")
        np.maximum.at(first, crow, window)
        self.n_windows = (first + 1).astype("float64")  # 0 for a customer without purchases
        triples = pd.DataFrame({"c": crow, "g": self.product_category[prow], "w": window}).drop_duplicates()
        ones = np.ones(len(triples))
        self.window_counts = sparse.csr_matrix(
            (ones, (triples["c"], triples["g"])), shape=(n_customers, n_categories)
        )  # windows with a purchase in the category, per customer (duplicates summed)
        with np.errstate(divide="ignore"):
            inverse = np.where(self.n_windows > 0, 1.0 / self.n_windows, 0.0)
        self.rates = (sparse.diags(inverse) @ self.window_counts).tocsr()
        self.n_with_history = int((self.n_windows > 0).sum())
        self.all_rate = np.asarray(self.rates.sum(axis=0)).ravel() / max(self.n_with_history, 1)
        recent = triples[triples["w"] == 0]
        self.recent_buyers = np.bincount(recent["g"], minlength=n_categories)
        pairs = pd.DataFrame({"c": crow, "p": prow}).drop_duplicates()
        self.bought = sparse.csr_matrix(
            (np.ones(len(pairs), dtype=bool), (pairs["c"], pairs["p"])), shape=(n_customers, len(self.product_ids))
        )
        span = (int(self.today.timestamp()) - int(bought["timestamp"].min())) // (window_days * 86_400) + 1
        self._card: dict[str, Any] = {
            "name": "CategoryPurchaseRate",
            "what": "observed 30-day purchase rate of the product's category in the group, from the shop's history",
            "caveat": CAVEAT,
            "metric": METRIC,
            "data": {
                "shop": shop.name,
                "purchase_events": int(keep.sum()),
                "customers": n_customers,
                "customers_with_purchases": self.n_with_history,
                "products": len(self.product_ids),
                "categories": int(sum(self.has_category)),
                "products_without_category": int((~has_category).sum()),
            },
            "window_days": window_days,
            "windows": int(span),
            "as_of": self.today.isoformat(),
            "history_start": pd.Timestamp(int(bought["timestamp"].min()), unit="s", tz="UTC").isoformat(),
            "interval": f"90% bootstrap over the group's customers ({N_BOOTSTRAP} resamples, seed {seed})",
            "seed": seed,
        }

    @property
    def model_card(self) -> dict[str, Any]:
        """Return what the estimate is, its data, window and as-of date, and that it is observed, not causal."""
        return self._card

    def predict(self, req: EffectRequest) -> EffectResult:
        """Estimate, per product, the group's observed category purchase rate, a 90% interval and three reasons.

        Customers without a purchase are left out of the rate (``n_customers`` counts the others); a group of
        only such customers gets 0 with ``n_customers`` 0 and a reason that says there is no observed rate. The
        interval is widened to hold the point should the bootstrap percentiles fall a hair beside it.

        Raises:
            ValueError: If a customer or product id is not in the shop.
        """
        cids, pids = list(dict.fromkeys(req.customer_ids)), list(dict.fromkeys(req.product_ids))
        crow, irow = self.customer_ids.get_indexer(cids), self.product_ids.get_indexer(pids)
        for kind, ids, rows in (("customer", cids, crow), ("product", pids, irow)):
            if (rows < 0).any():
                missing = [x for x, r in zip(ids, rows, strict=True) if r < 0]
                raise ValueError(f"unknown {kind} ids: {missing}")
        groups = self.product_category[irow]
        rated = crow[self.n_windows[crow] > 0]
        n, m = rated.size, len(pids)
        rates = self.rates[rated][:, groups].toarray()  # customers × products
        if n:
            point = rates.mean(axis=0)
            rng = np.random.default_rng(self.seed)
            boot = rng.multinomial(n, np.full(n, 1.0 / n), size=N_BOOTSTRAP) @ rates / n  # bootstrap × products
            low, high = np.quantile(boot, [0.05, 0.95], axis=0)
        else:
            point = low = high = np.zeros(m)
        already = np.asarray(self.bought[crow][:, irow].sum(axis=0)).ravel()
        return EffectResult(
            estimates=[
                EffectEstimate(
                    product_id=pids[j], metric=METRIC, point=float(point[j]), low=float(min(low[j], point[j])),
                    high=float(max(high[j], point[j])), n_customers=n, already_rated=int(already[j]),
                    factors=self._factors(groups[j], float(point[j]), n, len(cids), int(already[j])),
                )
                for j in range(m)
            ],
            model_card=self._card,
        )  # fmt: skip

    def _factors(self, group: int, point: float, n: int, size: int, already: int) -> list[str]:
        """Phrase the estimate's data: the group's rate against everyone's, recent buyers, earlier buyers."""
        label, one = self.category_labels[group], size == 1
        who = "this customer" if one else "this group"
        if n:
            rate = f"{who} bought {label} in {_percent(point)} of their 30-day windows"
        else:
            rate = f"{who} has no purchase in the history, so no observed rate (shown as 0) for {label}"
        lines = [
            f"{rate} vs {_percent(self.all_rate[group])} for all {self.n_with_history:,} customers with purchases",
            f"{'category ' if self.has_category[group] else ''}{label}: {self.recent_buyers[group]:,} buyers in the "
            f"last {self.window_days} days (to {self.today:%Y-%m-%d})",
            (f"this customer has {'' if already else 'not '}bought this product before" if one else
             f"{already} of {size} customers have bought this product before")
            + " (repeat buyers count like any other)",
        ]  # fmt: skip
        if 0 < n < size:
            lines.append(f"{size - n} of {size} customers have no purchase in the history: left out of the rate")
        return lines


def _percent(share: float) -> str:
    """Format a share as a percentage, with two decimals below 1% so small rates do not read as 0.0%."""
    return f"{share:.1%}" if share == 0 or share >= 0.01 else f"{share:.2%}"
