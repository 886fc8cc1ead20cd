"""Request and response models of the managers' campaigns API."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from store_server.vocabulary import CampaignTrigger, Channel
from store_server.web.schemas import AttributeValue, Name, Strict

# A coupon valid for more than a year is a standing discount, not a campaign's offer.
MAX_VALID_MINUTES = 366 * 24 * 60
# Above half the audience held out, the campaign reaches fewer people than it measures.
MAX_HOLDOUT_SHARE = 0.5
# "HH:MM", 00:00 to 23:59, in the store's time zone.
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
# One offer is worth at most this much off (in minor units: $10,000.00).
MAX_AMOUNT_OFF_CENTS = 1_000_000
# More coupons per shopper than this is no cap at all (and must fit the Integer column).
MAX_PER_SHOPPER = 10_000


class AudienceIn(Strict):
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


class CampaignIn(Strict):
    """A campaign's terms; creating or editing it (an edit makes a new version).

    Times are Unix seconds. Exactly one of `valid_minutes` (from issue) and `valid_until`;
    at most one of `percent_off` and `amount_off_cents` (neither: the text is the offer, e.g.
    "a free coffee"). `days` (ISO weekdays, 1 = Monday) and `daily_start`/`daily_end` narrow
    the schedule in the store's time zone.
    """

    name: Annotated[str, Field(min_length=1, max_length=200)]
    trigger: CampaignTrigger
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
    max_per_shopper: Annotated[int, Field(ge=1, le=MAX_PER_SHOPPER)] | None = None

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
    trigger: CampaignTrigger
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
