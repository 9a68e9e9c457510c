"""Learning from a shop's campaign outcomes: the uplift prior gives way to the shop's own measured lift.

Method: a **hierarchical normal-normal (empirical-Bayes) update of the log relative lift**, chosen over retraining a
model with the outcomes as labelled data because (1) a shop's first campaigns give a few cells (segment × channel
× variant) of a few hundred customers each — far too little to fit a classifier, but exactly what a Bayesian
update weighs correctly: a large cell moves the estimate, a small one barely; (2) the prior (the Hillstrom lift)
and the evidence are on the same scale (a relative lift of a treated arm over a randomised holdout), so they
combine in closed form, with intervals, and every number can be checked by hand; (3) partial pooling lets a
segment's lift borrow from the variant's other segments instead of taking its own noisy estimate at face value.

Model, per variant ``v`` (a product on a channel) and cell ``s`` (a send-list segment of one campaign):

* observed log relative lift ``y_s = log(p̂_treated / p̂_holdout)`` (0.5 added to every count, Haldane's correction,
  so a cell without a success stays finite), with the delta-method variance
  ``se_s² = 1/(x+½) − 1/(n+½) + 1/(x₀+½) − 1/(n₀+½)``; the holdout is the segment's, or the campaign's whole
  holdout when the segment has none;
* ``y_s ~ N(θ_s, se_s²)``, ``θ_s ~ N(μ_v, τ²)``, ``μ_v ~ N(m₀, s₀²)``;
* prior ``m₀ = log(lift)`` of the Hillstrom experiment (both e-mails pooled, :func:`~tools.effect.uplift.prior.
  lift_prior`); ``τ`` = the spread of the true lift across groups of customers and e-mails, measured in the
  Hillstrom experiment itself (DerSimonian–Laird over its cells: e-mail × merchandise bought × zip area ×
  channel, :func:`hillstrom_heterogeneity`); ``s₀² = (sampling sd of m₀)² + τ²`` — a new shop's campaign is
  assumed to differ from Hillstrom's average as much as Hillstrom's own groups differ from it;
* posteriors (exact for this Gaussian model with known variances): ``w_s = 1/(se_s² + τ²)``,
  ``Var(μ_v|y) = 1/(1/s₀² + Σ w_s)``, ``E(μ_v|y) = Var·(m₀/s₀² + Σ w_s y_s)``; with ``B_s = se_s²/(se_s² + τ²)``,
  ``E(θ_s|y) = B_s E(μ_v|y) + (1 − B_s) y_s`` and ``Var(θ_s|y) = 1/(1/τ² + 1/se_s²) + B_s² Var(μ_v|y)``.

A customer's lift for a product is the posterior of the cell they were in (latest campaign first), else the
variant's, else the prior. Baselines (the response without a message) are the holdout's rate per cell with a
uniform Beta(1, 1) prior. The outcome is the campaign's 0/1 metric (converted, else clicked, else opened).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from tools.effect.uplift.prior import LiftPrior

__all__ = [
    "HOLDOUT_ARM",
    "CampaignOutcomes",
    "CampaignUsed",
    "CellPosterior",
    "GroupLift",
    "LearnedLift",
    "LogLiftPrior",
    "VariantPosterior",
    "hillstrom_heterogeneity",
    "learn_lift",
    "load_learned_lift",
    "log_lift_prior",
    "save_learned_lift",
]

HOLDOUT_ARM = "holdout"
Z_90 = 1.6448536269514722
OUTCOME_COLUMNS = ("customer_id", "arm", "segment_id", "channel", "product_id", "outcome")
LEARNED_FOLDER = "learned"


@dataclass(frozen=True)
class CampaignOutcomes:
    """One launched campaign's outcomes, joined with its send list: the data learning reads (passed in, not fetched).

    Attributes:
        plan_id: The plan.
        shop: The shop it was planned for.
        created_at: When the plan was made.
        metric: Which 0/1 outcome ``outcome`` is (``converted``, ``clicked`` or ``opened``).
        table: One row per customer and arm: ``customer_id``, ``arm`` (a variant id or ``holdout``), ``segment_id``
            (the send list's), ``channel`` and ``product_id`` (the variant's; null for the holdout), ``outcome``
            (0/1).
    """

    plan_id: str
    shop: str
    created_at: datetime | None
    metric: str
    table: pd.DataFrame


class LogLiftPrior(BaseModel):
    """The prior of a variant's log relative lift and the between-group spread ``tau``."""

    mean: float = Field(description="log of the prior relative lift (m0).")
    sd: float = Field(description="Prior sd of a variant's mean log lift: sqrt(sampling sd² + tau²) (s0).")
    tau: float = Field(description="Spread of the true log lift across segments of a variant.")
    lift: float = Field(description="The prior relative lift, exp(mean).")
    source: str


