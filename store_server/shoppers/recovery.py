"""A shopper who lost her phone: a signed link, sent to her e-mail or phone, erases her data
or moves her to a new phone.

Anyone may ask for a link for an address or a number; the answer is the same whether or not a
shopper of that store has it, and the link goes only to that address or number, so asking
tells nothing and gives nothing. The link carries the shopper's id, an expiry and the id of
her newest device under an HMAC of the server's secret: once it has moved her to a new phone,
the same link no longer works, and nothing about her is in it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from store_server.db.models import Consent, Device, Shopper, Store
from store_server.messaging.channels import Contact, Notification
from store_server.messaging.outbound import (
    RECOVERY_KIND,
    UNSUBSCRIBE_TOKEN_BYTES,
    Job,
    new_message_id,
    queue_delivery,
)
from store_server.pickup.matching import normalised_email, normalised_phone
from store_server.presence.readings import forget_readings
from store_server.problems import DomainError, Refusal
from store_server.shoppers.data import erase_shopper, shoppers_by_contact
from store_server.shoppers.enrolment import Enrolment, new_device
from store_server.vocabulary import Channel

# An hour: long enough to open the mail or text on another device, short enough that an old
# message found later in a mailbox is useless.
RECOVERY_LINK_VALID_S = 3600.0
_TOKEN = re.compile(r"^([1-9][0-9]{0,9})\.([0-9]{1,10})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})$")


def _mac(secret: bytes, shopper_id: int, newest_device: int, expires_at: int) -> str:
    key = hmac.new(secret, b"shopper-recovery-link", hashlib.sha256).digest()
    message = f"{shopper_id}.{newest_device}.{expires_at}".encode()
    mac = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def _newest_device(session: Session, shopper_id: int) -> int:
    newest = session.scalar(select(func.max(Device.id)).where(Device.shopper_id == shopper_id))
    return int(newest or 0)


def recovery_token(session: Session, secret: bytes, shopper_id: int, now: float) -> str:
    """The signed token of a recovery link for the shopper, valid for an hour."""
    newest, expiry = _newest_device(session, shopper_id), int(now + RECOVERY_LINK_VALID_S)
    return f"{shopper_id}.{newest}.{expiry}.{_mac(secret, shopper_id, newest, expiry)}"


def request_link(
    session: Session,
    secret: bytes,
    store_id: int,
    email: str | None,
    phone: str | None,
    now: float,
    base_url: str,
) -> list[Job]:
    """Queue a recovery link to this address or number for each shopper of the store who has
    it (none: nothing is sent, and the caller answers the same)."""
    store = session.get(Store, store_id)
    if store is None:
        return []
    try:
        known = shoppers_by_contact(session, store.chain_id, email, phone)
    except DomainError as exc:
        if exc.code == "no_shopper":
            return []
        raise
    members = set(
        session.scalars(
            select(Consent.shopper_id).where(
                Consent.store_id == store_id, Consent.shopper_id.in_(known)
            )
        )
    )
    jobs: list[Job] = []
    for shopper_id in sorted(members):
        shopper = session.get(Shopper, shopper_id)
        assert shopper is not None  # noqa: S101 - found above, same transaction
        token = recovery_token(session, secret, shopper_id, now)
        url = f"{base_url}/app?store={store_id}#recover={token}"
        if phone is not None:
            contact = Contact(shopper_id, phone=normalised_phone(phone))
            channel = Channel.SMS
        else:
            if shopper.unsubscribe_token is None:
                shopper.unsubscribe_token = secrets.token_urlsafe(UNSUBSCRIBE_TOKEN_BYTES)
            contact = Contact(
                shopper_id,
                email=normalised_email(email or ""),
                unsubscribe_token=shopper.unsubscribe_token,
            )
            channel = Channel.EMAIL
        notification = Notification(
            message_id=new_message_id(),
            kind=RECOVERY_KIND,
            title="Your store app on a new phone",
            body="Open this link within an hour to use the store's app on this phone or to "
            f"erase everything the store keeps about you: {url} . Did not ask? Ignore it.",
            url=url,
            expires_at=now + RECOVERY_LINK_VALID_S,
        )
        jobs.append(queue_delivery(session, store_id, contact, notification, (channel,), now))
    return jobs


@dataclass(frozen=True)
class Recovered:
    """What a recovery link did: the shopper, and her new phone's app if she moved."""

    shopper_id: int
    enrolment: Enrolment | None


def _verified(session: Session, secret: bytes, token: str, now: float) -> int:
    parsed = _TOKEN.match(token.strip())
    invalid = DomainError(Refusal.INVALID, "recovery_invalid", "this link is not valid")
    if parsed is None:
        raise invalid
    shopper_id, newest, expiry = (int(part) for part in parsed.groups()[:3])
    if not hmac.compare_digest(_mac(secret, shopper_id, newest, expiry), parsed.group(4)):
        raise invalid
    if expiry <= now:
        raise DomainError(Refusal.GONE, "recovery_expired", "this link has expired")
    if session.get(Shopper, shopper_id) is None:
        raise DomainError(Refusal.GONE, "recovery_used", "this link was already used")
    if _newest_device(session, shopper_id) != newest:
        raise DomainError(Refusal.GONE, "recovery_used", "this link was already used")
    return shopper_id


def move_to_new_phone(session: Session, secret: bytes, token: str, now: float) -> Recovered:
    """Forget her old phones (their keys, tokens and readings) and give this phone a new app."""
    shopper_id = _verified(session, secret, token, now)
    old_phones = list(session.scalars(select(Device.id).where(Device.shopper_id == shopper_id)))
    forget_readings(session, device_ids=old_phones)  # before the rows they name (readings.py)
    session.execute(delete(Device).where(Device.id.in_(old_phones)))
    return Recovered(shopper_id, new_device(session, shopper_id, now))


def erase_by_link(session: Session, secret: bytes, token: str, now: float) -> Recovered:
    """Erase everything that names her."""
    shopper_id = _verified(session, secret, token, now)
    erase_shopper(session, shopper_id)
    return Recovered(shopper_id, None)
