"""Models of escalations to managers: their chosen channel, and "I'll take it" from a link."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, RootModel

from store_server.assistance.views import HelpRequestOut
from store_server.pickup.views import ArrivalOut
from store_server.web.schemas import Strict
from store_server.web.schemas.me import PushSubscriptionIn

__all__ = [
    "EscalationChannelIn",
    "EscalationChannelOut",
    "PushSubscriptionIn",
    "TakeIn",
    "TakenOut",
]


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


class TakenPickupOut(ArrivalOut):
    """A pickup alert taken from the link, as the tablets see it."""

    kind: Literal["pickup"] = "pickup"


class TakenHelpOut(HelpRequestOut):
    """A help request taken from the link, as the tablets see it."""

    kind: Literal["help"] = "help"


class TakenOut(RootModel[Annotated[TakenPickupOut | TakenHelpOut, Field(discriminator="kind")]]):
    """What "I'll take it" acknowledged: a pickup alert or a help request, named by `kind`."""