class CampaignUsed(BaseModel):
    """A campaign whose outcomes were learned from (listed in the model card)."""

    plan_id: str
    created_at: str | None
    metric: str
    customers: int = Field(description="Customers with an outcome (treated and holdout).")
    treated: int
    holdout: int


class CellPosterior(BaseModel):
    """One segment × channel × variant cell of a campaign: measured, and after partial pooling."""

    plan_id: str
    segment_id: str
    product_id: str
    channel: str
    n: int
    successes: int
    holdout_n: int
    holdout_successes: int
    measured_lift: float = Field(description="exp(y): the cell's own relative lift (Haldane-corrected).")
    se_log: float
    shrinkage: float = Field(description="B = se²/(se² + tau²): the weight on the variant's mean.")
    mean_log: float
    sd_log: float
    lift: float
    low: float = Field(description="5th percentile of the posterior relative lift.")
    high: float = Field(description="95th percentile.")
    baseline: float = Field(description="Holdout rate of the cell's segment: Beta(1, 1) posterior mean.")


class VariantPosterior(BaseModel):
    """A product on a channel, pooled over every cell of every campaign."""

    product_id: str
    channel: str
    cells: int
    treated: int
    mean_log: float
    sd_log: float
    lift: float
    low: float
    high: float


class GroupLift(BaseModel):
    """A group's predicted relative lift and response without a message, and where each came from."""

    lift: float
    low: float
    high: float
    baseline: float = Field(description="Mean response of the group without a message.")
    incremental: float = Field(description="Mean of baseline × (lift - 1) over the group.")
    incremental_low: float
    incremental_high: float
    from_cells: int = Field(description="Customers whose own campaign cell gave the lift.")
    from_variant: int = Field(description="Customers given the variant's pooled lift.")
    from_prior: int = Field(description="Customers given the prior (no outcomes of this product).")


