"""Product scoring for segments and customers.

Product scoring: popularity, neighbourhood and matrix-factorisation recommenders, content and hybrid models,
cold start, ranking metrics, reasons, and the recommend tool the loop calls.
"""

from tools.recommend.recommend_tool import RecommendRequest, RecommendResult, RecommendTool, ScoredProduct

__all__ = [
    "RecommendRequest",
    "RecommendResult",
    "RecommendTool",
    "ScoredProduct",
]
