"""Models of `/api/v1/stores/<id>/{settings,staff}`: what a manager sets about the store and its
staff accounts."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from store_server.vocabulary import StaffRole
from store_server.web.schemas import RowId, Strict

ClockTime = Annotated[
    str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="HH:MM, 24 h, local")
]


class StoreSettingsIn(Strict):
    """Everything on the store settings page, sent whole (a PUT)."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    timezone: Annotated[str, Field(min_length=1, max_length=64, description="IANA, e.g. UTC")]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, e.g. GBP")]
    ack_limit_s: Annotated[
        int, Field(ge=30, le=7200, description="an unacknowledged arrival escalates after this")
    ]
    second_escalation_s: Annotated[
        int, Field(ge=30, le=7200, description="and again after this (from when it was raised)")
    ]
    quiet_start: ClockTime
    quiet_end: ClockTime = Field(description="equal to quiet_start: no quiet hours")
    max_offers_per_day: Annotated[int, Field(ge=0, le=20)]
    max_offers_per_visit: Annotated[int, Field(ge=0, le=10)]
    min_gap_s: Annotated[int, Field(ge=0, le=7 * 86400, description="between two offers")]
    help_phone: Annotated[
        str, Field(max_length=20, description='"reach a person": E.164, or empty')
    ] = ""
    help_url: Annotated[
        str, Field(max_length=300, description='"reach a person": a web page, or empty')
    ] = ""


class StoreSettingsOut(StoreSettingsIn):
    """The store's settings as stored."""

    id: int
    locale: str
    public_url: str


class StaffAccountIn(Strict):
    """A new staff or manager account of the store."""

    email: Annotated[str, Field(min_length=3, max_length=254)]
    name: Annotated[str, Field(min_length=1, max_length=100)]
    role: StaffRole
    password: Annotated[str, Field(min_length=10, max_length=200)]


class PasswordIn(Strict):
    """A new password for an account (its sessions end)."""

    password: Annotated[str, Field(min_length=10, max_length=200)]


class StaffAccessIn(Strict):
    """An account's new role and stores, sent whole. A manager gives only stores she manages
    (the account's other stores stay) and never `admin`; an admin gives no stores (her chain's
    are hers)."""

    role: StaffRole
    store_ids: Annotated[list[RowId], Field(max_length=100)]


class StaffAccountOut(BaseModel):
    """One account of the store (never its password), with the stores it is assigned to (an
    admin: none, every store of her chain is hers)."""

    id: int
    email: str
    name: str
    role: StaffRole
    active: bool
    store_ids: list[int]


class StaffListOut(BaseModel):
    """The store's accounts, active first."""

    staff: list[StaffAccountOut]
