"""From a marketer's words to customers.

From a marketer's words to customers: the structured audience filter, English and Chinese audience terms
turned into filters, and the profiles tool that retrieves matching portraits.
"""

from tools.audience.filters import AudienceFilter
from tools.audience.profiles import AudienceQuery, AudienceResult, AudienceTable, ProfilesTool

__all__ = [
    "AudienceFilter",
    "AudienceQuery",
    "AudienceResult",
    "AudienceTable",
    "ProfilesTool",
]
