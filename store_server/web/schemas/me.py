"""Models of `/api/v1/me`: the shopper's own API (consents, check-in, tags, push, ...)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from store_server.vocabulary import Channel, DeviceKind, Purpose
from store_server.web.schemas import RowId, Strict


class ConsentIn(Strict):
    """One thing a shopper says yes to: a purpose, through a channel."""

    purpose: Purpose
    channel: Channel


class CheckinIn(Strict):
    """A shopper says "I'm here", optionally at a curbside bay."""

    store_id: RowId
    bay: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class PauseIn(Strict):
    """Pause arrival detection for a number of minutes (0 resumes).

    An hour is the usual ask; a day is the most, beyond which arrival alerts should rather be
    switched off.
    """

    minutes: Annotated[int, Field(ge=0, le=24 * 60)] = 60


class ConsentsIn(Strict):
    """The full set of consents for one store (replaces the previous set)."""

    store_id: RowId
    consents: Annotated[list[ConsentIn], Field(max_length=8)]


class ProfileOut(BaseModel):
    """What the store knows of the shopper, as the shopper sees it."""

    shopper_id: int
    first_name: str
    email: str | None
    phone: str | None
    timezone: str
    consents: list[dict[str, Any]]


class SightingIn(Strict):
    """The app heard one of the store's beacons."""

    beacon: Annotated[str, Field(min_length=3, max_length=100, description="its registered id")]
    rssi: Annotated[int, Field(ge=-127, le=20)]
    seen_at: Annotated[float, Field(gt=0, description="the phone's clock, Unix seconds")]


class SightingsIn(Strict):
    """Store beacons the app heard since its last report."""

    store_id: RowId
    sightings: Annotated[list[SightingIn], Field(min_length=1, max_length=200)]


class TagIn(Strict):
    """A key-fob or car tag the shopper registers (its id as in docs/protocol.md)."""

    kind: DeviceKind
    id: Annotated[str, Field(min_length=3, max_length=100)]
    label: Annotated[str, Field(min_length=1, max_length=100)] = "tag"


class TagOut(BaseModel):
    """A registered tag."""

    tag_id: int
    kind: str
    id: str
    label: str


class SurveyAnswerIn(Strict):
    """The answer to "how likely are you to recommend us?" (0 to 10)."""

    score: Annotated[int, Field(ge=0, le=10)]
    comment: Annotated[str, Field(max_length=1000)] | None = None


class PickupOut(BaseModel):
    """What the shopper sees of one of their pickup orders."""

    order_number: str
    store_id: int
    status: str
    staff_on_the_way: str | None


class PickupsOut(BaseModel):
    """A shopper's open pickups."""

    pickups: list[PickupOut]


# base64url as browsers give it (unpadded), padding tolerated; the decoded lengths are checked
# by store_server/messaging/push.py.
_BASE64URL = r"^[A-Za-z0-9_-]+={0,2}$"


class PushKeysIn(Strict):
    """A subscription's keys, base64url as `PushSubscription.toJSON()` gives them."""

    p256dh: Annotated[
        str,
        Field(
            min_length=1,
            max_length=200,
            pattern=_BASE64URL,
            description="the browser's ECDH share: a 65-byte uncompressed P-256 point",
        ),
    ]
    auth: Annotated[
        str,
        Field(
            min_length=1,
            max_length=100,
            pattern=_BASE64URL,
            description="the 16-byte authentication secret",
        ),
    ]


class PushSubscriptionIn(Strict):
    """The browser's `PushSubscription.toJSON()`: the push service's endpoint and the keys."""

    endpoint: Annotated[
        str,
        Field(
            min_length=1,
            max_length=1000,
            description="https (plain http only for a push service on 127.0.0.1 or localhost)",
        ),
    ]
    expiration_time: Annotated[float | None, Field(alias="expirationTime")] = None
    keys: PushKeysIn


class PushUnsubscribeIn(Strict):
    """The endpoint of a subscription to forget."""

    endpoint: Annotated[str, Field(min_length=1, max_length=1000)]


class PushSubscribedOut(BaseModel):
    """A stored subscription (the endpoint is not echoed back: it is a capability)."""

    subscribed: bool
    created: bool
