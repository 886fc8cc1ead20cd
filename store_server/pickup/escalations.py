"""Escalations reach managers away from the console, and "I'll take it" from the message.

When the sweep escalates an alert, every active manager of the store who chose a channel
(push, SMS or e-mail, per account) gets a work message with a link to take it. The link is
`{base}/escalation#take=TOKEN`: the token is signed (HMAC of store, alert, manager, expiry
with the server's secret), expires when the alert would, and sits in the fragment, which
browsers never send, so no access log or proxy ever holds it. The page posts it to
`POST /api/v1/escalations/take`, which acknowledges the alert as that manager ("on my way"),
exactly like the tablet's button; the first to act wins.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from sqlalchemy.orm import Session

from store_server.accounts.auth import identity_of, may_act
from store_server.accounts.staff import managers_of
from store_server.db.models import StaffUser
from store_server.messaging.channels import Notification
from store_server.messaging.staff_notices import StaffNotice, new_notice_id, notice_for
from store_server.pickup.alerts import AlertChange, Staffer, acknowledge
from store_server.pickup.views import ArrivalOut
from store_server.problems import DomainError, Refusal
from store_server.vocabulary import StaffRole

_TOKEN = re.compile(
    r"^([1-9][0-9]{0,9})\.([1-9][0-9]{0,9})\.([1-9][0-9]{0,9})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})$"
)
TAKE_PATH = "/escalation"


def _mac(secret: bytes, store_id: int, alert_id: int, staff_id: int, expires_at: int) -> str:
    key = hmac.new(secret, b"escalation-take-link", hashlib.sha256).digest()
    message = f"{store_id}.{alert_id}.{staff_id}.{expires_at}".encode()
    return (
        base64.urlsafe_b64encode(hmac.new(key, message, hashlib.sha256).digest())
        .rstrip(b"=")
        .decode()
    )


def take_token(
    secret: bytes, store_id: int, alert_id: int, staff_id: int, expires_at: float
) -> str:
    """The signed "I'll take it" token of one manager for one alert (nothing personal in it)."""
    expiry = int(expires_at)
    mac = _mac(secret, store_id, alert_id, staff_id, expiry)
    return f"{store_id}.{alert_id}.{staff_id}.{expiry}.{mac}"


def take_url(base_url: str, token: str) -> str:
    """The link in the message; the token is in the fragment, never sent to a server."""
    return f"{base_url.rstrip('/')}{TAKE_PATH}#take={token}"


def escalation_notices(
    session: Session,
    arrival: ArrivalOut,
    secret: bytes,
    base_url: str,
    link_valid_until: float,
) -> list[StaffNotice]:
    """A message to each active manager of the store who chose a channel for escalations."""
    managers = [m for m in managers_of(session, arrival.store_id) if m.escalation_channel]
    waiting_since = arrival.arrived_at
    notices = []
    for manager in managers:
        token = take_token(secret, arrival.store_id, arrival.alert_id, manager.id, link_valid_until)
        notification = Notification(
            message_id=new_notice_id(),
            kind="escalation",
            title=f"Nobody has gone to {arrival.first_name} (order #{arrival.order_number})",
            body=(
                f"{arrival.first_name} is waiting at {arrival.where} for order "
                f"#{arrival.order_number} and no one has said they are on the way."
            ),
            url=take_url(base_url, token),
            expires_at=link_valid_until,
            data={"alert_id": arrival.alert_id, "raised_at": waiting_since},
        )
        notice = notice_for(session, manager, notification)
        if notice is not None:
            notices.append(notice)
    return notices


def take(session: Session, secret: bytes, token: str, now: float) -> AlertChange:
    """ "I'll take it" from a manager's link: acknowledge the alert as that manager.

    Raises DomainError: `take_invalid` (malformed or forged), `take_expired` (past its
    expiry), `not_a_manager` (the account was deactivated or is no manager any more), and
    the acknowledgement's own refusals (`already_acknowledged` names who is going).
    """
    parsed = _TOKEN.match(token.strip())
    if parsed is None:
        raise DomainError(Refusal.INVALID, "take_invalid", "this link is not valid")
    store_id, alert_id, staff_id, expiry = (int(part) for part in parsed.groups()[:4])
    expected = _mac(secret, store_id, alert_id, staff_id, expiry)
    if not hmac.compare_digest(expected, parsed.group(5)):
        raise DomainError(Refusal.INVALID, "take_invalid", "this link is not valid")
    if expiry <= now:
        raise DomainError(Refusal.GONE, "take_expired", "this link has expired")
    manager = session.get(StaffUser, staff_id)
    if (
        manager is None
        or not manager.active
        or not may_act(identity_of(session, manager), store_id, StaffRole.MANAGER)
    ):
        raise DomainError(Refusal.FORBIDDEN, "not_a_manager", "this account cannot take alerts")
    return acknowledge(session, store_id, alert_id, Staffer(manager.id, manager.name), now)
