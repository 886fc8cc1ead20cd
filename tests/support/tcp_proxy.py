"""A TCP proxy on loopback that a test can cut and restore (the database "unreachable" without
touching the machine's shared PostgreSQL), or stall and resume (a provider that accepts the
connection, then says nothing)."""

from __future__ import annotations

import contextlib
import socket
import threading

from bench.stack import free_port

CHUNK = 65536
ACCEPT_POLL_S = 0.2


class TcpProxy:
    """Forwards 127.0.0.1:`port` to `upstream`. While cut, open connections are reset and new
    ones are closed at once, as a network cut between server and database looks. While
    stalled, new connections are accepted and then get no byte back (what the client sends is
    kept); on `resume` those the client still holds open reach the upstream, with what it sent,
    and those it gave up on are dropped, as a peer that was slow, not lost, would see them."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.settimeout(ACCEPT_POLL_S)
        self._open = threading.Event()
        self._open.set()
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._stalling = False
        self._held: list[_Held] = []
        self._acceptor = threading.Thread(target=self._accept, name="tcp-proxy", daemon=True)
        self._acceptor.start()

    def cut(self) -> None:
        """From now on nothing gets through; connections open now are reset."""
        self._open.clear()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self._sockets.clear()

    def restore(self) -> None:
        """Let new connections through again."""
        self._open.set()

    def stall(self) -> None:
        """From now on new connections are accepted and answered with silence."""
        with self._lock:
            self._stalling = True

    def resume(self) -> None:
        """Forward again: every held connection still open goes through with what it sent."""
        with self._lock:
            self._stalling = False
            held, self._held = self._held, []
        for connection in held:
            data, still_open = connection.release()
            if still_open:
                self._forward(connection.client, data)
            else:
                connection.client.close()

    def held(self) -> int:
        """How many stalled connections their clients still hold open (none gave up)."""
        with self._lock:
            return sum(1 for connection in self._held if connection.open)

    def close(self) -> None:
        """Stop accepting and reset everything."""
        self._stopped.set()
        self.cut()
        self._acceptor.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self._open.is_set():
                client.close()
                continue
            client.settimeout(None)
            with self._lock:
                if self._stalling:
                    self._held.append(_Held(client))
                    continue
            self._forward(client, b"")

    def _forward(self, client: socket.socket, sent: bytes) -> None:
        try:
            upstream = socket.create_connection(self.upstream, timeout=5)
            upstream.sendall(sent)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        with self._lock:
            self._sockets |= {client, upstream}
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(CHUNK):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            with self._lock:
                self._sockets -= {source, sink}


class _Held:
    """A stalled connection: reads and keeps what the client sends, notices when it gives up."""

    def __init__(self, client: socket.socket) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._data = bytearray()
        self._closed = False
        self._released = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def open(self) -> bool:
        """Whether the client still holds the connection."""
        with self._lock:
            return not self._closed

    def _read(self) -> None:
        # Peek with a short timeout, so `release` can hand the socket over untouched.
        self.client.settimeout(ACCEPT_POLL_S)
        while True:
            with self._lock:
                if self._released:
                    return
            try:
                data = self.client.recv(CHUNK)
            except TimeoutError:
                continue
            except OSError:
                data = b""
            with self._lock:
                if not data:
                    self._closed = True
                    self.client.close()  # the client gave up: nothing will go through it
                    return
                self._data += data

    def release(self) -> tuple[bytes, bool]:
        """Stop reading; what the client sent, and whether it still holds the connection."""
        with self._lock:
            self._released = True
        self._reader.join(timeout=5)
        with self._lock:
            if not self._closed:
                self.client.settimeout(None)
            return bytes(self._data), not self._closed
