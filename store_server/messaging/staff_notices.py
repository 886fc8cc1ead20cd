"""Work messages to staff (a manager hears of an escalation away from the console): one
channel per manager account, chosen in the console, through the same senders as shoppers'
messages but to the staffer's own address, with no marketing footer.

Logs name the staffer's id, the channel and the outcome; never an address, a phone number,
an endpoint or the message's link (it carries a capability).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from store_server.db.models import StaffPushSubscription, StaffUser
from store_server.messaging.channels import Notification, PushSubscription, SendResult
from store_server.messaging.channels.email import EmailSender
from store_server.messaging.channels.router import Router
from store_server.messaging.channels.sms import SmsSender
from store_server.messaging.channels.webpush import WebPushSender
from store_server.vocabulary import Channel

log = logging.getLogger(__name__)
# The channels a manager can choose for escalations (in-app is the console itself).
STAFF_CHANNELS = frozenset({Channel.PUSH, Channel.SMS, Channel.EMAIL})


@dataclass(frozen=True)
class StaffNotice:
    """One work message to one staffer on the channel they chose, with its address."""

    staff_id: int
    channel: Channel
    notification: Notification
    address: str | None = field(default=None, repr=False)  # e-mail or phone
    push: PushSubscription | None = field(default=None, repr=False)


def notice_for(
    session: Session, staff: StaffUser, notification: Notification
) -> StaffNotice | None:
    """The notice to a staffer by their chosen channel, or None (console only, or no address)."""
    if staff.escalation_channel == Channel.EMAIL:
        return StaffNotice(staff.id, Channel.EMAIL, notification, address=staff.email)
    if staff.escalation_channel == Channel.SMS and staff.escalation_phone:
        return StaffNotice(staff.id, Channel.SMS, notification, address=staff.escalation_phone)
    if staff.escalation_channel == Channel.PUSH:
        row = session.scalars(
            select(StaffPushSubscription)
            .where(StaffPushSubscription.staff_id == staff.id)
            .order_by(StaffPushSubscription.created_at.desc(), StaffPushSubscription.id.desc())
            .limit(1)
        ).first()
        if row is not None:
            subscription = PushSubscription(row.endpoint, row.p256dh, row.auth)
            return StaffNotice(staff.id, Channel.PUSH, notification, push=subscription)
    return None


def new_notice_id() -> str:
    """An opaque id for a staff notice; not the shoppers' 32-hex form, so no "seen" is sent."""
    return f"staff-{uuid.uuid4().hex}"


def deliver(router: Router, notice: StaffNotice) -> SendResult:
    """Send one notice with the router's sender of its channel; log only the outcome."""
    sender = router.sender(notice.channel)
    if isinstance(sender, EmailSender) and notice.address:
        result = sender.send_to_staff(notice.notification, notice.address)
    elif isinstance(sender, SmsSender) and notice.address:
        result = sender.send_to_staff(notice.notification, notice.address)
    elif isinstance(sender, WebPushSender) and notice.push is not None:
        result = sender.send_to(notice.notification, notice.push)
    else:
        result = SendResult(notice.channel, "failed_permanent", "no sender configured")
    log.info(
        "event=staff_notice staff=%d kind=%s channel=%s status=%s reason=%s",
        notice.staff_id,
        notice.notification.kind,
        notice.channel,
        result.status,
        result.reason.replace(" ", "_"),
    )
    return result
