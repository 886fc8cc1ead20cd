"""Request and response models (pydantic v2): the one validation layer, and the OpenAPI source."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from store_server.web.errors import ApiError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


_UUID_TEXT = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# Registered ids as the frames above build them (`registered_id()`) and docs/protocol.md spells
# them: what a store registers its beacons under and a shopper their key-fob or car tag.
_U16_TEXT = r"(?:0|[1-9][0-9]{0,4})"
REGISTERED_ID_PATTERNS = {
    "ibeacon": re.compile(rf"^{_UUID_TEXT}:{_U16_TEXT}:{_U16_TEXT}$"),
    "altbeacon": re.compile(rf"^{_UUID_TEXT}:{_U16_TEXT}:{_U16_TEXT}$"),
    "eddystone_uid": re.compile(r"^[0-9a-f]{20}:[0-9a-f]{12}$"),
}
_REGISTERED_ID_SHAPES = {
    "ibeacon": "uuid:major:minor",
    "altbeacon": "id1:id2:id3 (id1 a uuid)",
    "eddystone_uid": "namespace (20 hex digits):instance (12 hex digits)",
}


def registered_id_problem(kind: str, identifier: str) -> str | None:
    """Why `identifier` is not a registered id of that kind, or None when it is one."""
    pattern = REGISTERED_ID_PATTERNS.get(kind)
    if pattern is None or not pattern.match(identifier):
        return f"not a {kind} id: expected {_REGISTERED_ID_SHAPES.get(kind, 'a known kind')}"
    if kind != "eddystone_uid" and any(int(n) > 0xFFFF for n in identifier.split(":")[1:]):
        return "major and minor are at most 65535"
    return None


class Reason(BaseModel):
    """One signal behind an arrival: which, heard by which gateway, how strong."""

    signal: str
    gateway: str | None = None
    rssi: int | None = None
    detail: str | None = None


class ArrivalOut(BaseModel):
    """A pickup arrival as staff see it: first name, order and where; never contact details."""

    alert_id: int
    store_id: int
    visit_id: int
    order_id: int
    first_name: str
    order_number: str
    items: list[dict[str, Any]]
    where: str
    arrived_at: float
    status: Literal["raised", "acknowledged", "handed_over", "expired"]
    acknowledged_by: str | None = None
    acknowledged_at: float | None = None
    escalation_level: int = 0
    confidence: float
    reasons: list[Reason]


class ArrivalsOut(BaseModel):
    """The open arrivals of a store."""

    arrivals: list[ArrivalOut]


M = TypeVar("M", bound=BaseModel)


def parse_body(model: type[M], payload: Any) -> M:
    """Validate a decoded JSON body, or raise a 400 naming every bad field."""
    if payload is None:
        raise ApiError(400, "malformed_json", "the request body must be a JSON object")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        fields = [
            {"loc": list(err["loc"]), "msg": err["msg"]}
            for err in exc.errors(include_url=False, include_input=False)
        ]
        raise ApiError(
            400, "invalid_body", "the request body is not valid", {"fields": fields}
        ) from exc


class ItemIn(_Strict):
    """One line of an order."""

    sku: Annotated[str, Field(max_length=64)] | None = None
    name: Annotated[str, Field(min_length=1, max_length=200)]
    qty: Annotated[int, Field(ge=1, le=10_000)] = 1


class OrderIn(_Strict):
    """A pickup order as the store's order system sends it (upsert by external id)."""

    number: Annotated[str, Field(min_length=1, max_length=32)]
    status: Literal["placed", "ready", "cancelled", "handed_over"]
    items: Annotated[list[ItemIn], Field(min_length=1, max_length=200)]
    customer_email: Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")] | None = (
        None
    )
    pickup_from: Annotated[float, Field(gt=0)] | None = None
    pickup_until: Annotated[float, Field(gt=0)] | None = None


