"""Product scoring for segments and customers.

Product scoring: popularity, neighbourhood and matrix-factorisation recommenders, content and hybrid models,
cold start, ranking metrics, reasons, and the recommend tool the loop calls.
"""

from tools.recommend.reasons import LIKED_RATING
from tools.recommend.recommend_tool import RecommendRequest, RecommendTool, ScoredProduct

__all__ = [
    "LIKED_RATING",
    "RecommendRequest",
    "RecommendTool",
    "ScoredProduct",
]
