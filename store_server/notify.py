"""Messages that leave the store (SMS today) go out from a background queue through the one
channel router, so no request waits on a provider."""

from __future__ import annotations

import logging
import queue
import threading
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from store_server.channels import Contact, Notification
from store_server.channels.router import Router
from store_server.channels.sms import SmsConfig, SmsSender
from store_server.decide import Channel
from store_server.models import Consent, Shopper
from store_server.settings import StoreSettings

log = logging.getLogger(__name__)
Job = tuple[Notification, Contact, tuple[Channel, ...]]


def outbound_router(settings: StoreSettings) -> Router:
    """The router with every channel this server is configured for (none: nothing leaves)."""
    senders = []
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
    return Router(senders)


def urgent_sms(
    session: Session, shopper_id: int, store_id: int, kind: str, title: str, body: str
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
    phone = session.scalar(select(Shopper.phone).where(Shopper.id == shopper_id))
    if consented is None or not phone:
        return None
    notification = Notification(message_id=uuid.uuid4().hex, kind=kind, title=title, body=body)
    return notification, Contact(shopper_id=shopper_id, phone=phone), ("sms",)


class Outbound:
    """One worker thread delivering queued jobs through the router, oldest first."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def submit(self, job: Job | None) -> None:
        """Queue a job (None jobs are ignored) for the worker; returns at once."""
        if job is None or not self.router.channels:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="outbound", daemon=True)
            self._thread.start()
        self._queue.put(job)

    def stop(self) -> None:
        """Let the worker finish what is queued, then end."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            notification, contact, channels = job
            try:
                self.router.deliver(notification, contact, channels)
            except Exception:  # noqa: BLE001 - one failed message must not stop the queue
                log.exception("event=outbound_failed message=%s", notification.message_id)
