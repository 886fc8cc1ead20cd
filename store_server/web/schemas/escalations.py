"""Models of escalations to managers: their chosen channel, and "I'll take it" from a link."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from store_server.web.schemas import Strict
from store_server.web.schemas.me import PushSubscriptionIn

__all__ = ["EscalationChannelIn", "EscalationChannelOut", "PushSubscriptionIn", "TakeIn"]


class EscalationChannelIn(Strict):
    """How this manager hears of escalations away from the console ("" for the console only)."""

    channel: Literal["", "push", "sms", "email"]
    phone: Annotated[str | None, Field(max_length=32)] = None  # E.164, needed for sms


class EscalationChannelOut(BaseModel):
    """The manager's choice (the phone number itself is not echoed)."""

    channel: str
    phone_set: bool
    push_subscribed: bool


class TakeIn(Strict):
    """The token of an "I'll take it" link (from the link's fragment)."""

    token: Annotated[str, Field(min_length=1, max_length=200)]
