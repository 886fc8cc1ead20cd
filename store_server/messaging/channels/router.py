"""The one notification router: tries the decided channels in order, falling back on failure.

A permanent failure (page closed, subscription gone, number unreachable) moves on to the next
channel. So does a retryable one (provider busy, server down): the offer is time-limited, and
waiting on one channel while another works would waste it. When nothing delivered and some
failure was retryable, the route's status is `failed_retryable` so the caller may route again
later, after deciding again (validity, consent and caps may have changed).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from store_server.messaging.channels import (
    Contact,
    DeliveryStatus,
    Notification,
    Sender,
    SendResult,
)
from store_server.vocabulary import Channel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RouteResult:
    """Every attempt in order, and the overall outcome."""

    message_id: str
    attempts: tuple[SendResult, ...]

    @property
    def channel(self) -> Channel | None:
        """The channel that delivered, if any."""
        return next((a.channel for a in self.attempts if a.delivered), None)

    @property
    def status(self) -> DeliveryStatus:
        """delivered if a channel took it; else retryable if any failure was; else permanent."""
        if any(a.delivered for a in self.attempts):
            return "delivered"
        if any(a.status == "failed_retryable" for a in self.attempts):
            return "failed_retryable"
        return "failed_permanent"


class Router:
    """Delivers a notification along a decided channel order with the configured senders."""

    def __init__(self, senders: Iterable[Sender]) -> None:
        self._senders: Mapping[Channel, Sender] = {s.channel: s for s in senders}

    @property
    def channels(self) -> tuple[Channel, ...]:
        """The channels this router can send on (availability for the decision)."""
        return tuple(self._senders)

    def sender(self, channel: Channel) -> Sender | None:
        """The configured sender of a channel, if any."""
        return self._senders.get(channel)

    def deliver(
        self, notification: Notification, contact: Contact, channels: Iterable[Channel]
    ) -> RouteResult:
        """Try `channels` in order until one delivers; record every attempt."""
        attempts: list[SendResult] = []
        for channel in channels:
            result = self._attempt(channel, notification, contact)
            attempts.append(result)
            log.info(
                "event=delivery_attempt message=%s channel=%s status=%s reason=%s",
                notification.message_id,
                channel,
                result.status,
                result.reason.replace(" ", "_"),
            )
            if result.delivered:
                break
        return RouteResult(notification.message_id, tuple(attempts))

    def _attempt(
        self, channel: Channel, notification: Notification, contact: Contact
    ) -> SendResult:
        sender = self._senders.get(channel)
        if sender is None:
            return SendResult(channel, "failed_permanent", "no sender configured")
        try:
            return sender.send(notification, contact)
        except Exception as exc:  # noqa: BLE001 - a faulty sender must not stop the fallback
            # Only the type: a foreign message may quote an address or a number.
            return SendResult(channel, "failed_retryable", f"sender error {type(exc).__name__}")
