"""Models of the unauthenticated shopper-facing API: opt-in and the Web Push key."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from store_server.web.schemas import RowId, Strict
from store_server.web.schemas.me import ConsentIn


class OptInIn(Strict):
    """Joining a store's app: nothing is kept without at least one consent."""

    store_id: RowId
    first_name: Annotated[str, Field(min_length=1, max_length=100)]
    email: Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")] | None = None
    timezone: Annotated[str, Field(min_length=1, max_length=64)] = "UTC"
    phone: Annotated[str, Field(pattern=r"^\+[1-9][0-9]{6,14}$", description="E.164")] | None = None
    consents: Annotated[list[ConsentIn], Field(min_length=1, max_length=8)]
    pickup_email: (
        Annotated[
            str,
            Field(
                max_length=254,
                pattern=r"^\s*[^@\s]+@[^@\s]+\s*$",
                description="the e-mail the store's order system knows; needs arrival consent",
            ),
        ]
        | None
    ) = None
    pickup_phone: (
        Annotated[
            str,
            Field(
                min_length=1,
                max_length=32,
                description="the phone the order system knows (international format); needs "
                "arrival consent",
            ),
        ]
        | None
    ) = None


class OptInOut(BaseModel):
    """What the app keeps: its bearer token and the identity key it advertises EIDs from."""

    device_token: str
    identity_key: str
    rotation_exponent: int
    shopper_id: int
    orders_linked: int = Field(description="orders already waiting for her, now linked")


class PushKeyOut(BaseModel):
    """The server's VAPID public key: `applicationServerKey` for `pushManager.subscribe()`."""

    application_server_key: str


class RecoveryRequestIn(Strict):
    """A shopper without her phone asks for a recovery link: exactly one of e-mail or phone."""

    store_id: RowId
    email: Annotated[str, Field(max_length=254, pattern=r"^\s*[^@\s]+@[^@\s]+\s*$")] | None = None
    phone: (
        Annotated[
            str,
            Field(min_length=1, max_length=32, description="with the country code, e.g. +44..."),
        ]
        | None
    ) = None

    @model_validator(mode="after")
    def _exactly_one(self) -> RecoveryRequestIn:
        if (self.email is None) == (self.phone is None):
            raise ValueError("give exactly one of email and phone")
        return self


class RecoveryRequestOut(BaseModel):
    """The same answer whether or not anyone has that address or number."""

    sent: Literal["if a shopper of this store has it, a link is on its way"]


class RecoveryLinkIn(Strict):
    """The token of a recovery link (`#recover=...` on the page)."""

    token: Annotated[str, Field(min_length=1, max_length=120)]


class RecoveryErasedOut(BaseModel):
    """Everything that named her is gone."""

    erased: Literal[True]


class PlaceOut(BaseModel):
    """A curbside bay or a zone, as a shopper's page names it."""

    name: str
    label: str


class StoreInfoOut(BaseModel):
    """Public facts a shopper's page needs."""

    store_id: int
    name: str
    bays: list[PlaceOut]
    zones: list[PlaceOut]
    phone: str
    web_page: str


class MessageSeenOut(BaseModel):
    """The message's first view is recorded."""

    seen: bool
