"""Joining a store's app: a shopper with explicit consents and their app's device keys."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from zoneinfo import available_timezones

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store_server.accounts.auth import token_digest
from store_server.db.models import Consent, Device, Shopper, Store, Zone
from store_server.pickup.matching import (
    attach_waiting_orders,
    normalised_email,
    normalised_phone,
    shopper_identifiers,
)
from store_server.problems import DomainError, Refusal
from store_server.vocabulary import Purpose, ZoneKind

# A new EID every 1,024 s (Eddystone's usual range): short enough that a bystander cannot
# follow a phone for long, long enough that the server's tables stay small.
ROTATION_EXPONENT = 10


@dataclass(frozen=True)
class Enrolment:
    """A new shopper's app: what it keeps to advertise EIDs and to call the API."""

    shopper_id: int
    identity_key: bytes
    device_token: str
    rotation_exponent: int
    orders_linked: int = 0  # orders pushed before she joined, attached at once


@dataclass(frozen=True)
class PickupContact:
    """The e-mail and phone the store's order system knows the shopper by (as typed)."""

    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class StoreFacts:
    """Public facts a shopper's page needs: the store's name, its curbside bays, the zones she
    may ask for help in, and how to reach a person (its phone and web page)."""

    store_id: int
    name: str
    bays: list[tuple[str, str]]  # (name, label), by name
    zones: list[tuple[str, str]]  # (name, label) of the zones in the store (not bays), by name
    help_phone: str
    help_url: str


def enrol_shopper(
    session: Session,
    store_id: int,
    first_name: str,
    now: float,
    *,
    consents: Iterable[tuple[str, str]],
    email: str | None = None,
    phone: str | None = None,
    timezone: str = "UTC",
) -> Enrolment:
    """Create a shopper of the store's chain with these (purpose, channel) consents at the
    store, and their app's device."""
    store = session.get(Store, store_id)
    if store is None:
        raise DomainError(Refusal.NOT_FOUND, "unknown_store", f"no store {store_id}")
    shopper = Shopper(
        chain_id=store.chain_id,
        first_name=first_name,
        email=email,
        phone=phone,
        timezone=timezone,
        created_at=now,
    )
    session.add(shopper)
    session.flush()
    for purpose, channel in set(consents):
        session.add(
            Consent(
                shopper_id=shopper.id,
                store_id=store_id,
                purpose=purpose,
                channel=channel,
                granted_at=now,
            )
        )
    return new_device(session, shopper.id, now)


def new_device(session: Session, shopper_id: int, now: float) -> Enrolment:
    """A new app for the shopper: its identity key (EIDs) and bearer token, kept as a digest."""
    token, key = secrets.token_urlsafe(32), secrets.token_bytes(16)
    session.add(
        Device(
            shopper_id=shopper_id,
            identity_key=key,
            rotation_exponent=ROTATION_EXPONENT,
            created_at=now,
            token_sha256=token_digest(token),
        )
    )
    session.flush()
    return Enrolment(shopper_id, key, token, ROTATION_EXPONENT)


def check_opt_in(
    consents: Iterable[tuple[str, str]],
    email: str | None,
    phone: str | None,
    timezone: str,
    pickup: PickupContact | None = None,
) -> None:
    """Refuse an opt-in whose channels lack their address, with an unknown time zone, or with a
    pickup e-mail or phone but no arrival alerts (they serve nothing else)."""
    consents = list(consents)
    if pickup is not None and (pickup.email or pickup.phone):
        if not any(purpose == Purpose.ARRIVAL for purpose, _ in consents):
            raise DomainError(
                Refusal.INVALID,
                "arrival_consent_required",
                "the e-mail or phone for your pickup orders is used only with arrival alerts",
            )
        if pickup.phone and normalised_phone(pickup.phone) is None:
            raise DomainError(
                Refusal.INVALID,
                "invalid_phone",
                "give the phone number in international format, e.g. +44 7700 900123",
            )
    if timezone not in available_timezones():
        raise DomainError(Refusal.INVALID, "invalid_timezone", f"unknown time zone {timezone!r}")
    channels = {channel for _, channel in consents}
    if "email" in channels and not email:
        raise DomainError(
            Refusal.INVALID, "email_required", "e-mail messages need an e-mail address"
        )
    if "sms" in channels and not phone:
        raise DomainError(Refusal.INVALID, "phone_required", "text messages need a phone number")


