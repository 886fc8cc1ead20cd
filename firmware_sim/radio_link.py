"""The radio link: a TCP server that streams to each connected gateway the adverts it hears."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass

from firmware_sim.wire import AdvertJson, advert_line, parse_hello_line

logger = logging.getLogger(__name__)

# Adverts buffered per client before the oldest is dropped: a minute of a busy store
# (about 150 phones heard once a second) without letting a stalled gateway eat memory.
CLIENT_QUEUE_SIZE = 10_000
# A client that has not said which gateway it is within this time is disconnected.
HELLO_TIMEOUT_S = 5.0
# A hello line is a tiny JSON object; anything longer is not a hello.
MAX_HELLO_BYTES = 1024


@dataclass
class LinkCounters:
    """What happened to the adverts handed to the link."""

    sent: int = 0
    dropped_no_client: int = 0
    dropped_slow_client: int = 0


async def _wait_for_eof(reader: asyncio.StreamReader) -> None:
    """Discard whatever the client sends until it closes the connection."""
    with contextlib.suppress(OSError):
        while await reader.read(4096):
            pass


class _Client:
    def __init__(self, gateway: str, queue_size: int) -> None:
        self.gateway = gateway
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=queue_size)


class RadioLinkServer:
    """Accepts gateway connections and fans adverts out to the clients of each gateway."""

    def __init__(self, queue_size: int = CLIENT_QUEUE_SIZE) -> None:
        self._queue_size = queue_size
        self._clients: set[_Client] = set()
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.counters = LinkCounters()

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Listen on host:port (port 0 picks a free one); returns the address actually bound."""
        self._server = await asyncio.start_server(self._handle, host, port)
        bound = self._server.sockets[0].getsockname()
        logger.info("radio_link.listening port=%d", bound[1])
        return str(bound[0]), int(bound[1])

    def connected_gateways(self) -> set[str]:
        """Names of the gateways that have at least one client connected now."""
        return {client.gateway for client in self._clients}

    def client_count(self, gateway: str) -> int:
        """How many clients are listening as `gateway` now."""
        return sum(1 for _ in self._clients_of(gateway))

    def _clients_of(self, gateway: str) -> Iterator[_Client]:
        return (client for client in self._clients if client.gateway == gateway)

    def publish(self, gateway: str, advert: AdvertJson) -> None:
        """Queue `advert` for every client of `gateway`; never blocks, drops oldest when full."""
        clients = list(self._clients_of(gateway))
        if not clients:
            self.counters.dropped_no_client += 1
            return
        line = advert_line(advert)
        for client in clients:
            if client.queue.full():
                client.queue.get_nowait()
                self.counters.dropped_slow_client += 1
            client.queue.put_nowait(line)

    async def close(self) -> None:
        """Stop listening and disconnect every client."""
        if self._server is not None:
            self._server.close()
        for task in list(self._handlers):
            task.cancel()
        for task in list(self._handlers):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            gateway = await self._read_hello(reader)
            if gateway is None:
                logger.warning("radio_link.bad_hello")
                return
            client = _Client(gateway, self._queue_size)
            self._clients.add(client)
            logger.info("radio_link.client_connected gateway=%s", gateway)
            try:
                await self._stream(client, reader, writer)
            finally:
                self._clients.discard(client)
                logger.info("radio_link.client_disconnected gateway=%s", gateway)
        finally:
            writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await writer.wait_closed()
            if task is not None:
                self._handlers.discard(task)

    async def _read_hello(self, reader: asyncio.StreamReader) -> str | None:
        try:
            line = await asyncio.wait_for(reader.readline(), HELLO_TIMEOUT_S)
        except (TimeoutError, OSError, ValueError):
            return None
        return parse_hello_line(line) if len(line) <= MAX_HELLO_BYTES else None

    async def _stream(
        self, client: _Client, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        # The client sends nothing after its hello: end of its stream means it went away.
        gone = asyncio.ensure_future(_wait_for_eof(reader))
        try:
            while True:
                next_line = asyncio.ensure_future(client.queue.get())
                done, _ = await asyncio.wait({next_line, gone}, return_when=asyncio.FIRST_COMPLETED)
                if gone in done:
                    next_line.cancel()
                    return
                writer.write(next_line.result())
                await writer.drain()
                self.counters.sent += 1
        except OSError:
            return
        finally:
            gone.cancel()
