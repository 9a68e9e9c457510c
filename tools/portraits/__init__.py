"""Customer portraits and the store that retrieves them.

Customer portraits: who each customer is (demographics, interests, RFM, lifecycle), the K-means segments they
fall into, the text and metadata that describe them, and the Chroma-backed store (with its in-memory mirror)
that retrieves them. Erasure removes a customer everywhere.
"""

from tools.portraits.documents import genre_key
from tools.portraits.erasure import ErasureReport, erase_customer
from tools.portraits.portrait import Lifecycle
from tools.portraits.segments import AudienceSegment, SegmentProfile, split_audience
from tools.portraits.store import PortraitStore, open_portrait_store

__all__ = [
    "AudienceSegment",
    "ErasureReport",
    "Lifecycle",
    "PortraitStore",
    "SegmentProfile",
    "erase_customer",
    "genre_key",
    "open_portrait_store",
    "split_audience",
]
