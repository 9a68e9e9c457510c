"""The channels a campaign can send on, the languages copy is written in, and each channel's length limits.

The brief validates against these, the copywriter fits messages into them and the eval checks them: one
definition for all three.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Channel = Literal["email", "push", "sms"]
Language = Literal["en", "zh"]


class ChannelLimits(BaseModel):
    """Maximum characters per field of one channel's message."""

    headline: int
    body: int
    cta: int
    total: int = Field(description="Limit of the whole rendered message, disclaimer included.")


CHANNEL_LIMITS: dict[str, ChannelLimits] = {
    "email": ChannelLimits(headline=80, body=500, cta=30, total=700),
    "push": ChannelLimits(headline=45, body=120, cta=20, total=200),
    "sms": ChannelLimits(headline=30, body=110, cta=20, total=160),
}

# Shortest message (headline, a sentence, a call to action) that leaves room for real copy.
MIN_MESSAGE_ROOM = 60
