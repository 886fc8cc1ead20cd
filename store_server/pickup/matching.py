"""Which opted-in shopper an order belongs to: by the e-mail or phone the order system knows,
or by the order-claim link the shopper opens on her phone.

Identifiers are unverified (anyone can type an address), so a match by identifier only ever
goes to a shopper who allows arrival alerts at that store, never when two such shoppers share
it, and never over a claim: the signed link is proof of holding the order's message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.orm import Session

from store_server.db.models import Consent, PickupOrder, Shopper
from store_server.problems import DomainError, Refusal
from store_server.vocabulary import OrderStatus, Purpose

# Orders a shopper may still collect: the only ones worth matching or claiming.
OPEN_ORDER_STATUSES = (OrderStatus.PLACED, OrderStatus.READY, OrderStatus.ARRIVED)
_PHONE_SEPARATORS = re.compile(r"[\s().\-/]")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_TOKEN = re.compile(r"^([1-9][0-9]{0,9})\.([1-9][0-9]{0,12})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})$")


def normalised_email(text: str) -> str:
    """An e-mail address as it is compared: trimmed and lower-cased."""
    return text.strip().lower()


def normalised_phone(text: str) -> str | None:
    """A phone number as E.164 digits (`+447700900123`), or None if it is not one.

    Spaces, dots, dashes, slashes and brackets go; a leading `00` is the international prefix.
    A national number (no country code) cannot be normalised and is None.
    """
    digits = _PHONE_SEPARATORS.sub("", text.strip())
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    return digits if _E164.match(digits) else None


def identifier_digest(identifier: str) -> str:
    """The SHA-256 (hex) an unmatched order keeps of its customer's normalised identifier."""
    return hashlib.sha256(f"order-customer:{identifier}".encode()).hexdigest()


@dataclass(frozen=True)
class CustomerIdentifiers:
    """What the order system knows of its customer, normalised (either may be missing)."""

    email: str | None
    phone: str | None

    def digests(self) -> tuple[str | None, str | None]:
        """The (e-mail, phone) digests an unmatched order keeps."""
        return (
            identifier_digest(self.email) if self.email else None,
            identifier_digest(self.phone) if self.phone else None,
        )


def shopper_for_order(session: Session, store_id: int, customer: CustomerIdentifiers) -> int | None:
    """The one shopper allowing arrival alerts at this store who has this e-mail or phone.

    None when nobody, or more than one shopper, has it (the claim link then decides).
    """
    conditions: list[ColumnElement[bool]] = []
    if customer.email:
        conditions += [Shopper.email == customer.email, Shopper.pickup_email == customer.email]
    if customer.phone:
        conditions += [Shopper.phone == customer.phone, Shopper.pickup_phone == customer.phone]
    if not conditions:
        return None
    found = session.scalars(
        select(Shopper.id)
        .distinct()
        .join(Consent, Consent.shopper_id == Shopper.id)
        .where(
            Consent.store_id == store_id,
            Consent.purpose == Purpose.ARRIVAL,
            or_(*conditions),
        )
        .limit(2)
    ).all()
    return found[0] if len(found) == 1 else None


def shopper_identifiers(shopper: Shopper) -> list[str]:
    """Every identifier an order system may know the shopper by, normalised."""
    kept = [shopper.email, shopper.pickup_email, shopper.phone, shopper.pickup_phone]
    return sorted({value for value in kept if value})


def attach_waiting_orders(
    session: Session, store_id: int, shopper_id: int, identifiers: Iterable[str]
) -> list[PickupOrder]:
    """Attach the store's unmatched open orders naming these identifiers to the shopper."""
    digests = [identifier_digest(value) for value in identifiers]
    if not digests:
        return []
    orders = session.scalars(
        select(PickupOrder).where(
            PickupOrder.store_id == store_id,
            PickupOrder.shopper_id.is_(None),
            PickupOrder.status.in_(OPEN_ORDER_STATUSES),
            or_(
                PickupOrder.customer_email_sha256.in_(digests),
                PickupOrder.customer_phone_sha256.in_(digests),
                false(),
            ),
        )
    ).all()
    for order in orders:
        order.shopper_id = shopper_id
        forget_customer(order)
    return list(orders)


