"""One process of the fan-out bench's tablets: N python-socketio clients on one asyncio loop.

    FANOUT_AUTH='{"token": "staff-token"}' python -m bench.fanout_tablets URL COUNT [EVENT]

Prints `ready RETRIES` once every client is connected (RETRIES: connection attempts that failed
and were tried again), then one line per EVENT (default `arrival`) received: the receive time on
the monotonic clock (`time.perf_counter`, the same clock in every process on Linux), so the bench
can spread thousands of tablets over several processes and cores; `dropped` when the server
drops a connected client (the bench stops then: what follows would measure fewer tablets).
Ends when stdin closes.

The clients behave as the tablet's page does (socket.io-client in a browser), not stricter:
- A failed connection attempt is tried again after a pause (the page's client reconnects by
  itself, 1 to 5 s apart), up to CONNECT_ATTEMPTS times.
- A client gives the server `pingInterval + pingTimeout` (45 s with the server's defaults) for
  its next ping, as the browser client does. python-engineio's client gives up sooner: its
  write loop aborts ("packet queue is empty") when it has had nothing to send for
  `max(pingInterval, pingTimeout) + 5` s, i.e. when a ping is more than 5 s late. A server
  busy with thousands of connections (gthread: four threads each) sends pings that late, and
  the bench then measured its own client dropping, not what a tablet sees.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

import engineio
import socketio

# Tablets connecting at once: more makes the handshakes time out on a busy machine.
CONNECT_CONCURRENCY = 50
# Attempts per tablet, and the pause between them (socket.io-client's reconnectionDelay 1 s,
# growing to reconnectionDelayMax 5 s).
CONNECT_ATTEMPTS = 5
RETRY_PAUSE_S = (1.0, 2.0, 4.0, 5.0)
# python-engineio's client aborts after max(interval, timeout) + this grace without a ping.
ENGINEIO_CLIENT_GRACE_S = 5.0


class BrowserPatientEngineIO(engineio.AsyncClient):  # type: ignore[misc]
    """An Engine.IO client that waits `pingInterval + pingTimeout` for the server's next ping,
    as socket.io-client does, from the first ping on (the server's values arrive with the
    handshake, interval first)."""

    @property
    def ping_timeout(self) -> float | None:
        return self._patient_timeout

    @ping_timeout.setter
    def ping_timeout(self, value: float | None) -> None:
        interval = self.ping_interval
        if value is None or interval is None:
            self._patient_timeout = value
        else:  # its write loop waits max(interval, timeout) + grace
            self._patient_timeout = interval + value - ENGINEIO_CLIENT_GRACE_S


class Tablet(socketio.AsyncClient):  # type: ignore[misc]
    """A python-socketio client over the patient Engine.IO client."""

    def _engineio_client_class(self) -> type[engineio.AsyncClient]:
        return BrowserPatientEngineIO


async def run(url: str, count: int, auth: dict[str, str] | None, event: str) -> None:
    """Connect, report receive times, disconnect when stdin closes."""
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    out = sys.stdout
    retries = 0

    def record(_payload: Any) -> None:
        out.write(f"{time.perf_counter()!r}\n")
        out.flush()

    def dropped(*_reason: Any) -> None:
        if not closing.is_set():
            out.write("dropped\n")
            out.flush()

    closing = asyncio.Event()

    async def connect() -> socketio.AsyncClient:
        nonlocal retries
        for attempt in range(CONNECT_ATTEMPTS):
            client = Tablet(reconnection=False)
            client.on(event, record)
            client.on("disconnect", dropped)
            try:
                async with gate:
                    await client.connect(url, auth=auth, transports=["websocket"], wait_timeout=60)
            except socketio.exceptions.ConnectionError:
                if attempt == CONNECT_ATTEMPTS - 1:
                    raise
                retries += 1
                await asyncio.sleep(RETRY_PAUSE_S[attempt])
                continue
            return client
        raise AssertionError("unreachable")

    clients = await asyncio.gather(*(connect() for _ in range(count)))
    out.write(f"ready {retries}\n")
    out.flush()
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    closing.set()
    await asyncio.gather(*(c.disconnect() for c in clients))


def main(argv: list[str]) -> int:
    """Entry point."""
    url, count = argv[0], int(argv[1])
    event = argv[2] if len(argv) > 2 else "arrival"
    auth = json.loads(os.environ.get("FANOUT_AUTH") or "{}") or None
    asyncio.run(run(url, count, auth, event))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
