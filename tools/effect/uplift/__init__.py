"""The Hillstrom e-mail experiment: an uplift model of who responds to which e-mail, and its metrics."""

from tools.effect.uplift.model import evaluate_uplift_file, train_uplift
from tools.effect.uplift.prior import ASSUMPTION, LiftPrior, hillstrom_prior, lift_prior

__all__ = [
    "ASSUMPTION",
    "LiftPrior",
    "evaluate_uplift_file",
    "hillstrom_prior",
    "lift_prior",
    "train_uplift",
]
