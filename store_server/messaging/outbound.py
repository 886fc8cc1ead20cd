"""Messages to shoppers leave through one background queue and the one channel router.

A caller decides and records in its transaction (`queue_delivery` writes the `deliveries` row
as `queued`, with what it says and the decided channel order), commits, then submits the
returned `Job`s; an `Outbound` worker claims the row (`sending`, a conditional UPDATE), routes
it (in-app, Web Push, SMS, e-mail, falling back in the decided order) and records the outcome on
that row. No request waits on a provider, and a message is on record before it leaves.

The table is the queue: the sweep (and so every start-up) re-decides and re-submits rows left
`queued` by a crash and `failed_retryable` rows whose backoff or `Retry-After` has passed. Only
a claim sends, so a message leaves at most once: a row a crash left `sending` may have left, and
is closed as `failed_permanent`, never sent again.

Managers' escalations (`StaffNotice`) go the same way through their own table,
`staff_notices`: recorded `queued` in the sweep's transaction (`queue_staff_notice`), claimed,
sent on the lane of their channel, retried with the same backoff (`due_staff_notices`), and
given up once their link has expired or the manager chose another channel.
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

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from store_server.db.database import Database, rows_changed
from store_server.db.models import (
    Consent,
    Delivery,
    Shopper,
    StaffNoticeRecord,
    StaffPushSubscription,
    StaffUser,
    Store,
    WebPushSubscription,
)
from store_server.messaging.channels import (
    Contact,
    Notification,
    PersonContact,
    PushSubscription,
    Sender,
    SendResult,
)
from store_server.messaging.channels.email import EmailConfig, EmailSender
from store_server.messaging.channels.inapp import InAppSender, Publish
from store_server.messaging.channels.router import Router, RouteResult
from store_server.messaging.channels.sms import SmsConfig, SmsSender
from store_server.messaging.channels.webpush import WebPushSender, ensure_vapid_keys
from store_server.messaging.staff_notices import StaffNotice, notice_for
from store_server.messaging.staff_notices import deliver as deliver_to_staff
from store_server.metrics import DELIVERIES, DELIVERY_TIMEOUTS, STAFF_NOTICES
from store_server.settings import StoreSettings, unreachable_contact
from store_server.vocabulary import Channel, Purpose

log = logging.getLogger(__name__)
# The two queues: shoppers' messages and staff notices (the same columns for the queue's use).
QueueTable = type[Delivery] | type[StaffNoticeRecord]
IsConnected = Callable[[int], bool]
# 32 bytes of randomness, base64url: an unsubscribe link cannot be guessed from another.
UNSUBSCRIBE_TOKEN_BYTES = 32
# The kind of an offer's notification (the in-app event name and push payload type); every
# other kind is about a pickup (Purpose.ARRIVAL).
COUPON_KIND = "coupon"
# A recovery link asked for by whoever holds the address: needs no consent, only the address.
RECOVERY_KIND = "recovery"
QUEUED = "queued"
SENDING = "sending"
RETRYABLE = "failed_retryable"
PERMANENT = "failed_permanent"
# A route that failed only retryably is tried again after 30 s, 2 min, 8 min, 32 min (or the
# provider's Retry-After, if later), then given up: most offers expire within hours, and a
# provider down for most of an hour is an outage for a person to look at, not a retry loop.
FIRST_RETRY_S = 30.0
RETRY_FACTOR = 4.0
MAX_RETRY_DELAY_S = 3600.0
MAX_TRIES = 5
# The longest a route can take (a sender gives up after `delivery_timeout_s` of silence, 60 s
# at most, four channels) with a margin: a row claimed longer ago than this belongs to a process
# that died mid-send.
SENDING_STALE_S = 600.0
INTERRUPTED = "interrupted while sending; not sent again, it may have left"
# How many rows one sweep re-submits: the queue drains over a few sweeps, a sweep stays short.
RESEND_BATCH = 200


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
        base_url: where links in messages point (settings.base_url).
    """

    configured: frozenset[Channel]
    base_url: str = "http://127.0.0.1"

    def reachable(self, contact: Contact) -> frozenset[Channel]:
        """The configured channels this shopper can be reached on now.

        In-app always can: an offer waits in her inbox until her page opens; whether the page
        is open now only decides whether the router tries the next channel.
        """
        have: dict[Channel, bool] = {
            Channel.APP: True,
            Channel.PUSH: contact.push is not None,
            Channel.SMS: bool(contact.phone),
            Channel.EMAIL: bool(contact.email),
        }
        return frozenset(c for c in self.configured if have[c])