class LearnedLift(BaseModel):
    """What a shop learned from its campaigns' outcomes."""

    shop: str
    metric: str
    method: str = "hierarchical normal-normal update of the log relative lift (see tools.effect.uplift.learned)"
    prior: LogLiftPrior
    prior_baseline: float = Field(description="Response without a message before any outcome (the prior's "
                                  "control rate).")
    campaigns: list[CampaignUsed]
    variants: list[VariantPosterior]
    cells: list[CellPosterior]
    members: dict[str, tuple[str, str]] = Field(
        default_factory=dict, description="customer_id → (plan_id, segment_id) of their latest campaign.")

    def card(self) -> dict[str, object]:
        """The model card entry: method, prior, campaigns used (plan ids, dates, n), variant posteriors."""
        return {
            "method": self.method, "metric": self.metric, "shop": self.shop,
            "prior": self.prior.model_dump(),
            "campaigns": [c.model_dump() for c in self.campaigns],
            "variants": [v.model_dump() for v in self.variants],
            "cells": len(self.cells),
        }

    def summary(self) -> str:
        """One line naming the campaigns and the learned lift per variant."""
        used = ", ".join(f"{c.plan_id} ({(c.created_at or '')[:10]}, n={c.customers:,})" for c in self.campaigns)
        lifts = "; ".join(f"{v.product_id}/{v.channel} {v.lift:.2f} ({v.low:.2f}–{v.high:.2f})" for v in self.variants)
        return (f"relative lift in {self.metric} learned from campaign{'s' if len(self.campaigns) > 1 else ''} "
                f"{used}: {lifts} (prior {self.prior.lift:.2f}, {self.prior.source})")

    def group_lift(self, customer_ids: list[str], product_id: str, channel: str | None = None) -> GroupLift:
        """Predict a group's relative lift of ``product_id`` (on ``channel``; None: the channel with most evidence).

        Each customer takes the posterior of their latest campaign cell for the variant, else the variant's pooled
        posterior, else the prior; the baseline is their cell's holdout rate, else the campaign's, else the prior's.
        """
        variants = [v for v in self.variants
                    if v.product_id == product_id and (channel is None or v.channel == channel)]
        variant = max(variants, key=lambda v: v.treated, default=None)
        cells = {(c.plan_id, c.segment_id): c for c in self.cells
                 if variant is not None and c.product_id == product_id and c.channel == variant.channel}
        base = self._baselines()
        mean = np.empty(len(customer_ids))
        sd = np.empty(len(customer_ids))
        baseline = np.empty(len(customer_ids))
        source = np.empty(len(customer_ids), dtype=object)
        for i, cid in enumerate(customer_ids):
            member = self.members.get(cid)
            cell = cells.get(member) if member else None
            baseline[i] = base.get(member, base.get((member[0], ""), self.prior_baseline)) if member \
                else self.prior_baseline
            if cell is not None:
                mean[i], sd[i], source[i] = cell.mean_log, cell.sd_log, "cell"
            elif variant is not None:
                mean[i], sd[i], source[i] = variant.mean_log, variant.sd_log, "variant"
            else:
                mean[i], sd[i], source[i] = self.prior.mean, self.prior.sd, "prior"
        incremental = baseline * (np.exp(mean) - 1)
        return GroupLift(
            lift=float(np.exp(mean.mean())), low=float(np.exp((mean - Z_90 * sd).mean())),
            high=float(np.exp((mean + Z_90 * sd).mean())), baseline=float(baseline.mean()),
            incremental=float(incremental.mean()),
            incremental_low=float((baseline * (np.exp(mean - Z_90 * sd) - 1)).mean()),
            incremental_high=float((baseline * (np.exp(mean + Z_90 * sd) - 1)).mean()),
            from_cells=int((source == "cell").sum()), from_variant=int((source == "variant").sum()),
            from_prior=int((source == "prior").sum()),
        )

    def _baselines(self) -> dict[tuple[str, str], float]:
        """Holdout rate per (plan, segment), and per (plan, "") for the campaign's whole holdout."""
        rates: dict[tuple[str, str], float] = {}
        for c in self.cells:
            rates[(c.plan_id, c.segment_id)] = c.baseline
        return rates