def opt_in(
    session: Session,
    store_id: int,
    first_name: str,
    now: float,
    *,
    consents: Sequence[tuple[str, str]],
    email: str | None,
    phone: str | None,
    timezone: str,
    pickup: PickupContact | None = None,
) -> Enrolment:
    """Join a store's app with explicit consents (call `check_opt_in` first).

    She is a shopper of the store's chain: the same address at another chain is another,
    unrelated shopper. The e-mail address is kept only if the shopper chose e-mail as a
    channel, the phone number only for text messages; an address another shopper of the chain
    already has is kept as unconfirmed (shown to her alone, never sent to) and the answer is
    the same as for a new one; the pickup e-mail and phone (normalised) only with arrival
    alerts, to recognise her orders. Orders the store already holds for her are attached at
    once.
    """
    channels = {channel for _, channel in consents}
    store = session.get(Store, store_id)
    if store is None:
        raise DomainError(Refusal.NOT_FOUND, "unknown_store", f"no store {store_id}")
    kept_email = normalised_email(email) if "email" in channels and email else None
    contested = kept_email is not None and _email_taken(session, store.chain_id, kept_email)
    try:
        with session.begin_nested():
            enrolled = enrol_shopper(
                session,
                store_id,
                first_name.strip(),
                now,
                email=None if contested else kept_email,
                timezone=timezone,
                phone=phone if "sms" in channels else None,
                consents=consents,
            )
    except IntegrityError:  # another shopper took the address meanwhile
        contested = True
        with session.begin_nested():
            enrolled = enrol_shopper(
                session,
                store_id,
                first_name.strip(),
                now,
                timezone=timezone,
                phone=phone if "sms" in channels else None,
                consents=consents,
            )
    shopper = session.get(Shopper, enrolled.shopper_id)
    assert shopper is not None  # noqa: S101 - created above
    if contested:
        # Answering differently would tell anyone the address is registered, and giving it to
        # her would send her messages to its owner: she joins without it (docs/decisions.md).
        shopper.unconfirmed_email = kept_email
    if not any(purpose == Purpose.ARRIVAL for purpose, _ in consents):
        return enrolled
    if pickup is not None:
        shopper.pickup_email = normalised_email(pickup.email) if pickup.email else None
        shopper.pickup_phone = normalised_phone(pickup.phone) if pickup.phone else None
    attached = attach_waiting_orders(session, store_id, shopper.id, shopper_identifiers(shopper))
    return replace(enrolled, orders_linked=len(attached))


def _email_taken(session: Session, chain_id: int, email: str) -> bool:
    # Addresses are per chain: one a shopper of another chain has is free here.
    taken = select(Shopper.id).where(Shopper.chain_id == chain_id, Shopper.email == email)
    return session.scalar(taken) is not None


def store_facts(session: Session, store_id: int) -> StoreFacts:
    """A store's public facts (NOT_FOUND `unknown_store`)."""
    store = session.get(Store, store_id)
    if store is None:
        raise DomainError(Refusal.NOT_FOUND, "unknown_store", f"no store {store_id}")
    zones = session.scalars(select(Zone).where(Zone.store_id == store_id).order_by(Zone.name)).all()
    return StoreFacts(
        store.id,
        store.name,
        [(z.name, z.label) for z in zones if z.kind == ZoneKind.BAY],
        [(z.name, z.label) for z in zones if z.kind != ZoneKind.BAY],
        store.help_phone,
        store.help_url,
    )
