"""Delivery channels behind one router: in-app (Socket.IO), Web Push, SMS and e-mail.

Every sender takes a `Notification` and the shopper's `Contact` and returns a `SendResult`;
none raises on a peer's error. Logs name the channel, the outcome and the opaque message id,
never a phone number, an address or a push endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from store_server.vocabulary import Channel

DeliveryStatus = Literal["delivered", "failed_permanent", "failed_retryable"]


@dataclass(frozen=True)
class PushSubscription:
    """A browser's PushSubscription: endpoint and its keys (base64url, as the browser gives)."""

    endpoint: str = field(repr=False)
    p256dh: str = field(repr=False)
    auth: str = field(repr=False)


@dataclass(frozen=True)
class Contact:
    """Where one shopper can be reached; personal data, so never logged or repr'd.

    Args:
        unsubscribe_token: an opaque token naming the shopper's e-mail consent, for
            `List-Unsubscribe` links (never the address itself).
    """

    shopper_id: int
    phone: str | None = field(default=None, repr=False)
    email: str | None = field(default=None, repr=False)
    push: PushSubscription | None = field(default=None, repr=False)
    unsubscribe_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class PersonContact:
    """How a shopper reaches a person at the store: its phone and web page (either may be "")."""

    phone: str = ""
    url: str = ""

    def line(self) -> str:
        """The sentence every message ends with, e.g. "To reach a person: call ... or see ..."."""
        ways = [f"call {self.phone}" if self.phone else "", f"see {self.url}" if self.url else ""]
        said = " or ".join(w for w in ways if w)
        return f"To reach a person: {said}." if said else ""


@dataclass(frozen=True)
class Notification:
    """What to say, the same for every channel; each sender renders what it can carry.

    Args:
        message_id: opaque id for logs, delivery records and de-duplication on the device.
        kind: the event name for in-app and the payload's type (e.g. `offer`, `pickup`).
        url: where a tap leads (e.g. the coupon page; an opaque redemption URL, no personal
            data).
        expires_at: Unix seconds after which the message is worthless (push TTL uses it).
        data: extra JSON for in-app and push (e.g. the coupon's code and expiry).
        person: how to reach a person at the store; every channel ends the text with it.
    """

    message_id: str
    kind: str
    title: str
    body: str
    url: str | None = None
    expires_at: float | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    person: PersonContact = field(default_factory=PersonContact)

    @property
    def text(self) -> str:
        """The body with the way to reach a person: what every channel shows."""
        line = self.person.line()
        return f"{self.body} {line}" if line else self.body

    def payload(self) -> dict[str, Any]:
        """The JSON object in-app, push and the inbox carry."""
        return {
            "id": self.message_id,
            "kind": self.kind,
            "title": self.title,
            "body": self.text,
            "url": self.url,
            "expires_at": self.expires_at,
            "data": dict(self.data),
            "person": {"phone": self.person.phone, "url": self.person.url},
        }


@dataclass(frozen=True)
class SendResult:
    """One delivery attempt on one channel; `reason` carries no personal data."""

    channel: Channel
    status: DeliveryStatus
    reason: str = ""
    provider_id: str | None = None  # the provider's id (SMS sid, SMTP Message-ID)
    retry_after_s: float | None = None
    # The address itself is dead (a push subscription the service says is gone): forget it.
    contact_gone: bool = False
    # The peer stayed silent past the sender's timeout (counted apart in /metrics: a provider
    # that hangs, not one that refuses).
    timed_out: bool = False

    @property
    def delivered(self) -> bool:
        """Whether the channel took the message."""
        return self.status == "delivered"


class Sender(Protocol):
    """One channel's sender."""

    channel: Channel

    def send(self, notification: Notification, contact: Contact) -> SendResult:
        """Try to deliver; never raises on a peer's error."""
        ...
