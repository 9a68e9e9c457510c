"""Product scoring for segments and customers.

Product scoring: popularity, neighbourhood and matrix-factorisation recommenders, content and hybrid models,
cold start, ranking metrics, reasons, and the recommend tool the loop calls.
"""

from tools.recommend.recommend_tool import RecommendRequest, RecommendTool, ScoredProduct

__all__ = [
    "RecommendRequest",
    "RecommendTool",
    "ScoredProduct",
]
