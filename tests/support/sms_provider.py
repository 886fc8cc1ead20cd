"""The loopback SMS provider: a Twilio-compatible Messages API that keeps what it is sent, and can
hold the first request unanswered or answer the first few 503 with `Retry-After`."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from tests.support.http import QuietHandler, loopback_server

SID = "AC0123456789abcdef0123456789abcdef"
FROM = "+15005550006"


@dataclass
class SmsProvider:
    """What the provider received, and how it answers."""

    port: int = 0
    received: list[dict[str, str]] = field(default_factory=list)
    hold_first: bool = False
    busy: int = 0  # answer this many requests 503 with Retry-After first
    released: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def bodies(self) -> list[str]:
        with self.lock:
            return [m["Body"] for m in self.received]


@contextmanager
def sms_provider() -> Iterator[SmsProvider]:
    """The provider on 127.0.0.1 until the block ends."""
    state = SmsProvider()

    class Handler(QuietHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            with state.lock:
                first = not state.received
                state.received.append(form)
                busy = state.busy > 0
                state.busy -= 1
            if first and state.hold_first:
                state.released.wait(timeout=60)
            status, body = (503, {"status": 503}) if busy else (201, {"sid": "SM1"})
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if busy:
                self.send_header("Retry-After", "120")
            self.end_headers()
            self.wfile.write(data)

    with loopback_server(Handler) as port:
        state.port = port
        try:
            yield state
        finally:
            state.released.set()