def forget_customer(order: PickupOrder) -> None:
    """Drop the customer's digests: a matched or closed order needs them no more."""
    order.customer_email_sha256 = order.customer_phone_sha256 = None


def _claim_mac(secret: bytes, store_id: int, order_id: int, expires_at: int) -> str:
    key = hmac.new(secret, b"order-claim-link", hashlib.sha256).digest()
    message = f"{store_id}.{order_id}.{expires_at}".encode()
    mac = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def claim_token(secret: bytes, store_id: int, order_id: int, expires_at: float) -> str:
    """The signed claim token of an order: store, order, expiry and an HMAC (nothing personal)."""
    expiry = int(expires_at)
    return f"{store_id}.{order_id}.{expiry}.{_claim_mac(secret, store_id, order_id, expiry)}"


@dataclass(frozen=True)
class Claim:
    """An order attached to the shopper who opened its link."""

    order_number: str
    status: str
    already_mine: bool  # the shopper had claimed it before: nothing changed


def claim_order(
    session: Session, secret: bytes, shopper_id: int, store_id: int, token: str, now: float
) -> Claim:
    """Attach the order of a claim link to the shopper, once and for her alone.

    Raises DomainError: `claim_invalid` (malformed, forged, another store's or an unknown
    order), `claim_expired` (past its expiry, or the order is collected or cancelled),
    `claim_taken` (someone else claimed it), `no_consent` (arrival alerts are off here).
    """
    parsed = _TOKEN.match(token.strip())
    if parsed is None:
        raise DomainError(Refusal.INVALID, "claim_invalid", "this pickup link is not valid")
    token_store, order_id, expiry = (int(part) for part in parsed.groups()[:3])
    expected = _claim_mac(secret, token_store, order_id, expiry)
    if not hmac.compare_digest(expected, parsed.group(4)):
        raise DomainError(Refusal.INVALID, "claim_invalid", "this pickup link is not valid")
    if token_store != store_id:
        raise DomainError(Refusal.INVALID, "claim_invalid", "this pickup link is for another store")
    if expiry <= now:
        raise DomainError(Refusal.GONE, "claim_expired", "this pickup link has expired")
    order = session.get(PickupOrder, order_id)
    if order is None or order.store_id != store_id:
        raise DomainError(Refusal.INVALID, "claim_invalid", "this pickup link is not valid")
    if order.status not in OPEN_ORDER_STATUSES:
        raise DomainError(
            Refusal.GONE, "claim_expired", "this order was already collected or cancelled"
        )
    if order.claimed_at is not None and order.shopper_id == shopper_id:
        return Claim(order.number, order.status, already_mine=True)
    if order.claimed_at is not None:
        raise DomainError(
            Refusal.CONFLICT, "claim_taken", "this order is already linked to another phone"
        )
    if not _allows_arrival(session, shopper_id, store_id):
        raise DomainError(
            Refusal.FORBIDDEN,
            "no_consent",
            "switch on arrival alerts for this store to link your order",
        )
    order.shopper_id, order.claimed_at = shopper_id, now
    forget_customer(order)
    return Claim(order.number, order.status, already_mine=False)


def _allows_arrival(session: Session, shopper_id: int, store_id: int) -> bool:
    found = session.scalar(
        select(Consent.id).where(
            Consent.shopper_id == shopper_id,
            Consent.store_id == store_id,
            Consent.purpose == Purpose.ARRIVAL,
        )
    )
    return found is not None


def linked_open_orders(session: Session, shopper_id: int, store_id: int) -> int:
    """How many of the shopper's orders at this store are still to collect."""
    orders = session.scalars(
        select(PickupOrder.id).where(
            PickupOrder.shopper_id == shopper_id,
            PickupOrder.store_id == store_id,
            PickupOrder.status.in_(OPEN_ORDER_STATUSES),
        )
    ).all()
    return len(orders)