def _log_lift(x: np.ndarray, n: np.ndarray, x0: np.ndarray, n0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Haldane-corrected log relative lift and its delta-method standard error."""
    y = np.log((x + 0.5) / (n + 0.5)) - np.log((x0 + 0.5) / (n0 + 0.5))
    se = np.sqrt(1 / (x + 0.5) - 1 / (n + 0.5) + 1 / (x0 + 0.5) - 1 / (n0 + 0.5))
    return y, se


def hillstrom_heterogeneity(data: pd.DataFrame) -> float:
    """Return tau: the DerSimonian–Laird spread of the true log visit lift across the Hillstrom experiment's cells.

    Cells: e-mail (men's, women's) × merchandise bought (men's only, women's only, both) × zip area × channel, each
    against the no-e-mail customers of the same group.

    Args:
        data: The experiment as read by :func:`tools.effect.uplift.model.read_experiment` (``arm``, ``visit``).
    """
    group = ["mens", "womens", "zip_code", "channel"]
    counts = data.groupby([*group, "arm"])["visit"].agg(["sum", "size"]).unstack("arm")
    ys, ses = [], []
    for email in ("mens", "womens"):
        y, se = _log_lift(counts[("sum", email)].to_numpy(float), counts[("size", email)].to_numpy(float),
                          counts[("sum", "none")].to_numpy(float), counts[("size", "none")].to_numpy(float))
        ys.append(y)
        ses.append(se)
    return _dersimonian_laird(np.concatenate(ys), np.concatenate(ses))


def _dersimonian_laird(y: np.ndarray, se: np.ndarray) -> float:
    """Return the DerSimonian–Laird estimate of the between-cell sd (0 when the cells agree within chance)."""
    keep = np.isfinite(y) & np.isfinite(se) & (se > 0)
    y, w = y[keep], 1 / se[keep] ** 2
    if y.size < 2:
        return 0.0
    mean = np.sum(w * y) / np.sum(w)
    q = np.sum(w * (y - mean) ** 2)
    tau2 = (q - (y.size - 1)) / (np.sum(w) - np.sum(w**2) / np.sum(w))
    return float(np.sqrt(max(tau2, 0.0)))


def log_lift_prior(prior: LiftPrior, tau: float) -> LogLiftPrior:
    """Return the prior of a variant's log lift: the Hillstrom lift, its sampling sd widened by ``tau``."""
    sampling = (np.log(prior.high) - np.log(prior.low)) / (2 * Z_90)
    return LogLiftPrior(mean=float(np.log(prior.lift)), sd=float(np.hypot(sampling, tau)), tau=float(tau),
                        lift=prior.lift, source=prior.source)


def _cells(campaign: CampaignOutcomes) -> pd.DataFrame:
    """Count each segment × channel × variant cell's treated and holdout customers and successes."""
    table = campaign.table
    missing = [c for c in OUTCOME_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"campaign {campaign.plan_id}: outcomes lack column(s) {missing}")
    table = table.assign(outcome=table["outcome"].astype(float), segment_id=table["segment_id"].fillna("").astype(str))
    held = table[table["arm"] == HOLDOUT_ARM]
    treated = table[table["arm"] != HOLDOUT_ARM]
    if held.empty:
        raise ValueError(f"campaign {campaign.plan_id} has no holdout outcomes: nothing to measure a lift against")
    holdout = held.groupby("segment_id")["outcome"].agg(["sum", "size"])
    everyone = (float(held["outcome"].sum()), float(len(held)))
    cells = (treated.groupby(["segment_id", "product_id", "channel"])["outcome"].agg(["sum", "size"])
             .reset_index().rename(columns={"sum": "x", "size": "n"}))
    own = cells["segment_id"].map(holdout["size"]).fillna(0) > 0
    cells["x0"] = np.where(own, cells["segment_id"].map(holdout["sum"]), everyone[0])
    cells["n0"] = np.where(own, cells["segment_id"].map(holdout["size"]), everyone[1])
    cells["plan_id"] = campaign.plan_id
    return cells


def learn_lift(shop: str, campaigns: list[CampaignOutcomes], prior: LogLiftPrior, prior_baseline: float) -> LearnedLift:
    """Update the lift prior with a shop's campaigns' outcomes (the model is in the module docstring).

    Args:
        shop: The shop.
        campaigns: Its campaigns' outcomes, oldest first (a later campaign's segment wins for a customer in both).
        prior: The prior of a variant's log lift and the between-segment spread.
        prior_baseline: Response without a message before any outcome.

    Returns:
        The posteriors per variant and cell, the campaigns used and who was in which cell.

    Raises:
        ValueError: No campaign, a metric that differs between campaigns, or a campaign without holdout outcomes.
    """
    if not campaigns:
        raise ValueError(f"shop {shop}: no campaign outcomes to learn from")
    metrics = {c.metric for c in campaigns}
    if len(metrics) > 1:
        raise ValueError(f"shop {shop}: campaigns measure different outcomes {sorted(metrics)}; learn one at a time")
    cells = pd.concat([_cells(c) for c in campaigns], ignore_index=True)
    y, se = _log_lift(cells["x"].to_numpy(float), cells["n"].to_numpy(float), cells["x0"].to_numpy(float),
                      cells["n0"].to_numpy(float))
    cells = cells.assign(y=y, se=se)
    tau2 = prior.tau**2
    variants: list[VariantPosterior] = []
    posteriors: list[CellPosterior] = []
    for (product, channel), group in cells.groupby(["product_id", "channel"], sort=True):
        w = 1 / (group["se"] ** 2 + tau2)
        var_mu = 1 / (1 / prior.sd**2 + w.sum())
        mu = var_mu * (prior.mean / prior.sd**2 + (w * group["y"]).sum())
        variants.append(VariantPosterior(
            product_id=str(product), channel=str(channel), cells=len(group), treated=int(group["n"].sum()),
            mean_log=float(mu), sd_log=float(np.sqrt(var_mu)), lift=float(np.exp(mu)),
            low=float(np.exp(mu - Z_90 * np.sqrt(var_mu))), high=float(np.exp(mu + Z_90 * np.sqrt(var_mu)))))
        for row in group.itertuples(index=False):
            b = row.se**2 / (row.se**2 + tau2) if tau2 > 0 else 1.0
            mean = b * mu + (1 - b) * row.y
            cond = 1 / (1 / tau2 + 1 / row.se**2) if tau2 > 0 else 0.0
            sd = float(np.sqrt(cond + b**2 * var_mu))
            posteriors.append(CellPosterior(
                plan_id=row.plan_id, segment_id=row.segment_id, product_id=str(product), channel=str(channel),
                n=int(row.n), successes=int(row.x), holdout_n=int(row.n0), holdout_successes=int(row.x0),
                measured_lift=float(np.exp(row.y)), se_log=float(row.se), shrinkage=float(b), mean_log=float(mean),
                sd_log=sd, lift=float(np.exp(mean)), low=float(np.exp(mean - Z_90 * sd)),
                high=float(np.exp(mean + Z_90 * sd)), baseline=float((row.x0 + 1) / (row.n0 + 2))))
    members: dict[str, tuple[str, str]] = {}
    used = []
    for c in campaigns:
        t = c.table
        members.update(zip(t["customer_id"].astype(str),
                           zip([c.plan_id] * len(t), t["segment_id"].fillna("").astype(str), strict=True), strict=True))
        used.append(CampaignUsed(plan_id=c.plan_id, created_at=c.created_at.isoformat() if c.created_at else None,
                                 metric=c.metric, customers=int(t["customer_id"].nunique()),
                                 treated=int((t["arm"] != HOLDOUT_ARM).sum()),
                                 holdout=int((t["arm"] == HOLDOUT_ARM).sum())))
    return LearnedLift(shop=shop, metric=campaigns[0].metric, prior=prior, prior_baseline=prior_baseline,
                       campaigns=used, variants=variants, cells=posteriors, members=members)


def _path(models_dir: Path, shop: str) -> Path:
    return models_dir / LEARNED_FOLDER / f"lift-{shop}.json"


def save_learned_lift(learned: LearnedLift, models_dir: Path) -> Path:
    """Write what a shop learned to ``models_dir/learned/lift-<shop>.json`` (written whole, then renamed)."""
    path = _path(models_dir, learned.shop)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    partial.write_text(learned.model_dump_json(), encoding="utf-8")
    partial.replace(path)
    return path


def load_learned_lift(models_dir: Path, shop: str) -> LearnedLift | None:
    """Return what a shop learned from its outcomes, or None when it has learned nothing yet."""
    path = _path(models_dir, shop)
    if not path.is_file():
        return None
    return LearnedLift.model_validate(json.loads(path.read_text(encoding="utf-8")))
