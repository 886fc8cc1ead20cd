"""In-app delivery: a Socket.IO event to the shopper's room, only while their page is connected.

A page that is closed now still gets the offer: it waits in the shopper's inbox (the message's
`deliveries.inbox`), which the page shows when it opens; the router meanwhile tries the
campaign's next channel.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from store_server.events import Audience, Event
from store_server.messaging.channels import Contact, Notification, SendResult
from store_server.vocabulary import Channel

Publish = Callable[[Sequence[Event]], None]  # the app's publisher: queues, returns at once
IsConnected = Callable[[int], bool]  # shopper id -> has a live Socket.IO connection


class InAppSender:
    """Emits the notification to `shopper:<id>` through the background emitter."""

    channel: Channel = Channel.APP

    def __init__(self, publish: Publish, is_connected: IsConnected) -> None:
        self._publish = publish
        self._is_connected = is_connected

    def send(self, notification: Notification, contact: Contact) -> SendResult:
        """Delivered if the shopper's page is connected now; nobody listening is permanent."""
        try:
            if not self._is_connected(contact.shopper_id):
                return SendResult(
                    Channel.APP,
                    "failed_permanent",
                    "shopper page not connected: waits in the inbox",
                )
            audience = Audience.shopper(contact.shopper_id)
            self._publish([Event(notification.kind, notification.payload(), audience)])
        except Exception as exc:  # noqa: BLE001 - the emitter's failure is a result, not a crash
            return SendResult(Channel.APP, "failed_retryable", f"emit failed {type(exc).__name__}")
        return SendResult(Channel.APP, "delivered", "emitted to the shopper's room")
