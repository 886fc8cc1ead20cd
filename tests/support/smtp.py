"""The loopback SMTP peer: a real SMTP server (aiosmtpd) on a free port that keeps what it gets."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, cast

from aiosmtpd.controller import Controller


@dataclass
class Mailbox:
    """What the local SMTP server received, and how it answers recipients."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # recipient -> SMTP reply

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 2.0.0 queued"


class PortZeroController(Controller):
    """aiosmtpd's Controller on a free port: learn the port before it connects to itself."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        # The loop's create_server made it, so it is an asyncio.Server, which has sockets.
        server = cast(asyncio.Server, self.server)
        self.port = server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]  # aiosmtpd leaves it unannotated


@contextmanager
def smtp_peer() -> Iterator[tuple[Mailbox, int]]:
    """An SMTP server on 127.0.0.1 until the block ends; yields its mailbox and port."""
    mailbox = Mailbox()
    controller = PortZeroController(mailbox, hostname="127.0.0.1", port=0)
    controller.start()
    try:
        yield mailbox, controller.port
    finally:
        controller.stop()
