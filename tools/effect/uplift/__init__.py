"""The Hillstrom e-mail experiment: an uplift model of who responds to which e-mail, and its metrics."""

from tools.effect.uplift.model import evaluate_uplift_file, train_uplift

__all__ = [
    "evaluate_uplift_file",
    "train_uplift",
]