class OrderOut(BaseModel):
    """An order as stored: no customer details, only whether it is matched to a shopper."""

    id: int
    store_id: int
    external_id: str
    number: str
    status: str
    items: list[dict[str, Any]]
    matched_to_shopper: bool
    pickup_from: float | None
    pickup_until: float | None


class ExchangeIn(_Strict):
    """An exchange or return recorded against an order."""

    kind: Literal["exchange", "return"]
    items: Annotated[list[ItemIn], Field(max_length=200)] = []
    note: Annotated[str, Field(max_length=500)] = ""


class HandoverIn(_Strict):
    """Handing an order over, optionally with an exchange or return."""

    exchange: ExchangeIn | None = None


class CouponOut(BaseModel):
    """A coupon as its holder or the till sees it."""

    code: str
    offer: str
    percent_off: int | None
    amount_off_cents: int | None
    product_scope: str | None
    issued_at: float
    expires_at: float
    redeemed_at: float | None


class CouponsOut(BaseModel):
    """A shopper's coupons."""

    coupons: list[CouponOut]


class RedemptionOut(BaseModel):
    """A successful redemption."""

    redeemed: bool
    coupon: CouponOut


class RedeemIn(_Strict):
    """A code typed or scanned at the till."""

    code: Annotated[str, Field(min_length=1, max_length=64)]


Purpose = Literal["arrival", "offers"]
Channel = Literal["app", "push", "sms", "email"]


class ErrorBody(BaseModel):
    """The inside of every error answer."""

    code: str
    message: str
    details: Any = None


class ErrorOut(BaseModel):
    """Every 4xx and 5xx answer of the API."""

    error: ErrorBody


Trigger = Literal[
    "walk_by", "entered", "zone_dwell", "exited", "pickup_handed_over", "survey_answered"
]
# A coupon valid for more than a year is a standing discount, not a campaign's offer.
MAX_VALID_MINUTES = 366 * 24 * 60
# Above half the audience held out, the campaign reaches fewer people than it measures.
MAX_HOLDOUT_SHARE = 0.5


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
# A profile attribute's value, as a store system sets it and an audience filters on it.
AttributeValue = Annotated[str, StringConstraints(max_length=100)] | int | bool
# "HH:MM", 00:00 to 23:59, in the store's time zone.
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
# One offer is worth at most this much off (in minor units: $10,000.00).
MAX_AMOUNT_OFF_CENTS = 1_000_000


class AudienceIn(_Strict):
    """Who a campaign may reach, among the shoppers who opted in to offers; every given
    condition must hold (all omitted: everyone).

    Args:
        min_past_visits: at least this many earlier visits to this store.
        bought: a product name (case-insensitive, part of a name matches) on one of their
            collected pickup orders at this store, e.g. "ice cream".
        visited_zone: they spent time in this zone on an earlier visit.
        attributes: profile attributes the store's systems set, each equal, e.g.
            {"tier": "gold"}.
    """

    min_past_visits: Annotated[int, Field(ge=1, le=10_000)] | None = None
    bought: Name | None = None
    visited_zone: Name | None = None
    attributes: Annotated[dict[Name, AttributeValue], Field(max_length=10)] | None = None


class CustomerAttributesIn(_Strict):
    """A store system's profile attributes of a customer, named by e-mail (replaces them all)."""

    customer_email: Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
    attributes: Annotated[dict[Name, AttributeValue], Field(max_length=20)]


