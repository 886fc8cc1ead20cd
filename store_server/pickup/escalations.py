"""Escalations reach managers away from the console, and "I'll take it" from the message.

Two things escalate: a pickup alert nobody acknowledged, and a shopper's help request nobody
acknowledged. When the sweep escalates either, every active manager of the store who chose a
channel (push, SMS or e-mail, per account) gets a work message with a link to take it. The
link is `{base}/escalation#take=TOKEN`: the token names the kind (`pickup` or `help`) and is
signed (HMAC of kind, store, alert or request, manager, expiry with the server's secret),
expires when the alert or request would, and sits in the fragment, which browsers never send,
so no access log or proxy ever holds it. The page posts it to `POST /api/v1/escalations/take`,
which acknowledges as that manager ("on my way"), exactly like the tablet's button: the shopper
is told who is coming; the first to act wins.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from store_server.accounts.auth import identity_of, may_act
from store_server.accounts.staff import managers_of
from store_server.assistance import help_requests
from store_server.assistance.views import HelpRequestOut
from store_server.db.models import HelpRequest, PickupAlert, StaffUser
from store_server.events import Event
from store_server.messaging.channels import Notification
from store_server.messaging.outbound import Job, queue_staff_notice
from store_server.messaging.staff_notices import StaffNotice, new_notice_id
from store_server.pickup import alerts
from store_server.pickup.views import ArrivalOut
from store_server.problems import DomainError, Refusal
from store_server.vocabulary import StaffRole


class EscalationKind(StrEnum):
    """What escalated, as the token names it."""

    PICKUP = "pickup"
    HELP = "help"


_TOKEN = re.compile(
    r"^(pickup|help)\.([1-9][0-9]{0,9})\.([1-9][0-9]{0,9})\.([1-9][0-9]{0,9})\.([0-9]{1,12})"
    r"\.([A-Za-z0-9_-]{43})$"
)
TAKE_PATH = "/escalation"


@dataclass(frozen=True)
class Escalated:
    """One escalated alert or request as a manager's message tells it (nothing personal but her
    first name, as on the tablets)."""

    kind: EscalationKind
    store_id: int
    subject_id: int  # the pickup alert's or the help request's id
    title: str
    body: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Taken:
    """What "I'll take it" changed: the alert or request as staff see it, events and jobs."""

    kind: EscalationKind
    answer: dict[str, Any]
    events: list[Event]
    jobs: list[Job]


def pickup_escalation(arrival: ArrivalOut) -> Escalated:
    """A pickup alert nobody has gone to."""
    return Escalated(
        EscalationKind.PICKUP,
        arrival.store_id,
        arrival.alert_id,
        title=f"Nobody has gone to {arrival.first_name} (order #{arrival.order_number})",
        body=(
            f"{arrival.first_name} is waiting at {arrival.where} for order "
            f"#{arrival.order_number} and no one has said they are on the way."
        ),
        data={"alert_id": arrival.alert_id, "raised_at": arrival.arrived_at},
    )


def help_escalation(request: HelpRequestOut) -> Escalated:
    """A help request nobody has answered."""
    return Escalated(
        EscalationKind.HELP,
        request.store_id,
        request.request_id,
        title=f"Nobody has gone to {request.first_name} (help at {request.where})",
        body=(
            f"{request.first_name} asked for help at {request.where} and no one has said "
            "they are on the way."
        ),
        data={"help_request_id": request.request_id, "raised_at": request.raised_at},
    )


def _mac(
    secret: bytes, kind: str, store_id: int, subject_id: int, staff_id: int, expires_at: int
) -> str:
    key = hmac.new(secret, b"escalation-take-link", hashlib.sha256).digest()
    message = f"{kind}.{store_id}.{subject_id}.{staff_id}.{expires_at}".encode()
    return (
        base64.urlsafe_b64encode(hmac.new(key, message, hashlib.sha256).digest())
        .rstrip(b"=")
        .decode()
    )


def take_token(
    secret: bytes,
    kind: EscalationKind,
    store_id: int,
    subject_id: int,
    staff_id: int,
    expires_at: float,
) -> str:
    """The signed "I'll take it" token of one manager for one alert or request (nothing
    personal in it)."""
    expiry = int(expires_at)
    mac = _mac(secret, kind, store_id, subject_id, staff_id, expiry)
    return f"{kind}.{store_id}.{subject_id}.{staff_id}.{expiry}.{mac}"


def take_url(base_url: str, token: str) -> str:
    """The link in the message; the token is in the fragment, never sent to a server."""
    return f"{base_url.rstrip('/')}{TAKE_PATH}#take={token}"


def escalation_notices(
    session: Session,
    escalated: Escalated,
    secret: bytes,
    base_url: str,
    link_valid_until: float,
    now: float,
) -> list[StaffNotice]:
    """A message to each active manager of the store who chose a channel for escalations,
    recorded in the caller's transaction (tried again if its provider fails)."""
    managers = [m for m in managers_of(session, escalated.store_id) if m.escalation_channel]
    notices = []
    for manager in managers:
        token = take_token(
            secret,
            escalated.kind,
            escalated.store_id,
            escalated.subject_id,
            manager.id,
            link_valid_until,
        )
        notification = Notification(
            message_id=new_notice_id(),
            kind="escalation",
            title=escalated.title,
            body=escalated.body,
            url=take_url(base_url, token),
            expires_at=link_valid_until,
            data={"kind": str(escalated.kind), **escalated.data},
        )
        notice = queue_staff_notice(session, escalated.store_id, manager, notification, now)
        if notice is not None:
            notices.append(notice)
    return notices


def still_escalated(session: Session, notification: Notification) -> bool:
    """Whether an escalation's message is still worth sending: nobody has gone yet (a retry of
    "nobody has gone to Maria" after someone went is noise)."""
    data = notification.data
    if "alert_id" in data:
        alert = session.get(PickupAlert, data["alert_id"])
        return alert is not None and alert.status == "raised"
    if "help_request_id" in data:
        request = session.get(HelpRequest, data["help_request_id"])
        return request is not None and request.status == "raised"
    return True


def take(session: Session, secret: bytes, token: str, now: float) -> Taken:
    """ "I'll take it" from a manager's link: acknowledge the alert or request as that manager.

    Raises DomainError: `take_invalid` (malformed or forged), `take_expired` (past its
    expiry), `not_a_manager` (the account was deactivated or is no manager any more), and
    the acknowledgement's own refusals (`already_acknowledged` names who is going).
    """
    parsed = _TOKEN.match(token.strip())
    if parsed is None:
        raise DomainError(Refusal.INVALID, "take_invalid", "this link is not valid")
    kind = EscalationKind(parsed.group(1))
    store_id, subject_id, staff_id, expiry = (int(part) for part in parsed.groups()[1:5])
    expected = _mac(secret, kind, store_id, subject_id, staff_id, expiry)
    if not hmac.compare_digest(expected, parsed.group(6)):
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
    if kind == EscalationKind.HELP:
        helped = help_requests.acknowledge(session, store_id, subject_id, manager.id, now)
        return Taken(kind, helped.request.model_dump(), helped.events, [])
    staffer = alerts.Staffer(manager.id, manager.name)
    change = alerts.acknowledge(session, store_id, subject_id, staffer, now)
    return Taken(kind, change.arrival.model_dump(), change.events, change.jobs)
