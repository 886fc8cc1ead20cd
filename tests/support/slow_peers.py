"""A real SMTP server and SMS provider on loopback, each behind a `TcpProxy` a test can stall
(a provider that accepts the connection, then says nothing) and resume."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from tests.support.sms_provider import SmsProvider, sms_provider
from tests.support.smtp import Mailbox, smtp_peer
from tests.support.tcp_proxy import TcpProxy

Peers = tuple[Mailbox, TcpProxy, SmsProvider, TcpProxy]


@contextlib.contextmanager
def proxied_peers() -> Iterator[Peers]:
    """The mailbox, the SMTP proxy, the SMS provider and the SMS proxy."""
    with smtp_peer() as (mailbox, smtp_port), sms_provider() as provider:
        smtp = TcpProxy("127.0.0.1", smtp_port)
        sms = TcpProxy("127.0.0.1", provider.port)
        try:
            yield mailbox, smtp, provider, sms
        finally:
            smtp.close()
            sms.close()
