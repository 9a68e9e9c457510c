"""Learning the lift from outcomes: the normal-normal update checked by hand on small tables, and its prior."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pandas as pd
import pytest

from agent.settings import Settings
from tools.effect.uplift import CampaignOutcomes, hillstrom_heterogeneity, learn_lift, log_lift_prior
from tools.effect.uplift.learned import LogLiftPrior, load_learned_lift, save_learned_lift
from tools.effect.uplift.model import read_experiment
from tools.effect.uplift.prior import lift_prior


def _campaign(cells: dict[str, tuple[int, int, int, int]], plan_id: str = "p1") -> CampaignOutcomes:
    """A campaign from counts per segment: (successes, treated, holdout successes, holdout), one row per customer."""
    rows = []
    for segment, (x, n, x0, n0) in cells.items():
        for arm, successes, size in (("V1", x, n), ("holdout", x0, n0)):
            for i in range(size):
                rows.append({"customer_id": f"{segment}-{arm}-{i}", "arm": arm, "segment_id": segment,
                             "channel": "email" if arm == "V1" else None,
                             "product_id": "p" if arm == "V1" else None, "outcome": int(i < successes)})
    return CampaignOutcomes(plan_id=plan_id, shop="s", created_at=datetime(2026, 5, 1, tzinfo=UTC),
                            metric="clicked", table=pd.DataFrame(rows))


def test_one_cell_without_spread_is_the_normal_update_of_the_prior() -> None:
    # 39 of 199 treated, 19 of 199 held out; prior log lift N(0, 1), no spread between segments.
    prior = LogLiftPrior(mean=0.0, sd=1.0, tau=0.0, lift=1.0, source="test")
    learned = learn_lift("s", [_campaign({"a": (39, 199, 19, 199)})], prior, prior_baseline=0.1)
    y = math.log(39.5 / 19.5)  # Haldane: log(39.5/199.5) - log(19.5/199.5) = 0.705886
    se2 = 1 / 39.5 - 1 / 199.5 + 1 / 19.5 - 1 / 199.5  # 0.0253165 + 0.0512821 - 2 x 0.0050125 = 0.0665734
    assert y == pytest.approx(0.705886, abs=1e-6) and se2 == pytest.approx(0.0665734, abs=1e-7)
    variance = 1 / (1 / 1.0 + 1 / se2)  # 0.0665734 / 1.0665734 = 0.0624181
    mean = variance * (0.0 + y / se2)  # 0.0624181 x 10.60313 = 0.661826: pulled a little towards the prior's 0
    (variant,) = learned.variants
    assert variant.mean_log == pytest.approx(0.661826, abs=1e-6) and mean == pytest.approx(0.661826, abs=1e-6)
    assert variant.sd_log == pytest.approx(0.249836, abs=1e-6)  # sqrt(0.0624181)
    assert variant.lift == pytest.approx(1.93833, abs=1e-5)  # exp(0.661826)
    assert (variant.low, variant.high) == pytest.approx((1.28516, 2.92347), abs=1e-5)  # exp(0.6618 -+ 1.6449 x 0.2498)
    (cell,) = learned.cells
    assert cell.shrinkage == 1.0 and cell.mean_log == pytest.approx(variant.mean_log)  # no spread: the variant's
    assert cell.measured_lift == pytest.approx(39.5 / 19.5)
    assert cell.baseline == pytest.approx(20 / 201)  # holdout rate, Beta(1, 1) prior: (19 + 1) / (199 + 2)


def test_partial_pooling_shrinks_a_small_cell_more_than_a_large_one() -> None:
    prior = LogLiftPrior(mean=math.log(1.5), sd=0.3, tau=0.2, lift=1.5, source="test")
    counts = {"big": (300, 1000, 100, 1000), "small": (2, 20, 4, 20)}
    learned = learn_lift("s", [_campaign(counts)], prior, prior_baseline=0.1)
    cells = {c.segment_id: c for c in learned.cells}
    (variant,) = learned.variants
    ys = {k: math.log((x + 0.5) / (n + 0.5)) - math.log((x0 + 0.5) / (n0 + 0.5))
          for k, (x, n, x0, n0) in counts.items()}
    se2 = {k: 1 / (x + 0.5) - 1 / (n + 0.5) + 1 / (x0 + 0.5) - 1 / (n0 + 0.5)
           for k, (x, n, x0, n0) in counts.items()}
    w = {k: 1 / (se2[k] + 0.04) for k in counts}
    var_mu = 1 / (1 / 0.09 + sum(w.values()))
    mu = var_mu * (math.log(1.5) / 0.09 + sum(w[k] * ys[k] for k in counts))
    assert variant.mean_log == pytest.approx(mu) and variant.sd_log == pytest.approx(math.sqrt(var_mu))
    for k, cell in cells.items():
        b = se2[k] / (se2[k] + 0.04)
        assert cell.shrinkage == pytest.approx(b)
        assert cell.mean_log == pytest.approx(b * mu + (1 - b) * ys[k])
        assert cell.sd_log == pytest.approx(math.sqrt(1 / (1 / 0.04 + 1 / se2[k]) + b**2 * var_mu))
    assert cells["small"].shrinkage > 0.9 > 0.3 > cells["big"].shrinkage  # 20 customers barely move the estimate
    assert cells["small"].measured_lift < 1 < cells["small"].lift  # a noisy "negative" cell is pulled up


def test_a_group_takes_its_cells_lift_then_the_variants_then_the_prior() -> None:
    prior = LogLiftPrior(mean=math.log(1.5), sd=0.3, tau=0.2, lift=1.5, source="test")
    learned = learn_lift("s", [_campaign({"big": (300, 1000, 100, 1000)})], prior, prior_baseline=0.1)
    cell = learned.cells[0]
    member = learned.group_lift(["big-V1-0"], "p")
    assert (member.from_cells, member.lift, member.baseline) == (1, pytest.approx(cell.lift), pytest.approx(101 / 1002))
    stranger = learned.group_lift(["someone else"], "p")
    assert stranger.from_variant == 1 and stranger.lift == pytest.approx(learned.variants[0].lift)
    assert stranger.baseline == 0.1
    other = learned.group_lift(["big-V1-0"], "another product")
    assert other.from_prior == 1 and other.lift == pytest.approx(1.5)


def test_learned_lift_round_trips_and_names_its_campaigns(tmp_path) -> None:
    prior = LogLiftPrior(mean=0.0, sd=1.0, tau=0.1, lift=1.0, source="test")
    learned = learn_lift("s", [_campaign({"a": (39, 199, 19, 199)}, "plan42")], prior, prior_baseline=0.1)
    save_learned_lift(learned, tmp_path)
    again = load_learned_lift(tmp_path, "s")
    assert again == learned
    assert load_learned_lift(tmp_path, "nobody") is None
    assert learned.campaigns[0].model_dump() == {"plan_id": "plan42", "created_at": "2026-05-01T00:00:00+00:00",
                                                 "metric": "clicked", "customers": 398, "treated": 199, "holdout": 199}
    assert "plan42 (2026-05-01, n=398)" in learned.summary()


def test_a_campaign_without_holdout_or_mixed_metrics_is_refused() -> None:
    prior = LogLiftPrior(mean=0.0, sd=1.0, tau=0.1, lift=1.0, source="test")
    campaign = _campaign({"a": (3, 10, 1, 10)})
    no_holdout = CampaignOutcomes("p", "s", None, "clicked", campaign.table[campaign.table["arm"] != "holdout"])
    with pytest.raises(ValueError, match="no holdout"):
        learn_lift("s", [no_holdout], prior, 0.1)
    with pytest.raises(ValueError, match="different outcomes"):
        learn_lift("s", [campaign, CampaignOutcomes("q", "s", None, "converted", campaign.table)], prior, 0.1)


def test_the_hillstrom_prior_is_widened_by_the_experiments_own_spread(settings: Settings) -> None:
    data = read_experiment(settings.shared_data_dir / "hillstrom_dev.csv")
    tau = hillstrom_heterogeneity(data)
    assert 0.1 < tau < 0.3  # 0.200: the lift differs across e-mail x merchandise x zip area x channel
    prior = log_lift_prior(lift_prior(data, "any"), tau)
    assert prior.lift == pytest.approx(1.601, abs=1e-3)
    assert tau < prior.sd < tau + 0.01  # the sampling sd of 48,000 customers is small beside the spread
