"""RFM scores: recency, frequency and monetary quintiles of each customer, from real events.

* Recency: whole days from the customer's last event to the shop's last event (fewer is better).
* Frequency: number of events (purchases in a shop with money; ratings in MovieLens).
* Monetary: total money spent (sum of event ``value``) — only where the shop records money. MovieLens has
  no prices, so its customers get R and F only: monetary is reported as not available, never invented.

Scores 1–5 come from the quintile cut points of the value over all customers with at least one event
(``numpy.quantile`` at 0.2, 0.4, 0.6, 0.8, linear interpolation): F and M score 1 + the number of cut
points strictly below the value; R scores 1 + the number of cut points strictly above the recency. Many
equal values (most CDNOW customers bought once) share a score, so some scores can be unused.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tools.shop import Shop

QUANTILES = (0.2, 0.4, 0.6, 0.8)
SPEND_BANDS = ("low", "medium", "high")
_SECONDS_PER_DAY = 86_400


def rfm_rule(has_monetary: bool) -> str:
    """Return the scoring rule in words (for reports and prompts).

    Args:
        has_monetary: Whether the shop records money.

    Returns:
        One paragraph.
    """
    text = (
        "R, F, M are 1–5 quintile scores over customers with at least one event: recency = days since the "
        "customer's last event before the shop's last event (fewer days score higher), frequency = number "
        "of events, monetary = total spend; spend band: M 1–2 low, 3 medium, 4–5 high."
    )
    return text if has_monetary else text + " This shop records no money: monetary is not available."


def _score(values: np.ndarray, higher_is_better: bool) -> np.ndarray:
    cuts = np.quantile(values, QUANTILES)
    if higher_is_better:
        return 1 + (values[:, None] > cuts[None, :]).sum(axis=1)
    return 1 + (values[:, None] < cuts[None, :]).sum(axis=1)


def spend_band(m_score: int) -> str:
    """Return the spend band of an M score: 1–2 "low", 3 "medium", 4–5 "high"."""
    return SPEND_BANDS[0] if m_score <= 2 else SPEND_BANDS[1] if m_score == 3 else SPEND_BANDS[2]


def compute_rfm(shop: Shop) -> pd.DataFrame:
    """Compute the RFM table of a shop.

    Args:
        shop: The shop; money comes from ``interactions["value"]`` when :attr:`Shop.has_monetary`.

    Returns:
        One row per customer with at least one event, indexed by customer_id: ``recency_days`` (int),
        ``frequency`` (int), ``monetary`` (float, NaN without money), ``r``, ``f``, ``m`` (int; ``m`` is
        <NA> without money), ``rfm`` (e.g. "545", or "54-" without money) and ``spend_band`` (None without
        money).
    """
    events = shop.interactions
    if events.empty:
        columns = ["recency_days", "frequency", "monetary", "r", "f", "m", "rfm", "spend_band"]
        return pd.DataFrame(columns=columns).rename_axis("customer_id")
    end = int(events["timestamp"].max())
    grouped = events.groupby("customer_id")
    table = pd.DataFrame({"last": grouped["timestamp"].max(), "frequency": grouped.size().astype("int64")})
    table["recency_days"] = ((end - table["last"]) // _SECONDS_PER_DAY).astype("int64")
    table["r"] = _score(table["recency_days"].to_numpy(dtype=float), higher_is_better=False)
    table["f"] = _score(table["frequency"].to_numpy(dtype=float), higher_is_better=True)
    if shop.has_monetary:
        table["monetary"] = grouped["value"].sum().round(2)
        table["m"] = pd.array(_score(table["monetary"].to_numpy(dtype=float), higher_is_better=True), dtype="Int64")
        table["spend_band"] = table["m"].map(lambda m: spend_band(int(m)))
        table["rfm"] = table["r"].astype(str) + table["f"].astype(str) + table["m"].astype(str)
    else:
        table["monetary"] = np.nan
        table["m"] = pd.array([pd.NA] * len(table), dtype="Int64")
        table["spend_band"] = None
        table["rfm"] = table["r"].astype(str) + table["f"].astype(str) + "-"
    return table[["recency_days", "frequency", "monetary", "r", "f", "m", "rfm", "spend_band"]]
