"""Messages to shoppers leave through one background queue and the one channel router.

A caller decides and records in its transaction (`queue_delivery` writes the `deliveries` row
as `queued`), commits, then submits the returned `Job`s; the `Outbound` worker routes each one
(in-app, Web Push, SMS, e-mail, falling back in the decided order) and records the outcome on
that row. No request waits on a provider, and a message is on record before it leaves.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from store_server.db.database import Database, rows_changed
from store_server.db.models import Consent, Delivery, Shopper, WebPushSubscription
from store_server.messaging.channels import Contact, Notification, PushSubscription, Sender
from store_server.messaging.channels.email import EmailConfig, EmailSender
from store_server.messaging.channels.inapp import InAppSender, Publish
from store_server.messaging.channels.router import Router, RouteResult
from store_server.messaging.channels.sms import SmsConfig, SmsSender
from store_server.messaging.channels.webpush import WebPushSender, ensure_vapid_keys
from store_server.metrics import DELIVERIES
from store_server.settings import StoreSettings
from store_server.vocabulary import Channel

log = logging.getLogger(__name__)
IsConnected = Callable[[int], bool]
# 32 bytes of randomness, base64url: an unsubscribe link cannot be guessed from another.
UNSUBSCRIBE_TOKEN_BYTES = 32


@dataclass(frozen=True)
class Job:
    """One routed message: what to say, to whom, along which channels in order."""

    notification: Notification
    contact: Contact
    channels: tuple[Channel, ...]


@dataclass(frozen=True)
class Reach:
    """What can carry a message, for the decision point's `reachable` channels.

    Args:
        configured: channels this server has a sender for.
        is_connected: whether a shopper's page has a live Socket.IO connection (in-app).
        base_url: where links in messages point (settings.base_url).
    """

    configured: frozenset[Channel]
    is_connected: IsConnected
    base_url: str = "http://127.0.0.1"

    def reachable(self, contact: Contact) -> frozenset[Channel]:
        """The configured channels this shopper can be reached on now."""
        have: dict[Channel, bool] = {
            Channel.APP: self.is_connected(contact.shopper_id),
            Channel.PUSH: contact.push is not None,
            Channel.SMS: bool(contact.phone),
            Channel.EMAIL: bool(contact.email),
        }
        return frozenset(c for c in self.configured if have[c])


NO_REACH = Reach(frozenset(), lambda _shopper_id: False)


def build_senders(
    settings: StoreSettings,
    publish: Publish,
    is_connected: IsConnected,
    clock: Callable[[], float] = time.time,
) -> list[Sender]:
    """A sender for every channel this server is configured for (in-app and push always)."""
    keys = ensure_vapid_keys(Path(settings.var_dir))
    senders: list[Sender] = [
        InAppSender(publish, is_connected),
        WebPushSender(keys, vapid_subject(settings), clock=clock),
    ]
    if settings.sms_base_url:
        senders.append(
            SmsSender(
                SmsConfig(
                    settings.sms_base_url,
                    settings.sms_account_sid,
                    settings.sms_auth_token,
                    settings.sms_from,
                )
            )
        )
    if settings.smtp_host:
        senders.append(
            EmailSender(
                EmailConfig(
                    host=settings.smtp_host,
                    port=settings.smtp_port,
                    from_address=settings.mail_from,
                    unsubscribe_mailbox=settings.mail_from,
                    unsubscribe_url=f"{settings.base_url}/u",
                    security=settings.smtp_security,  # type: ignore[arg-type]  # checked by StoreSettings
                    username=settings.smtp_username or None,
                    password=settings.smtp_password or None,
                )
            )
        )
    return senders


def vapid_subject(settings: StoreSettings) -> str:
    """The contact push services see: the setting, else the public URL if https (RFC 8292
    accepts only `mailto:` and `https:`), else a local mailbox for a server on plain http."""
    if settings.vapid_subject:
        return settings.vapid_subject
    if settings.base_url.startswith("https://"):
        return settings.base_url
    return "mailto:webpush@localhost"


def contact_for(session: Session, shopper: Shopper) -> Contact:
    """Every address of the shopper, with an unsubscribe token made on first need."""
    push = session.scalars(
        select(WebPushSubscription)
        .where(WebPushSubscription.shopper_id == shopper.id)
        .order_by(WebPushSubscription.created_at.desc(), WebPushSubscription.id.desc())
        .limit(1)
    ).first()
    if shopper.email and shopper.unsubscribe_token is None:
        shopper.unsubscribe_token = secrets.token_urlsafe(UNSUBSCRIBE_TOKEN_BYTES)
    return Contact(
        shopper_id=shopper.id,
        phone=shopper.phone,
        email=shopper.email,
        push=PushSubscription(push.endpoint, push.p256dh, push.auth) if push else None,
        unsubscribe_token=shopper.unsubscribe_token,
    )


def queue_delivery(
    session: Session,
    store_id: int,
    contact: Contact,
    notification: Notification,
    channels: tuple[Channel, ...],
    now: float,
    decision_id: int | None = None,
) -> Job:
    """Record the message as queued (in the caller's transaction) and return its job."""
    session.add(
        Delivery(
            message_id=notification.message_id,
            store_id=store_id,
            shopper_id=contact.shopper_id,
            decision_id=decision_id,
            kind=notification.kind,
            status="queued",
            attempts=[],
            created_at=now,
        )
    )
    return Job(notification, contact, channels)


def new_message_id() -> str:
    """An opaque message id: 128 random bits in hex (the device reports "seen" with it)."""
    return uuid.uuid4().hex


def urgent_sms(
    session: Session,
    shopper_id: int,
    store_id: int,
    kind: str,
    title: str,
    body: str,
    now: float,
) -> Job | None:
    """A pickup update by text, if the shopper chose SMS for arrival messages at this store."""
    consented = session.scalar(
        select(Consent.id).where(
            Consent.shopper_id == shopper_id,
            Consent.store_id == store_id,
            Consent.purpose == "arrival",
            Consent.channel == "sms",
        )
    )
    shopper = session.get(Shopper, shopper_id)
    if consented is None or shopper is None or not shopper.phone:
        return None
    notification = Notification(message_id=new_message_id(), kind=kind, title=title, body=body)
    contact = Contact(shopper_id=shopper_id, phone=shopper.phone)
    return queue_delivery(session, store_id, contact, notification, (Channel.SMS,), now)


def record_result(db: Database, job: Job, result: RouteResult, now: float) -> None:
    """Write the route's outcome on the message's delivery row; forget dead push addresses."""
    for attempt in result.attempts:
        DELIVERIES.labels(attempt.channel, attempt.status).inc()
    with db.transaction() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.message_id == job.notification.message_id)
            .values(
                status=result.status,
                channel=result.channel,
                delivered_at=now if result.channel else None,
                attempts=[
                    {"channel": a.channel, "status": a.status, "reason": a.reason}
                    for a in result.attempts
                ],
            )
        )
        gone = any(a.contact_gone and a.channel == "push" for a in result.attempts)
        if gone and job.contact.push is not None:
            session.execute(
                delete(WebPushSubscription).where(
                    WebPushSubscription.endpoint == job.contact.push.endpoint
                )
            )


