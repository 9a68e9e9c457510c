"""The scale-test shop's data: purchase summaries and the sparse customer × product matrix of every replica.

SCALE TEST DATA, derived from the real retail shop: what the models and the plan loop read, replicated per
replica (:func:`~tools.scale.replicas.replica_table`), never 100M order lines:

* ``matrix``: a ``scipy.sparse`` CSR matrix replicas × catalog products, each replica's row its source customer's
  money spent per product times the replica's jitter factor;
* ``summaries``: one row per replica (purchases, spend jittered, first and last activity shifted);
* ``shop``: a :class:`~tools.shop.Shop` named ``<source>-scale-<size>`` whose events are purchase summaries: for each
  replica, its source's :data:`TOP_PRODUCTS` products with most spend, one event each at the source's last
  purchase of it shifted by the replica's shift, its money jittered. The catalog, prices and offers are the real
  shop's. Interest weights of the portraits' segmentation are computed from these events.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tools.scale.replicas import size_label
from tools.shop import Shop

TOP_PRODUCTS = 5
_DAY = 86_400


@dataclass(frozen=True)
class ScaleShop:
    """A scale-test shop.

    Attributes:
        shop: The shop the plan loop reads (replica customers, summary events, the real catalog).
        replicas: ``customer_id``, ``source_id``, ``shift_days``, ``spend_factor`` per replica.
        matrix: Replicas × products (``product_ids``) CSR matrix of money spent, jittered.
        product_ids: Column labels of ``matrix`` (the real catalog).
        summaries: Per replica: ``customer_id``, ``n_purchases``, ``total_spend``, ``first_active``, ``last_active``.
        label: E.g. "scale test: 10k replicas of the real retail customers".
    """

    shop: Shop
    replicas: pd.DataFrame
    matrix: sp.csr_matrix
    product_ids: pd.Index
    summaries: pd.DataFrame
    label: str

    @property
    def size(self) -> int:
        """Return the number of replicas."""
        return len(self.replicas)


def _source_pairs(source: Shop) -> pd.DataFrame:
    """Per real customer and product: events, money spent, first and last purchase."""
    events = source.interactions[source.interactions["product_id"].notna()]
    money = events["value"] if "value" in events.columns else pd.Series(1.0, index=events.index)
    return (events.assign(_money=money.fillna(0.0))
            .groupby(["customer_id", "product_id"], sort=True)
            .agg(n=("timestamp", "size"), money=("_money", "sum"), first=("timestamp", "min"),
                 last=("timestamp", "max"), quantity=("quantity", "sum") if "quantity" in events.columns
                 else ("timestamp", "size"))
            .reset_index())  # fmt: skip


def build_scale_shop(source: Shop, replicas: pd.DataFrame, name: str | None = None) -> ScaleShop:
    """Replicate the real shop's purchase summaries and customer × product matrix for every replica.

    Args:
        source: The real shop (with purchase events).
        replicas: :func:`~tools.scale.replicas.replica_table` of the scale shop.
        name: The scale shop's name; default ``<source>-scale-<size>``.

    Returns:
        The scale shop; the same for the same replicas (a replica of a real customer without purchase events, e.g.
        one whose orders were all cancelled, has an empty row and no events).
    """
    name = name or f"{source.name}-scale-{size_label(len(replicas))}"
    pairs = _source_pairs(source)
    customers = pd.Index(np.sort(pd.unique(pd.concat([pairs["customer_id"], replicas["source_id"]]).astype(str))))
    products = pd.Index(source.products["product_id"].astype(str))
    rows, cols = customers.get_indexer(pairs["customer_id"]), products.get_indexer(pairs["product_id"].astype(str))
    keep = cols >= 0
    real = sp.csr_matrix((pairs["money"].to_numpy(np.float64)[keep], (rows[keep], cols[keep])),
                         shape=(len(customers), len(products)))
    src = customers.get_indexer(replicas["source_id"].astype(str))
    factor = replicas["spend_factor"].to_numpy(np.float64)
    shift = replicas["shift_days"].to_numpy(np.int64) * _DAY
    matrix = (sp.diags(factor) @ real[src]).tocsr().astype(np.float32)

    per_customer = pairs.groupby("customer_id", sort=True).agg(
        n_purchases=("n", "sum"), total_spend=("money", "sum"), first_active=("first", "min"),
        last_active=("last", "max")).reindex(customers, fill_value=0)  # fmt: skip
    own = per_customer.iloc[src]
    summaries = pd.DataFrame({
        "customer_id": replicas["customer_id"].to_numpy(), "n_purchases": own["n_purchases"].to_numpy(),
        "total_spend": np.round(own["total_spend"].to_numpy() * factor, 2),
        "first_active": own["first_active"].to_numpy() - shift, "last_active": own["last_active"].to_numpy() - shift,
    })  # fmt: skip

    top = (pairs.sort_values(["customer_id", "money", "product_id"], ascending=[True, False, True])
           .groupby("customer_id", sort=True).head(TOP_PRODUCTS))  # fmt: skip
    top_rows = customers.get_indexer(top["customer_id"])
    starts = np.searchsorted(top_rows, np.arange(len(customers)))
    counts = np.diff(np.append(starts, len(top_rows)))
    n_each = counts[src]
    replica_of_event = np.repeat(np.arange(len(replicas)), n_each)
    offsets = np.arange(int(n_each.sum())) - np.repeat(np.cumsum(n_each) - n_each, n_each)
    event_rows = starts[src][replica_of_event] + offsets
    picked = top.iloc[event_rows]
    events = pd.DataFrame({
        "customer_id": replicas["customer_id"].to_numpy(dtype=object)[replica_of_event],
        "product_id": picked["product_id"].astype(str).to_numpy(dtype=object),
        "rating": np.nan,
        "timestamp": picked["last"].to_numpy(np.int64) - shift[replica_of_event],
        "event_type": "purchase",
        "value": np.round(picked["money"].to_numpy(np.float64) * factor[replica_of_event], 2),
        "quantity": picked["quantity"].to_numpy(np.int64),
    })  # fmt: skip
    real_customers = source.customers.set_index("customer_id")
    people = real_customers.reindex(replicas["source_id"]).reset_index(drop=True)
    people.insert(0, "customer_id", replicas["customer_id"].to_numpy())
    label = f"scale test: {len(replicas)} replicas of the real {source.name} customers"
    shop = replace(source, name=name, customers=people, interactions=events, orders=None)
    return ScaleShop(shop, replicas.reset_index(drop=True), matrix, products, summaries, label)
