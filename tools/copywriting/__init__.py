"""Copy: messages for a segment, channel and product, grounded in catalog facts.

Copy: the channels and their limits, grounding in catalog facts, and the copy tool that asks the LLM for
messages (constrained, validated, with a fact template as fallback).
"""

from tools.copywriting.channels import CHANNEL_LIMITS, MIN_MESSAGE_ROOM, Channel, ChannelLimits, Language
from tools.copywriting.copywriter import CopyRequest, CopyResult, CopyTool, CopyUnavailableError
from tools.copywriting.grounding import CJK, GENRES_ZH, ProductFacts, display_title, grounding_problems

__all__ = [
    "CHANNEL_LIMITS",
    "CJK",
    "GENRES_ZH",
    "MIN_MESSAGE_ROOM",
    "Channel",
    "ChannelLimits",
    "CopyRequest",
    "CopyResult",
    "CopyTool",
    "CopyUnavailableError",
    "Language",
    "ProductFacts",
    "display_title",
    "grounding_problems",
]
