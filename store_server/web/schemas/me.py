"""Models of `/api/v1/me`: the shopper's own API (consents, check-in, tags, push, ...)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

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


class CheckinOut(BaseModel):
    """Where the shopper checked in, the alerts raised, and how many orders are hers here."""

    checked_in: bool
    where: str
    alerts: int
    orders_linked: int = Field(
        description="her open orders at this store: 0 means the staff have no order to bring"
    )


class ClaimIn(Strict):
    """The token from an order's claim link (`#claim=...`), posted by the phone page."""

    store_id: int
    token: Annotated[str, Field(min_length=1, max_length=200)]


class ClaimOut(BaseModel):
    """The order now linked to the shopper."""

    claimed: bool
    order_number: str
    status: str
    already_yours: bool


class PauseIn(Strict):
    """Pause arrival detection for a number of minutes (0 resumes at once).

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
    pickup_email: str | None = Field(description="kept only while arrival alerts are on")
    pickup_phone: str | None = Field(description="kept only while arrival alerts are on")
    timezone: str
    consents: list[dict[str, Any]]
    detection_paused_until: float | None = Field(
        description="Unix seconds while arrival detection is paused; None when it is not"
    )


class SightingIn(Strict):
    """The app heard one of the store's beacons."""

    beacon: Annotated[str, Field(min_length=3, max_length=100, description="its registered id")]
    rssi: Annotated[int, Field(ge=-127, le=20)]
    seen_at: Annotated[float, Field(gt=0, description="the phone's clock, Unix seconds")]


class RegionIn(Strict):
    """Core Location woke the app on entering or leaving the store's iBeacon region."""

    event: Literal["enter", "exit"]
    at: Annotated[float, Field(gt=0, description="when iOS decided it: the phone's clock")]


class SightingsIn(Strict):
    """Store beacons the app heard since its last report; the app's state and the region
    event that woke it, if any (a report may then carry no sighting: leaving, it hears none)."""

    store_id: RowId
    sightings: Annotated[list[SightingIn], Field(max_length=200)] = []
    app_state: Literal["foreground", "background"] | None = None
    region: RegionIn | None = None

    @model_validator(mode="after")
    def _something(self) -> SightingsIn:
        if not self.sightings and self.region is None:
            raise ValueError("report at least one sighting or a region event")
        return self


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

    order_id: int = Field(description="stable key: one entry per order")
    order_number: str
    store_id: int
    status: str = Field(description="the order's status: placed, ready, arrived, handed_over")
    stage: str = Field(
        description="the step to show: preparing, ready, arrived, on_the_way, handed_over"
    )
    staff_on_the_way: str | None = Field(
        description='first name of the staffer who said "On my way", until the handover'
    )
    handed_over_at: float | None = Field(description="Unix seconds; None until handed over")


class PickupsOut(BaseModel):
    """A shopper's open pickups and those handed over in the last day."""

    pickups: list[PickupOut]


class PendingSurveyOut(BaseModel):
    """A survey the shopper has not answered (answer it with `POST /me/surveys/{id}`)."""

    id: int
    store_id: int
    order_number: str | None
    question: str
    sent_at: float


class PendingSurveysOut(BaseModel):
    """The shopper's unanswered surveys, oldest first."""

    surveys: list[PendingSurveyOut]


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


class InboxPerson(BaseModel):
    """How to reach a person at the store that sent the message (either may be empty)."""

    phone: str
    url: str


class InboxMessage(BaseModel):
    """A kept message, as the live in-app event carried it (`id` is its message id)."""

    id: str
    kind: str
    title: str
    body: str
    url: str | None = None
    expires_at: float | None = None
    data: dict[str, Any]
    person: InboxPerson | None = None


class InboxEntryOut(BaseModel):
    """One entry of the shopper's inbox."""

    store_id: int
    sent_at: float
    seen: bool
    message: InboxMessage


class InboxOut(BaseModel):
    """Offers sent to the shopper, kept whatever the connection, newest first."""

    messages: list[InboxEntryOut]


class ErasedOut(BaseModel):
    """Everything that named the shopper is gone."""

    erased: bool


class ConsentsSetOut(BaseModel):
    """The store whose consents were set, and how many are given now."""

    store_id: int
    consents: int


class PausedOut(BaseModel):
    """Until when arrival detection is paused (null: not paused)."""

    paused_until: float | None


class SightingsOut(BaseModel):
    """What became of a report: sightings taken, used as evidence, ignored per reason."""

    accepted: int
    used: int
    ignored: dict[str, int]


class SurveyAnsweredOut(BaseModel):
    """The answer is kept."""

    answered: bool


class RemovedOut(BaseModel):
    """Whether there was something to forget."""

    removed: bool
