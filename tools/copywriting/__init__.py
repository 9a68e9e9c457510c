"""Copy: messages for a segment, channel and product, grounded in catalog facts.

Copy: the channels and their limits, grounding in catalog facts (titles, years and genres; for a shop with prices
also the price, the offers that exist, category and attributes), how prices and offers are written
(:func:`format_price`), and the copy tool that asks the LLM for messages (constrained, validated, with a fact
template as fallback).
"""

from tools.copywriting.attribute_words import ATTRIBUTE_WORDS_ZH, attribute_words
from tools.copywriting.catalog_titles import CatalogTitles, shop_titles
from tools.copywriting.channels import CHANNEL_LIMITS, MIN_MESSAGE_ROOM, Channel, ChannelLimits, Language
from tools.copywriting.copywriter import (
    CopyRequest,
    CopyResult,
    CopyTool,
    CopyUnavailableError,
    RewriteError,
    RewriteFeedback,
    catalog_values,
)
from tools.copywriting.grounding import (
    CJK,
    GENRES_ZH,
    ProductFacts,
    display_title,
    grounding_problems,
    short_title,
    title_names,
)
from tools.copywriting.prices import format_price, offer_discount_text, offer_validity_text

__all__ = [
    "ATTRIBUTE_WORDS_ZH",
    "CHANNEL_LIMITS",
    "CJK",
    "GENRES_ZH",
    "MIN_MESSAGE_ROOM",
    "CatalogTitles",
    "Channel",
    "ChannelLimits",
    "CopyRequest",
    "CopyResult",
    "CopyTool",
    "CopyUnavailableError",
    "Language",
    "ProductFacts",
    "RewriteError",
    "RewriteFeedback",
    "attribute_words",
    "catalog_values",
    "display_title",
    "format_price",
    "grounding_problems",
    "offer_discount_text",
    "offer_validity_text",
    "shop_titles",
    "short_title",
    "title_names",
]
