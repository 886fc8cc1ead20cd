"""One process of the fan-out bench's tablets: N python-socketio clients on one asyncio loop.

    FANOUT_AUTH='{"token": "staff-token"}' python -m bench.fanout_tablets URL COUNT [EVENT]

Prints `ready` once every client is connected, then one line per EVENT (default `arrival`)
received:
the receive time on the monotonic clock (`time.perf_counter`, the same clock in every process
on Linux), so the bench can spread thousands of tablets over several processes and cores.
Ends when stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

import socketio

# Tablets connecting at once: more makes the handshakes time out on a busy machine.
CONNECT_CONCURRENCY = 50


async def run(url: str, count: int, auth: dict[str, str] | None, event: str) -> None:
    """Connect, report receive times, disconnect when stdin closes."""
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    out = sys.stdout

    def record(_payload: Any) -> None:
        out.write(f"{time.perf_counter()!r}\n")
        out.flush()

    async def connect() -> socketio.AsyncClient:
        client = socketio.AsyncClient(reconnection=False)
        client.on(event, record)
        async with gate:
            await client.connect(url, auth=auth, transports=["websocket"], wait_timeout=60)
        return client

    clients = await asyncio.gather(*(connect() for _ in range(count)))
    out.write("ready\n")
    out.flush()
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
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