NO_REACH = Reach(frozenset())


def build_senders(
    settings: StoreSettings,
    publish: Publish,
    is_connected: IsConnected,
    clock: Callable[[], float] = time.time,
) -> list[Sender]:
    """A sender for every channel this server is configured for (in-app and push always)."""
    keys = ensure_vapid_keys(Path(settings.var_dir))
    subject = vapid_subject(settings)
    if unreachable_contact(subject):
        # Not refused (the demo and a plain-http test store run like this), but loud: Apple's
        # push service rejects every push signed with it (403 BadJwtToken).
        log.warning(
            "event=vapid_subject_unusable subject=%s effect=push_to_iphones_fails "
            "fix=set_STORE_VAPID_SUBJECT_or_an_https_STORE_PUBLIC_URL",
            subject,
        )
    senders: list[Sender] = [
        InAppSender(publish, is_connected),
        WebPushSender(keys, subject, timeout_s=settings.delivery_timeout_s, clock=clock),
    ]
    if settings.sms_base_url:
        senders.append(
            SmsSender(
                SmsConfig(
                    settings.sms_base_url,
                    settings.sms_account_sid,
                    settings.sms_auth_token,
                    settings.sms_from,
                    timeout_s=settings.delivery_timeout_s,
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
                    security=settings.smtp_security,
                    username=settings.smtp_username or None,
                    password=settings.smtp_password or None,
                    timeout_s=settings.delivery_timeout_s,
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
    inbox: bool = False,
) -> Job:
    """Record the message as queued (in the caller's transaction) and return its job.

    Args:
        inbox: keep the message for the shopper's inbox, whatever the route's outcome: her
            page shows it when it opens (offers; a pickup text is worthless later).
    """
    session.add(
        Delivery(
            message_id=notification.message_id,
            store_id=store_id,
            shopper_id=contact.shopper_id,
            decision_id=decision_id,
            kind=notification.kind,
            status=QUEUED,
            attempts=[],
            created_at=now,
            inbox=inbox,
            notification=notification.payload(),
            channels=[str(c) for c in channels],
            tries=0,
        )
    )
    return Job(notification, contact, channels)


def person_contact(store: Store) -> PersonContact:
    """How the store's shoppers reach a person: its phone and web page, from its settings."""
    return PersonContact(store.help_phone, store.help_url)


def next_try_at(tries: int, retry_after_s: float | None, now: float) -> float | None:
    """When a route that failed retryably `tries` times may run again; None: give up."""
    if tries >= MAX_TRIES:
        return None
    backoff = min(FIRST_RETRY_S * RETRY_FACTOR ** max(0, tries - 1), MAX_RETRY_DELAY_S)
    return now + max(backoff, min(retry_after_s or 0.0, MAX_RETRY_DELAY_S))


def claim(db: Database, message_id: str, now: float, table: QueueTable = Delivery) -> bool:
    """Take a queued or due retryable message (a shopper's, or a staff notice's) for sending;
    False: another sender has it, it is done, it is not due or not on record (the one guard
    that makes sending at most once)."""
    with db.transaction() as session:
        done = session.execute(
            update(table)
            .where(
                table.message_id == message_id,
                or_(
                    table.status == QUEUED,
                    (table.status == RETRYABLE) & (table.next_try_at <= now),
                ),
            )
            .values(status=SENDING, claimed_at=now, tries=table.tries + 1)
            .execution_options(synchronize_session=False)
        )
        return rows_changed(done) == 1


def due_deliveries(session: Session, now: float, reach: Reach) -> list[Job]:
    """Re-decide the messages the queue still owes, oldest first, and return their jobs.

    Rows left `queued` (a crash between commit and send) and `failed_retryable` rows whose
    time has come are sent again if still worth sending: not expired, and on the channels of
    the decided order that she still consents to and can be reached on now. Rows a crash left
    `sending` are closed, not re-sent: the message may have left.
    """
    interrupted = session.scalars(
        select(Delivery).where(
            Delivery.status == SENDING, Delivery.claimed_at < now - SENDING_STALE_S
        )
    ).all()
    for row in interrupted:
        _close(session, row, INTERRUPTED)
    rows = session.scalars(
        select(Delivery)
        .where(
            Delivery.notification.is_not(None),
            or_(
                Delivery.status == QUEUED,
                (Delivery.status == RETRYABLE) & (Delivery.next_try_at <= now),
            ),
        )
        .order_by(Delivery.id)
        .limit(RESEND_BATCH)
    ).all()
    jobs: list[Job] = []
    for row in rows:
        job = _redecide(session, row, now, reach)
        if job is not None:
            jobs.append(job)
    return jobs


def _notification_of(row: Delivery | StaffNoticeRecord) -> Notification:
    """What a recorded message says, as it was queued."""
    payload = row.notification or {}
    return Notification(
        message_id=row.message_id,
        kind=payload["kind"],
        title=payload["title"],
        body=payload["body"],
        url=payload.get("url"),
        expires_at=payload.get("expires_at"),
        data=payload.get("data") or {},
    )


def _redecide(session: Session, row: Delivery, now: float, reach: Reach) -> Job | None:
    notification = _notification_of(row)
    shopper = session.get(Shopper, row.shopper_id)
    if notification.expires_at is not None and notification.expires_at <= now:
        why_not = "expired before it could be sent"
    elif shopper is None:
        why_not = "the shopper is gone"
    else:
        contact = contact_for(session, shopper)
        purpose = purpose_of(row.kind)
        consented = set(
            session.scalars(
                select(Consent.channel).where(
                    Consent.shopper_id == row.shopper_id,
                    Consent.store_id == row.store_id,
                    Consent.purpose == purpose,
                )
            )
            if purpose is not None
            else Channel
        )
        reachable = reach.reachable(contact)
        channels = tuple(
            Channel(c) for c in row.channels or () if c in consented and Channel(c) in reachable
        )
        if channels:
            return Job(notification, contact, channels)
        why_not = "no consented channel reaches her now"
    _close(session, row, why_not)
    return None


def _close(session: Session, row: Delivery | StaffNoticeRecord, why_not: str) -> None:
    """Give a message up (conditionally: unless a sender took it meanwhile), saying why."""
    log.info(
        "event=delivery_dropped message=%s reason=%s", row.message_id, why_not.replace(" ", "_")
    )
    table = type(row)
    session.execute(
        update(table)
        .where(table.id == row.id, table.status == row.status)
        .values(
            status=PERMANENT,
            next_try_at=None,
            attempts=[*row.attempts, {"channel": None, "status": PERMANENT, "reason": why_not}],
        )
        .execution_options(synchronize_session=False)
    )


def purpose_of(kind: str) -> Purpose | None:
    """The consent a message of this kind needs: offers for coupons, none for a recovery link
    (asked for by the address's holder), arrival for the rest."""
    if kind == RECOVERY_KIND:
        return None
    return Purpose.OFFERS if kind == COUPON_KIND else Purpose.ARRIVAL


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
    store = session.get(Store, store_id)
    if consented is None or shopper is None or store is None or not shopper.phone:
        return None
    notification = Notification(
        message_id=new_message_id(),
        kind=kind,
        title=title,
        body=body,
        person=person_contact(store),
    )
    contact = Contact(shopper_id=shopper_id, phone=shopper.phone)
    return queue_delivery(session, store_id, contact, notification, (Channel.SMS,), now)


def record_result(db: Database, job: Job, result: RouteResult, now: float) -> None:
    """Write the route's outcome on the message's delivery row (a retryable failure gets its
    next try, or is given up); forget dead push addresses."""
    for attempt in result.attempts:
        DELIVERIES.labels(attempt.channel, attempt.status).inc()
    with db.transaction() as session:
        row = session.scalars(
            select(Delivery).where(Delivery.message_id == job.notification.message_id)
        ).first()
        status: str = result.status
        retry_at = None
        if row is not None and status == RETRYABLE:
            retry_after = max((a.retry_after_s or 0.0 for a in result.attempts), default=0.0)
            retry_at = next_try_at(row.tries, retry_after, now)
            status = RETRYABLE if retry_at is not None else PERMANENT
        session.execute(
            update(Delivery)
            .where(Delivery.message_id == job.notification.message_id)
            .values(
                status=status,
                channel=result.channel,
                delivered_at=now if result.channel else None,
                next_try_at=retry_at,
                attempts=[
                    *(row.attempts if row is not None else []),
                    *(
                        {"channel": a.channel, "status": a.status, "reason": a.reason}
                        for a in result.attempts
                    ),
                ],
            )
            .execution_options(synchronize_session=False)
        )
        gone = any(a.contact_gone and a.channel == "push" for a in result.attempts)
        if gone and job.contact.push is not None:
            session.execute(
                delete(WebPushSubscription).where(
                    WebPushSubscription.endpoint == job.contact.push.endpoint
                )
            )


def queue_staff_notice(
    session: Session, store_id: int, staff: StaffUser, notification: Notification, now: float
) -> StaffNotice | None:
    """Record a work message to a staffer on the channel they chose (in the caller's
    transaction) and return it to submit after the commit; None: console only, or no address."""
    notice = notice_for(session, staff, notification)
    if notice is None:
        return None
    session.add(
        StaffNoticeRecord(
            message_id=notification.message_id,
            store_id=store_id,
            staff_id=staff.id,
            channel=str(notice.channel),
            status=QUEUED,
            notification=notification.payload(),
            attempts=[],
            created_at=now,
            tries=0,
        )
    )
    return notice


def due_staff_notices(
    session: Session, now: float, wanted: Callable[[Session, Notification], bool]
) -> list[StaffNotice]:
    """The staff notices still owed, oldest first: `queued` ones a crash left, and
    `failed_retryable` ones whose time has come, to the staffer's current address if they
    are still active and still chose that channel, and the message is still `wanted` (an
    escalation nobody has taken); the others are closed, saying why. Rows a crash left
    `sending` are closed, not re-sent: the message may have left."""
    interrupted = session.scalars(
        select(StaffNoticeRecord).where(
            StaffNoticeRecord.status == SENDING,
            StaffNoticeRecord.claimed_at < now - SENDING_STALE_S,
        )
    ).all()
    for interrupted_row in interrupted:
        _close(session, interrupted_row, INTERRUPTED)
    rows = session.scalars(
        select(StaffNoticeRecord)
        .where(
            or_(
                StaffNoticeRecord.status == QUEUED,
                (StaffNoticeRecord.status == RETRYABLE) & (StaffNoticeRecord.next_try_at <= now),
            )
        )
        .order_by(StaffNoticeRecord.id)
        .limit(RESEND_BATCH)
    ).all()
    notices: list[StaffNotice] = []
    for row in rows:
        notification = _notification_of(row)
        staff = session.get(StaffUser, row.staff_id)
        if notification.expires_at is not None and notification.expires_at <= now:
            why_not = "expired before it could be sent"
        elif staff is None or not staff.active:
            why_not = "the staffer is no longer active"
        elif not wanted(session, notification):
            why_not = "no longer needed: someone has gone"
        else:
            notice = notice_for(session, staff, notification)
            if notice is not None and notice.channel == row.channel:
                notices.append(notice)
                continue
            why_not = "the staffer chose another channel or has no address for it now"
        _close(session, row, why_not)
    return notices


def record_staff_result(db: Database, notice: StaffNotice, result: SendResult, now: float) -> None:
    """Write a staff notice's outcome on its row: a retryable failure gets its next try unless
    the tries are spent or the link expires first; forget a dead push address."""
    message_id = notice.notification.message_id
    with db.transaction() as session:
        row = session.scalars(
            select(StaffNoticeRecord).where(StaffNoticeRecord.message_id == message_id)
        ).first()
        if row is None:
            return
        status: str = result.status
        retry_at = None
        if status == RETRYABLE:
            retry_at = next_try_at(row.tries, result.retry_after_s, now)
            expires_at = notice.notification.expires_at
            if retry_at is None or (expires_at is not None and retry_at >= expires_at):
                retry_at, status = None, PERMANENT
        session.execute(
            update(StaffNoticeRecord)
            .where(StaffNoticeRecord.id == row.id)
            .values(
                status=status,
                delivered_at=now if result.delivered else None,
                next_try_at=retry_at,
                attempts=[
                    *row.attempts,
                    {"channel": result.channel, "status": result.status, "reason": result.reason},
                ],
            )
            .execution_options(synchronize_session=False)
        )
        if result.contact_gone and notice.push is not None:
            session.execute(
                delete(StaffPushSubscription).where(
                    StaffPushSubscription.endpoint == notice.push.endpoint
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
    """Delivers queued jobs, oldest first within a lane: one worker thread per lane.

    A lane is the first channel of a shopper's route, or the channel of a staff notice: a
    provider that hangs holds up only the messages waiting for that same provider, never a
    text behind a stalled e-mail relay, nor a manager's escalation behind shoppers' messages.
    Staff tablets' alerts never come here (`web.realtime` emits them).
    """

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
        self._lanes: dict[str, _Lane] = {}
        self._lock = threading.Lock()

    def submit(self, job: Job | StaffNotice | None) -> None:
        """Queue a job (None jobs are ignored) on its lane's worker; returns at once."""
        if job is None:
            return
        name = lane_of(job)
        with self._lock:
            lane = self._lanes.get(name)
            if lane is None:
                lane = self._lanes[name] = _Lane(name, self._work)
        lane.put(job)

    def submit_all(self, jobs: Iterable[Job | StaffNotice]) -> None:
        """Queue several jobs in order."""
        for job in jobs:
            self.submit(job)

    def wait_idle(self, timeout_s: float) -> bool:
        """Whether every queued job was routed and recorded within `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            lanes = list(self._lanes.values())
        return all(lane.wait_idle(deadline) for lane in lanes)

    def stop(self) -> None:
        """Let the workers finish what is queued, then end."""
        with self._lock:
            lanes = list(self._lanes.values())
        for lane in lanes:
            lane.stop()

    def _work(self, job: Job | StaffNotice) -> None:
        try:
            if isinstance(job, StaffNotice):
                notice_id = job.notification.message_id
                if self._db is not None and not claim(
                    self._db, notice_id, self._clock(), StaffNoticeRecord
                ):
                    return  # sent or being sent already, or not due yet
                result = deliver_to_staff(self.router, job)  # logged there
                STAFF_NOTICES.labels(result.channel, result.status).inc()
                _count_timeouts((result,))
                if self._db is not None:
                    record_staff_result(self._db, job, result, self._clock())
                return
            message_id = job.notification.message_id
            if self._db is not None and not claim(self._db, message_id, self._clock()):
                return  # sent or being sent already (the sweep re-submits what is still queued)
            routed = self.router.deliver(job.notification, job.contact, job.channels)
            _count_timeouts(routed.attempts)
            if self._db is not None:
                record_result(self._db, job, routed, self._clock())
        except Exception:  # noqa: BLE001 - one failed message must not stop the queue
            log.exception("event=outbound_failed message=%s", job.notification.message_id)


def lane_of(job: Job | StaffNotice) -> str:
    """The worker a job waits for: staff notices by their channel, shoppers' messages by the
    first channel of their route."""
    if isinstance(job, StaffNotice):
        return f"staff-{job.channel}"
    return f"shoppers-{job.channels[0]}" if job.channels else "shoppers"


def _count_timeouts(attempts: Iterable[SendResult]) -> None:
    for attempt in attempts:
        if attempt.timed_out:
            DELIVERY_TIMEOUTS.labels(attempt.channel).inc()


class _Lane:
    """One queue and the thread that works through it (started with the first job)."""

    def __init__(self, name: str, work: Callable[[Job | StaffNotice], None]) -> None:
        self._queue: queue.Queue[Job | StaffNotice | None] = queue.Queue()
        self._work = work
        self._thread = threading.Thread(target=self._run, name=f"outbound-{name}", daemon=True)
        self._thread.start()

    def put(self, job: Job | StaffNotice) -> None:
        self._queue.put(job)

    def wait_idle(self, deadline: float) -> bool:
        while self._queue.unfinished_tasks:
            if time.monotonic() >= deadline:
                return False
            with self._queue.all_tasks_done:
                self._queue.all_tasks_done.wait(timeout=max(0.0, deadline - time.monotonic()))
        return True

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            try:
                self._work(job)
            finally:
                self._queue.task_done()
        self._queue.task_done()
