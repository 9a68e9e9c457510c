"""The effect tool of the ``hillstrom`` shop: incremental visits per e-mail, from the prior or the learned lift.

A product of the shop is one of the experiment's e-mails. Per group and product the estimate (:data:`METRIC`) is
the expected incremental response per send: the group's response without a message × (relative lift − 1).

* Before the shop has outcomes: the lift is the Hillstrom prior (both e-mails pooled, so both products are
  estimated alike) and the response without a message is the experiment's no-e-mail visit rate.
* After ``campaign train`` has learned from its campaigns (:mod:`tools.effect.uplift.learned`): each customer takes
  the posterior lift of the cell (segment × e-mail) they were in, and their segment's holdout rate; the estimate,
  the factors and the model card's ``assumption`` name the campaigns learned from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from agent.settings import Settings
from tools.effect.effect_tool import EffectEstimate, EffectRequest, EffectResult
from tools.effect.uplift import (
    DEV_FILE,
    GroupLift,
    LearnedLift,
    LogLiftPrior,
    hillstrom_heterogeneity,
    lift_prior,
    load_learned_lift,
    log_lift_prior,
    read_experiment,
)

if TYPE_CHECKING:
    from tools.shop import Shop

__all__ = ["METRIC", "LiftEffect", "hillstrom_log_prior"]

Z_90 = 1.6448536269514722
METRIC = ("expected incremental response per send (two-week site visit): the group's response without a message × "
          "(relative lift of the e-mail − 1); the lift is the Hillstrom prior until the shop's own campaign outcomes "
          "are learned, then their posterior per segment and e-mail")


def hillstrom_log_prior(settings: Settings) -> tuple[LogLiftPrior, float]:
    """Return the prior of a variant's log lift and the no-e-mail visit rate.

    The prior is the Hillstrom lift of both e-mails pooled, its sd widened by the experiment's between-cell spread.

    Raises:
        UpliftDataError: The Hillstrom file is missing or malformed.
    """
    data = read_experiment(settings.shared_data_dir / DEV_FILE)
    prior = lift_prior(data, "any", seed=settings.seed)
    return log_lift_prior(prior, hillstrom_heterogeneity(data)), prior.control_rate


class LiftEffect:
    """Each group's expected incremental response per e-mail, from the prior or what the shop learned.

    Same interface as :class:`~tools.effect.effect_tool.EffectTool`: :meth:`predict` and :attr:`model_card`.

    Args:
        shop: The shop (its products are the e-mails).
        prior: The prior of a variant's log lift.
        prior_baseline: Response without a message before any outcome.
        learned: What the shop learned from its outcomes, or None.
    """

    def __init__(self, shop: Shop, prior: LogLiftPrior, prior_baseline: float, learned: LearnedLift | None) -> None:
        self.prior, self.prior_baseline, self.learned = prior, prior_baseline, learned
        self.titles = shop.products.set_index(shop.products["product_id"].astype(str))["title"].astype(str)
        self.customers = set(shop.customers["customer_id"].astype(str))
        if learned is None:
            assumption = (f"no campaign outcomes of shop {shop.name!r} yet: every e-mail is assumed to raise visits by "
                          f"the Hillstrom prior lift {prior.lift:.2f} ({prior.source}; prior sd of the log lift "
                          f"{prior.sd:.3f})")
        else:
            assumption = learned.summary()
        self._card: dict[str, Any] = {
            "name": "LiftEffect",
            "what": "expected incremental visits per send: response without a message × (relative lift − 1)",
            "metric": METRIC,
            "assumption": assumption,
            "prior": prior.model_dump(),
            "prior_baseline": prior_baseline,
            "learned": learned.card() if learned else None,
            "data": {"shop": shop.name, "customers": len(self.customers), "products": len(self.titles)},
            "interval": "90%: the group's mean of each customer's posterior 5th/95th percentile of the lift",
        }

    @classmethod
    def for_shop(cls, shop: Shop, settings: Settings) -> LiftEffect:
        """Build the tool with the Hillstrom prior and what ``campaign train`` learned for the shop, if anything."""
        prior, baseline = hillstrom_log_prior(settings)
        return cls(shop, prior, baseline, load_learned_lift(settings.models_dir, shop.name))

    @property
    def model_card(self) -> dict[str, Any]:
        """Return what the estimate is, the prior, and the campaigns learned from."""
        return self._card

    def group_lift(self, customer_ids: list[str], product_id: str) -> GroupLift:
        """Return a group's lift of one e-mail: learned when the shop has learned, else the prior."""
        if self.learned is not None:
            return self.learned.group_lift(customer_ids, product_id)
        low, high = np.exp(self.prior.mean - Z_90 * self.prior.sd), np.exp(self.prior.mean + Z_90 * self.prior.sd)
        b = self.prior_baseline
        return GroupLift(lift=float(np.exp(self.prior.mean)), low=float(low), high=float(high), baseline=b,
                         incremental=b * (float(np.exp(self.prior.mean)) - 1), incremental_low=b * (float(low) - 1),
                         incremental_high=b * (float(high) - 1), from_cells=0, from_variant=0,
                         from_prior=len(customer_ids))

    def predict(self, req: EffectRequest) -> EffectResult:
        """Estimate, per e-mail, the group's incremental visits per send with a 90% interval and three factors.

        Raises:
            ValueError: If a customer or product id is not in the shop.
        """
        cids, pids = list(dict.fromkeys(req.customer_ids)), list(dict.fromkeys(req.product_ids))
        unknown_c = [c for c in cids if c not in self.customers]
        unknown_p = [p for p in pids if p not in self.titles.index]
        if unknown_c:
            raise ValueError(f"unknown customer ids: {unknown_c[:10]}")
        if unknown_p:
            raise ValueError(f"unknown product ids: {unknown_p}")
        estimates = []
        for pid in pids:
            g = self.group_lift(cids, pid)
            estimates.append(EffectEstimate(
                product_id=pid, metric=METRIC, point=g.incremental, low=min(g.incremental_low, g.incremental),
                high=max(g.incremental_high, g.incremental), n_customers=len(cids), factors=self._factors(pid, g)))
        return EffectResult(estimates=estimates, model_card=self._card)

    def _factors(self, pid: str, g: GroupLift) -> list[str]:
        """Phrase the estimate: the response without a message, the lift and where it was learned."""
        who = "this customer" if g.from_cells + g.from_variant + g.from_prior == 1 else "this group"
        lines = [f"without a message {who} would visit with a chance of {g.baseline:.1%}",
                 f"the {self.titles[pid]} is expected to multiply visits by {g.lift:.2f} ({g.low:.2f}–{g.high:.2f})"]
        if self.learned is None:
            lines.append(f"that lift is the Hillstrom prior ({self.prior.lift:.2f}, both e-mails pooled): this shop "
                         "has no campaign outcomes yet")
        else:
            used = ", ".join(c.plan_id for c in self.learned.campaigns)
            lines.append(f"learned from campaign {used}: {g.from_cells:,} customers by their own segment's measured "
                         f"lift, {g.from_variant:,} by the e-mail's pooled lift, {g.from_prior:,} by the prior")
        return lines
