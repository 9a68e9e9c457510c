"""Batch scoring of every customer, in shards, in this process or on Ray.

Batch scoring: propensity (``score_propensity``: the purchase ranker's P(buy) per customer and product) and
recommendations (``score_recommendations``: each customer's top products by the recommend tool's model), run by a
``BatchScorer``: ``LocalScorer`` in this process or ``RayScorer`` as Ray tasks; ``scorer_from_settings`` follows
``CAMPAIGN_ENGINE`` and ``CAMPAIGN_RAY_ADDRESS``. ``tables_agree`` compares two engines' tables (scores up to
rounding).
"""

from tools.scoring.agreement import SCORE_ATOL, engines_agree, max_abs_difference, tables_agree
from tools.scoring.engine import (
    DEFAULT_SHARD_SIZE,
    BatchScorer,
    LocalScorer,
    Progress,
    RayScorer,
    scorer_from_settings,
    shards,
)
from tools.scoring.propensity import score_propensity
from tools.scoring.recommendations import score_recommendations

__all__ = [
    "DEFAULT_SHARD_SIZE",
    "SCORE_ATOL",
    "BatchScorer",
    "LocalScorer",
    "Progress",
    "RayScorer",
    "engines_agree",
    "max_abs_difference",
    "score_propensity",
    "score_recommendations",
    "scorer_from_settings",
    "shards",
    "tables_agree",
]
