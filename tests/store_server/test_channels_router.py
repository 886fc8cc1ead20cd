"""The notification router's fallback, and the in-app sender."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from store_server.events import Event
from store_server.messaging.channels import Contact, DeliveryStatus, Notification, SendResult
from store_server.messaging.channels.inapp import InAppSender
from store_server.messaging.channels.router import Router
from store_server.vocabulary import Channel
from store_server.web.realtime import room_of

NOTE = Notification(
    "msg-1",
    "offer",
    "20 % off",
    "dresses, two hours",
    url="https://s.example/r/X",
    expires_at=1_700_000_000.0,
    data={"code": "X"},
)
CONTACT = Contact(42, phone="+14155550123", email="maria@shopper.example")


@dataclass
class Scripted:
    """A sender answering a fixed status, counting calls."""

    channel: Channel
    status: DeliveryStatus
    calls: list[str] = field(default_factory=list)

    def send(self, notification: Notification, contact: Contact) -> SendResult:
        self.calls.append(notification.message_id)
        return SendResult(self.channel, self.status, f"scripted {self.status}")


class Exploding:
    channel: Channel = Channel.PUSH

    def send(self, notification: Notification, contact: Contact) -> SendResult:
        raise RuntimeError(f"cannot reach {contact.phone}")  # a careless library message


def test_falls_back_along_the_order_and_stops_at_the_first_delivery() -> None:
    push = Scripted(Channel.PUSH, "failed_permanent")
    sms = Scripted(Channel.SMS, "failed_retryable")
    email = Scripted(Channel.EMAIL, "delivered")
    app = Scripted(Channel.APP, "delivered")
    result = Router([app, push, sms, email]).deliver(
        NOTE, CONTACT, [Channel.PUSH, Channel.SMS, Channel.EMAIL, Channel.APP]
    )
    assert [(a.channel, a.status) for a in result.attempts] == [
        (Channel.PUSH, "failed_permanent"),
        (Channel.SMS, "failed_retryable"),
        (Channel.EMAIL, "delivered"),
    ]
    assert (result.status, result.channel) == ("delivered", Channel.EMAIL)
    assert app.calls == []  # never tried after a delivery


@pytest.mark.parametrize(
    ("statuses", "overall"),
    [
        (("failed_permanent", "failed_permanent"), "failed_permanent"),
        (("failed_permanent", "failed_retryable"), "failed_retryable"),
        ((), "failed_permanent"),
    ],
)
def test_overall_status_when_nothing_delivered(
    statuses: tuple[DeliveryStatus, ...], overall: str
) -> None:
    channels: list[Channel] = [Channel.PUSH, Channel.SMS][: len(statuses)]
    senders = [Scripted(c, s) for c, s in zip(channels, statuses, strict=True)]
    result = Router(senders).deliver(NOTE, CONTACT, channels)
    assert result.status == overall
    assert result.channel is None


def test_a_channel_without_sender_is_a_permanent_attempt() -> None:
    result = Router([Scripted(Channel.EMAIL, "delivered")]).deliver(
        NOTE, CONTACT, [Channel.SMS, Channel.EMAIL]
    )
    assert [(a.channel, a.status, a.reason) for a in result.attempts] == [
        (Channel.SMS, "failed_permanent", "no sender configured"),
        (Channel.EMAIL, "delivered", "scripted delivered"),
    ]


def test_a_crashing_sender_is_wrapped_and_logged_without_personal_data(
    caplog: pytest.LogCaptureFixture,
) -> None:
    router = Router([Exploding(), Scripted(Channel.SMS, "delivered")])
    with caplog.at_level(logging.INFO):
        result = router.deliver(NOTE, CONTACT, [Channel.PUSH, Channel.SMS])
    assert result.attempts[0].status == "failed_retryable"
    assert result.attempts[0].reason == "sender error RuntimeError"
    assert result.channel == Channel.SMS
    assert "+14155550123" not in caplog.text and "maria@" not in caplog.text
    assert caplog.text.count("message=msg-1") == 2


def test_router_lists_its_channels() -> None:
    assert Router(
        [Scripted(Channel.EMAIL, "delivered"), Scripted(Channel.APP, "delivered")]
    ).channels == (
        Channel.EMAIL,
        Channel.APP,
    )


@dataclass
class Room:
    """Stands in for Broadcaster.publish and the live-connection registry."""

    connected: set[int] = field(default_factory=set)
    published: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)

    def publish(self, events: Sequence[Event]) -> None:
        self.published += [(e.name, e.payload, room_of(e.audience)) for e in events]


def test_in_app_emits_to_the_shoppers_room_when_connected() -> None:
    room = Room(connected={42})
    result = InAppSender(room.publish, room.connected.__contains__).send(NOTE, CONTACT)
    assert (result.channel, result.status) == (Channel.APP, "delivered")
    assert room.published == [("offer", NOTE.payload(), "shopper:42")]
    assert NOTE.payload()["expires_at"] == 1_700_000_000.0


def test_in_app_without_a_live_page_is_permanent_and_emits_nothing() -> None:
    room = Room(connected={7})
    result = InAppSender(room.publish, room.connected.__contains__).send(NOTE, CONTACT)
    assert result.status == "failed_permanent"
    assert room.published == []


def test_in_app_emitter_failure_is_a_result() -> None:
    def broken(events: Sequence[Event]) -> None:
        raise OSError("queue closed")

    result = InAppSender(broken, lambda _: True).send(NOTE, CONTACT)
    assert result.status == "failed_retryable"


def test_in_app_falls_back_to_push_through_the_router() -> None:
    room = Room()
    push = Scripted(Channel.PUSH, "delivered")
    router = Router([InAppSender(room.publish, room.connected.__contains__), push])
    result = router.deliver(NOTE, CONTACT, [Channel.APP, Channel.PUSH])
    assert [a.status for a in result.attempts] == ["failed_permanent", "delivered"]
    assert result.channel == Channel.PUSH
