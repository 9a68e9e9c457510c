"""The ``effect`` tool: how likely a customer group is to like each product, with intervals and reasons.

:class:`EffectTool` serves the click model (:mod:`tools.effect.click_model`: calibrated logistic regression on
bandit feedback DERIVED from real ratings, an impression = a rating event, a click = rating ≥ 4) with
features from the shop's whole rating history. Per product it returns the group's expected positive response
(:data:`ESTIMATE_METRIC`: the mean of ``p_like`` over the group, counting 0 for a customer who has already rated
the title, since promoting it to them cannot produce a new rating), a 90% bootstrap interval over the group's
customers, how many had already rated it, and the top three factors in words with the data behind them.
:class:`~tools.effect.click_model.ClickModel` and :data:`~tools.effect.click_model.METRIC` are importable from here too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from tools.effect.click_features import CATEGORICAL, HistoryStats
from tools.effect.click_model import METRIC, ClickModel
from tools.effect.send_value import SendValue

if TYPE_CHECKING:
    from tools.shop import Shop

__all__ = [
    "ESTIMATE_METRIC",
    "METRIC",
    "N_BOOTSTRAP",
    "ClickModel",
    "EffectEstimate",
    "EffectRequest",
    "EffectResult",
    "EffectTool",
]

N_BOOTSTRAP = 2000
ESTIMATE_METRIC = (
    "expected positive response per send: p_like (probability the customer rates the title ≥ 4 if shown, a "
    "derived click proxy), counted as 0 for customers who have already rated the title"
)


class EffectRequest(BaseModel):
    """Ask how likely a customer group is to like each product if shown it."""

    customer_ids: list[str] = Field(min_length=1, description="The customer, or the customers of a segment.")
    product_ids: list[str] = Field(min_length=1, max_length=100, description="Products to estimate.")
    sample_of: int | None = Field(None, ge=1, description=(
        "When the customers are a uniform sample of a larger group (a plan's planning sample): that group's size. "
        "Rates and intervals are the sample's; a send value's amounts are scaled to the group."))


class EffectEstimate(BaseModel):
    """The predicted effect of showing one product to the group."""

    product_id: str
    metric: str = Field(description="What ``point`` estimates.")
    point: float = Field(
        description="The group's expected response per send, as ``metric`` defines it (the click model: mean "
        "p_like, 0 for customers who already rated the title; a shop of purchases: observed category purchase rate)."
    )
    low: float = Field(description="5th percentile of the bootstrap over the group's customers.")
    high: float = Field(description="95th percentile of the bootstrap over the group's customers.")
    n_customers: int
    already_rated: int = Field(0, description="Customers of the group who have already rated (click model: counted "
                               "0) or bought (purchase rates: counted like anyone) the product.")
    factors: list[str] = Field(description="Top 3 readable factors with the data behind them.")
    unit: Literal["probability", "currency"] = Field(
        "probability", description="What ``point`` counts: a probability per send, or money per send (``value``)."
    )
    value: SendValue | None = Field(
        None, description="On a shop of purchases: expected orders and revenue of the group with and without a send."
    )


class EffectResult(BaseModel):
    """Estimates for every requested product, and the card of the model that made them."""

    estimates: list[EffectEstimate]
    model_card: dict[str, Any]


class EffectTool:
    """Predict ``p_like`` of products for a customer group, with bootstrap intervals and readable factors."""

    def __init__(self, shop: Shop, model: ClickModel) -> None:
        """Use ``model`` with features from the shop's whole rating history."""
        self.model = model
        self.stats = HistoryStats.from_history(shop, shop.interactions)

    @property
    def model_card(self) -> dict[str, Any]:
        """Return the card of the click model (data, derivation, split, held-out metrics)."""
        return self.model.card

    def predict(self, req: EffectRequest) -> EffectResult:
        """Estimate, per product, the group's expected response, a 90% bootstrap interval and the top factors.

        The response of a customer who has already rated the title is 0 (:data:`ESTIMATE_METRIC`); the factors
        explain the model's ``p_like`` over the whole group.

        Raises:
            ValueError: If a customer or product id is not in the shop.
        """
        cids, pids = list(dict.fromkeys(req.customer_ids)), list(dict.fromkeys(req.product_ids))
        crow, irow = self.stats.customer_ids.get_indexer(cids), self.stats.product_ids.get_indexer(pids)
        for kind, ids, rows in (("customer", cids, crow), ("product", pids, irow)):
            if (rows < 0).any():
                missing = [x for x, r in zip(ids, rows, strict=True) if r < 0]
                raise ValueError(f"unknown {kind} ids: {missing}")
        n, m = len(cids), len(pids)
        logit, parts = self.model.explain(self.stats.features(np.tile(crow, m), np.repeat(irow, n)))
        rated = self.stats.rated[crow][:, irow].toarray().T  # products × customers
        p = np.where(rated, 0.0, 1.0 / (1.0 + np.exp(-logit)).reshape(m, n))
        rng = np.random.default_rng(self.model.card["seed"])
        boot = rng.multinomial(n, np.full(n, 1.0 / n), size=N_BOOTSTRAP) @ p.T / n  # bootstrap × products
        low, high = np.quantile(boot, [0.05, 0.95], axis=0)
        mean_parts = parts.reshape(m, n, -1).mean(axis=1)
        names = self.model.factor_names
        return EffectResult(
            estimates=[
                EffectEstimate(
                    product_id=pids[j], metric=ESTIMATE_METRIC, point=float(p[j].mean()), low=float(low[j]),
                    high=float(high[j]), n_customers=n, already_rated=int(rated[j].sum()),
                    factors=[self._describe(names[g], mean_parts[j, g], crow, irow[j])
                             for g in np.argsort(-np.abs(mean_parts[j]), kind="stable")[:3]],
                )
                for j in range(m)
            ],
            model_card=self.model.card,
        )  # fmt: skip

    def _describe(self, name: str, log_odds: float, crow: np.ndarray, item: int) -> str:
        """Phrase one factor with the data behind it, e.g. "title is widely liked (mean rating 4.3 …)"."""
        s, one = self.stats, crow.size == 1
        who, effect = ("this customer" if one else "this group"), f"({log_odds:+.2f} log-odds)"
        where = "for this customer" if one else "in this group"
        kind, _, genre = name.partition(":")
        item_mean = s.item_sum[item] / max(s.item_n[item], 1.0)
        group_mean = s.customer_sum[crow].sum() / max(s.customer_n[crow].sum(), 1.0)
        if name in CATEGORICAL:
            value = s.demographics[name].iloc[crow].mode().iat[0]
            text = f"{who}'s {name.replace('_', ' ')}: {value}{'' if one else ' (most common)'}"
        elif kind == "genre":
            text = f"title is {genre}"
        elif kind == "affinity":
            g = s.genres.index(genre)
            share = s.customer_genre_n[crow, g].sum() / max(s.customer_n[crow].sum(), 1.0)
            strength = "strong" if share > s.genre_share[g] else "weak"
            overall = s.genre_share[g]
            text = f"{strength} {genre} affinity {where}: {share:.0%} of their ratings vs {overall:.0%} overall"
        elif name == "item_mean_rating":  # the verdict follows the model's sign (smoothed, event-weighted means)
            verdict = "widely liked" if log_odds >= 0 else "rated below average"
            text = f"title is {verdict} (mean rating {item_mean:.2f} vs {s.global_mean:.2f} overall)"
        elif name == "item_log_count":
            often = "often" if s.item_n[item] >= np.median(s.item_n) else "rarely"
            text = f"title is {often} rated ({s.item_n[item]:.0f} ratings)"
        elif name == "customer_mean_rating":
            verdict = "rates generously" if log_odds >= 0 else "rates strictly"
            text = f"{who} {verdict} (mean rating {group_mean:.2f} vs {s.global_mean:.2f} overall)"
        else:
            text = f"{who} rated {s.customer_n[crow].mean():.0f} titles{'' if one else ' on average'}"
        return f"{text} {effect}"
