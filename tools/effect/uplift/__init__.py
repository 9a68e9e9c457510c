"""The Hillstrom e-mail experiment: an uplift model, its lift prior, and the lift a shop learns from its outcomes."""

from tools.effect.uplift.learned import (
    HOLDOUT_ARM,
    CampaignOutcomes,
    GroupLift,
    LearnedLift,
    LogLiftPrior,
    hillstrom_heterogeneity,
    learn_lift,
    load_learned_lift,
    log_lift_prior,
    save_learned_lift,
)
from tools.effect.uplift.model import DEV_FILE, evaluate_uplift_file, read_experiment, train_uplift
from tools.effect.uplift.prior import ASSUMPTION, LiftPrior, hillstrom_prior, lift_prior

__all__ = [
    "ASSUMPTION",
    "DEV_FILE",
    "HOLDOUT_ARM",
    "CampaignOutcomes",
    "GroupLift",
    "LearnedLift",
    "LiftPrior",
    "LogLiftPrior",
    "evaluate_uplift_file",
    "hillstrom_heterogeneity",
    "hillstrom_prior",
    "learn_lift",
    "lift_prior",
    "load_learned_lift",
    "log_lift_prior",
    "read_experiment",
    "save_learned_lift",
    "train_uplift",
]
