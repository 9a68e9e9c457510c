"""The Hillstrom uplift prior: the relative visit lift of an e-mail, measured on the real experiment."""

from __future__ import annotations

import pandas as pd
import pytest

from tools.effect.uplift.model import DEV_FILE
from tools.effect.uplift.prior import ASSUMPTION, hillstrom_prior, lift_prior


@pytest.fixture(scope="module")
def experiment(settings) -> pd.DataFrame:
    from tools.effect.uplift.model import read_experiment

    return read_experiment(settings.shared_data_dir / DEV_FILE)


@pytest.mark.parametrize("treatment", ["any", "mens", "womens"])
def test_lift_is_the_ratio_of_visit_rates_with_an_interval_around_it(experiment, treatment):
    prior = lift_prior(experiment, treatment)
    arms = ["Mens E-Mail", "Womens E-Mail"] if treatment == "any" else [f"{treatment.capitalize()} E-Mail"]
    treated = experiment.loc[experiment["segment"].isin(arms), "visit"].mean()
    control = experiment.loc[experiment["segment"] == "No E-Mail", "visit"].mean()
    assert prior.lift == pytest.approx(treated / control)
    assert prior.low < prior.lift < prior.high and prior.low > 1.0  # the e-mails raised visits
    assert prior.control == int((experiment["segment"] == "No E-Mail").sum())


def test_published_rates_are_reproduced_and_the_assumption_is_stated(settings):
    prior = hillstrom_prior(settings, "mens")
    # Published on the full data: no e-mail 10.6%, men's e-mail 18.3% (this is the 75% development copy).
    assert prior.control_rate == pytest.approx(0.106, abs=0.005)
    assert prior.treated_rate == pytest.approx(0.183, abs=0.005)
    assert "visits, not purchases" in prior.assumption and prior.assumption == ASSUMPTION


def test_the_bootstrap_is_seeded(experiment):
    assert lift_prior(experiment, seed=1) == lift_prior(experiment, seed=1)
    assert lift_prior(experiment, seed=1).low != lift_prior(experiment, seed=2).low