def mark_seen(session: Session, message_id: str, now: float) -> bool:
    """Record that the shopper saw the message (the first time counts); False if unknown."""
    # One statement: the row matches whenever the message is known, and keeps its first time.
    result = session.execute(
        update(Delivery)
        .where(Delivery.message_id == message_id)
        .values(seen_at=func.coalesce(Delivery.seen_at, now))
        .execution_options(synchronize_session=False)
    )
    return bool(rows_changed(result))


class Outbound:
    """One worker thread delivering queued jobs through the router, oldest first."""

    def __init__(
        self,
        router: Router,
        reach: Reach,
        db: Database | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Args: db: where outcomes are recorded (None: not recorded, e.g. a bench)."""
        self._clock = clock
        self.router = router
        self.reach = reach
        self._db = db
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, job: Job | None) -> None:
        """Queue a job (None jobs are ignored) for the worker; returns at once."""
        if job is None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="outbound", daemon=True)
                self._thread.start()
        self._queue.put(job)

    def submit_all(self, jobs: Iterable[Job]) -> None:
        """Queue several jobs in order."""
        for job in jobs:
            self.submit(job)

    def wait_idle(self, timeout_s: float) -> bool:
        """Whether every queued job was routed and recorded within `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks:
            if time.monotonic() >= deadline:
                return False
            with self._queue.all_tasks_done:
                self._queue.all_tasks_done.wait(timeout=max(0.0, deadline - time.monotonic()))
        return True

    def stop(self) -> None:
        """Let the worker finish what is queued, then end."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            try:
                result = self.router.deliver(job.notification, job.contact, job.channels)
                if self._db is not None:
                    record_result(self._db, job, result, self._clock())
            except Exception:  # noqa: BLE001 - one failed message must not stop the queue
                log.exception("event=outbound_failed message=%s", job.notification.message_id)
            finally:
                self._queue.task_done()
        self._queue.task_done()