class CampaignIn(_Strict):
    """A campaign's terms; creating or editing it (an edit makes a new version).

    Times are Unix seconds. Exactly one of `valid_minutes` (from issue) and `valid_until`;
    at most one of `percent_off` and `amount_off_cents` (neither: the text is the offer, e.g.
    "a free coffee"). `days` (ISO weekdays, 1 = Monday) and `daily_start`/`daily_end` narrow
    the schedule in the store's time zone.
    """

    name: Annotated[str, Field(min_length=1, max_length=200)]
    trigger: Trigger
    zone: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    min_dwell_s: Annotated[float, Field(ge=0)] | None = None
    audience: AudienceIn | None = None
    offer_text: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
    ]
    percent_off: Annotated[int, Field(ge=1, le=100)] | None = None
    amount_off_cents: Annotated[int, Field(ge=1, le=MAX_AMOUNT_OFF_CENTS)] | None = None
    product_scope: Name | None = None
    valid_minutes: Annotated[int, Field(ge=1, le=MAX_VALID_MINUTES)] | None = None
    valid_until: Annotated[float, Field(gt=0)] | None = None
    starts_at: Annotated[float, Field(gt=0)] | None = None
    ends_at: Annotated[float, Field(gt=0)] | None = None
    days: (
        Annotated[list[Annotated[int, Field(ge=1, le=7)]], Field(min_length=1, max_length=7)] | None
    ) = None
    daily_start: ClockTime | None = None
    daily_end: ClockTime | None = None
    channels: Annotated[list[Channel], Field(min_length=1, max_length=4)]
    holdout_share: Annotated[float, Field(ge=0.0, le=MAX_HOLDOUT_SHARE)] = 0.0
    max_per_shopper: Annotated[int, Field(ge=1)] | None = None

    def field_problems(self) -> list[dict[str, Any]]:
        """What is wrong across fields, in `parse_body`'s shape (empty when nothing is)."""
        problems: list[dict[str, Any]] = []
        if self.trigger == "zone_dwell":
            if self.zone is None:
                problems.append({"loc": ["zone"], "msg": "zone_dwell needs the zone's name"})
            if self.min_dwell_s is None:
                problems.append({"loc": ["min_dwell_s"], "msg": "zone_dwell needs a minimum"})
        if (self.valid_minutes is None) == (self.valid_until is None):
            problems.append(
                {"loc": ["valid_minutes"], "msg": "give exactly one of valid_minutes, valid_until"}
            )
        if len(set(self.channels)) != len(self.channels):
            problems.append({"loc": ["channels"], "msg": "a channel is listed twice"})
        if self.percent_off is not None and self.amount_off_cents is not None:
            problems.append(
                {
                    "loc": ["amount_off_cents"],
                    "msg": "give percent_off or amount_off_cents, not both",
                }
            )
        if self.days is not None and len(set(self.days)) != len(self.days):
            problems.append({"loc": ["days"], "msg": "a day is listed twice"})
        if (self.daily_start is None) != (self.daily_end is None):
            problems.append(
                {"loc": ["daily_end"], "msg": "give both daily_start and daily_end, or neither"}
            )
        elif self.daily_start is not None and self.daily_start == self.daily_end:
            problems.append({"loc": ["daily_end"], "msg": "the daily window is empty"})
        if self.starts_at is not None and self.ends_at is not None:
            if self.ends_at <= self.starts_at:
                problems.append({"loc": ["ends_at"], "msg": "the campaign ends before it starts"})
        if self.valid_until is not None and self.starts_at is not None:
            if self.valid_until <= self.starts_at:
                problems.append(
                    {"loc": ["valid_until"], "msg": "coupons would expire before it starts"}
                )
        return problems


class CampaignVersionOut(BaseModel):
    """One version of a campaign's terms."""

    id: int
    version: int
    trigger: Trigger
    zone: str | None
    min_dwell_s: float | None
    audience: AudienceIn | None
    offer_text: str
    percent_off: int | None
    amount_off_cents: int | None
    product_scope: str | None
    valid_minutes: int | None
    valid_until: float | None
    starts_at: float
    ends_at: float | None
    days: list[int] | None
    daily_start: str | None
    daily_end: str | None
    channels: list[Channel]
    holdout_share: float
    max_per_shopper: int | None
    created_at: float


class CampaignOut(BaseModel):
    """A campaign with its current version."""

    id: int
    store_id: int
    name: str
    active: bool
    created_at: float
    current: CampaignVersionOut


class CampaignsOut(BaseModel):
    """A store's campaigns."""

    campaigns: list[CampaignOut]
