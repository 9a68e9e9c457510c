"""The Upworthy headline click-through model.

The Upworthy headline click-through model: features, fine-tuned encoders, the within-test model, evidence
from the closest tested headlines, the pairs benchmark and training.
"""

from tools.effect.headlines.model import HeadlineModel, HeadlineRating
from tools.effect.headlines.training import DEFAULT_FINE_TUNE, headline_ctr_model, score_pairs_file

__all__ = [
    "DEFAULT_FINE_TUNE",
    "HeadlineModel",
    "HeadlineRating",
    "headline_ctr_model",
    "score_pairs_file",
]
