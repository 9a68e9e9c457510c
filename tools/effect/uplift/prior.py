"""The uplift prior: how much an e-mail raised response in a real randomised experiment (Hillstrom, 2008).

A shop's transaction log shows what customers bought, never what a message caused: it has no campaign
exposures. Until a shop's own campaign outcomes exist, the incremental effect of a message is borrowed from the
MineThatData e-mail experiment, in which 64,000 customers were randomly sent a men's e-mail, a women's e-mail or
no e-mail (this project's copy: the 48,000-row development file). The prior is the **relative lift** of the
two-week visit rate, treated over control, with a percentile-bootstrap 90% interval over customers resampled
within each arm.

Assumption, stated wherever the prior is used: Hillstrom measured *visits*, not purchases; applying its
relative lift to a shop's purchase propensity assumes a message multiplies buying as it multiplied visiting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from agent.settings import Settings
from tools.effect.uplift.model import DEV_FILE, read_experiment

Treatment = Literal["any", "mens", "womens"]
ASSUMPTION = (
    "incremental effect = organic purchase probability × (relative lift − 1), the lift borrowed from the Hillstrom "
    "e-mail experiment (2008, randomised): it measured two-week site visits, not purchases, so applying it to "
    "purchase propensity is an assumption until this shop's own campaign outcomes exist"
)


class LiftPrior(BaseModel):
    """The relative lift of an e-mail over no e-mail in the Hillstrom experiment, with its 90% interval."""

    treatment: Treatment = Field(description="Which e-mail: men's, women's, or either ('any').")
    lift: float = Field(description="Treated visit rate / control visit rate.")
    low: float = Field(description="5th percentile of the bootstrap.")
    high: float = Field(description="95th percentile of the bootstrap.")
    treated_rate: float
    control_rate: float
    treated: int = Field(description="Customers in the treated arm(s).")
    control: int = Field(description="Customers sent no e-mail.")
    source: str = "Hillstrom MineThatData e-mail experiment (2008), development file; outcome: visit within two weeks"
    assumption: str = ASSUMPTION


def lift_prior(
    data: pd.DataFrame, treatment: Treatment = "any", n_bootstrap: int = 2000, seed: int = 42
) -> LiftPrior:
    """Measure the relative visit lift of ``treatment`` over no e-mail, with a 90% bootstrap interval.

    Args:
        data: The experiment as read by :func:`tools.effect.uplift.model.read_experiment` (``arm``, ``visit``).
        treatment: ``"mens"``, ``"womens"`` or ``"any"`` (both e-mails pooled).
        n_bootstrap: Bootstrap resamples (customers resampled within each arm).
        seed: Seed of the bootstrap.

    Returns:
        The prior.
    """
    arms = ["mens", "womens"] if treatment == "any" else [treatment]
    treated = data.loc[data["arm"].isin(arms), "visit"].to_numpy(dtype=np.float64)
    control = data.loc[data["arm"] == "none", "visit"].to_numpy(dtype=np.float64)
    rng = np.random.default_rng(seed)
    # The mean of a resample of 0/1 outcomes is a binomial draw over the arm's size: the same bootstrap, vectorised.
    boot_t = rng.binomial(treated.size, treated.mean(), n_bootstrap) / treated.size
    boot_c = rng.binomial(control.size, control.mean(), n_bootstrap) / control.size
    low, high = np.percentile(boot_t / boot_c, [5, 95])
    return LiftPrior(
        treatment=treatment, lift=float(treated.mean() / control.mean()), low=float(low), high=float(high),
        treated_rate=float(treated.mean()), control_rate=float(control.mean()), treated=int(treated.size),
        control=int(control.size),
    )


def hillstrom_prior(settings: Settings, treatment: Treatment = "any", path: Path | None = None) -> LiftPrior:
    """Read the Hillstrom development file (``settings.shared_data_dir``) and return its lift prior.

    Raises:
        UpliftDataError: The file is missing or malformed.
    """
    return lift_prior(read_experiment(path or settings.shared_data_dir / DEV_FILE), treatment, seed=settings.seed)
