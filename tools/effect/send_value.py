"""What sending a message is worth in a shop of purchases: expected orders and revenue, with and without the send.

A shop's order log shows what customers bought, never what a message caused. The value of a send is therefore
built from two parts, each named wherever it is shown:

* the **organic baseline** (no send): each customer's probability of buying the product in the next 30 days from
  the shop's own purchase model, and the revenue of a typical order line of it;
* the **uplift prior**: the relative lift of an e-mail in the real, randomised Hillstrom experiment. It measured
  visits, not purchases, so applying it to purchases is an assumption (:data:`ASSUMPTION`).

These are plain data models; :class:`tools.effect.purchases.PurchaseEffect` fills them.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from tools.effect.uplift import ASSUMPTION

__all__ = ["ASSUMPTION", "Amount", "SendValue"]


class Amount(BaseModel):
    """A predicted quantity with its 90% interval."""

    point: float
    low: float
    high: float

    def scaled(self, factor: float) -> Amount:
        """Return the amount for ``factor`` times as many customers (intervals scaled alike: an approximation)."""
        return Amount(point=self.point * factor, low=self.low * factor, high=self.high * factor)

    def __add__(self, other: Amount) -> Amount:
        """Add two amounts; the bounds add too, which makes the sum's interval conservative (at least 90%)."""
        return Amount(point=self.point + other.point, low=self.low + other.low, high=self.high + other.high)


class SendValue(BaseModel):
    """Expected orders and revenue of a product over ``customers`` in the next 30 days, with and without a send.

    Intervals (90%): ``organic_*`` and ``with_send_*`` are predictive intervals of the count (customers buy or not:
    the sum of their probabilities, normal approximation, plus the lift prior's interval for ``with_send``);
    ``incremental_*`` is the interval of the expectation (a bootstrap over customers × the lift prior's interval).
    Revenue is orders × :attr:`line_revenue`.
    """

    customers: int = Field(description="Customers the amounts are for (a segment, or one variant's sends).")
    currency: str
    line_revenue: float = Field(description="Revenue of a typical order line of the product: median quantity "
                                            "per line in the shop's history × current price.")
    organic_orders: Amount = Field(description="Expected buyers of the product in 30 days with no send.")
    with_send_orders: Amount = Field(description="Expected buyers if every one of them is sent the message.")
    incremental_orders: Amount = Field(description="Buyers the send adds: organic × (lift − 1).")
    organic_revenue: Amount
    with_send_revenue: Amount
    incremental_revenue: Amount
    lift: Amount = Field(description="The uplift prior: relative lift of a message (Hillstrom e-mail experiment).")
    lift_source: str
    assumption: str = ASSUMPTION

    def scaled(self, customers: int) -> SendValue:
        """Return the value for ``customers`` customers like these (e.g. a variant's sends out of its segment)."""
        factor = customers / self.customers if self.customers else 0.0
        amounts = {name: getattr(self, name).scaled(factor) for name in (
            "organic_orders", "with_send_orders", "incremental_orders", "organic_revenue", "with_send_revenue",
            "incremental_revenue")}
        return self.model_copy(update={"customers": customers, **amounts})

    def with_index(self, index: Amount) -> SendValue:
        """Return the value of a message whose copy multiplies the response by ``index`` (e.g. a headline index).

        The incremental orders and revenue are multiplied by the index (bounds by its bounds); the orders and revenue
        with the send become organic + incremental, their bounds scaled by the same ratio as their point.
        """
        extra = {name: Amount(point=getattr(self, name).point * index.point, low=getattr(self, name).low * index.low,
                              high=getattr(self, name).high * index.high)
                 for name in ("incremental_orders", "incremental_revenue")}
        sent = {}
        for kind in ("orders", "revenue"):
            old, organic = getattr(self, f"with_send_{kind}"), getattr(self, f"organic_{kind}")
            point = organic.point + extra[f"incremental_{kind}"].point
            ratio = point / old.point if old.point else 1.0
            sent[f"with_send_{kind}"] = Amount(point=point, low=old.low * ratio, high=old.high * ratio)
        return self.model_copy(update={**extra, **sent})
