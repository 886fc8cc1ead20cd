"""Fixtures for the gateway tests: a real local HTTP server that records batch uploads."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from tests.support.http import QuietHandler, loopback_server
from tests.support.polling import await_until, wait_until

DEADLINE_S = 10.0


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": None}}


class RecordingServer:
    """A stand-in store server on loopback.

    Batch uploads are recorded in ``requests`` and answered from a script of status codes,
    then 202; a batch id already stored gets 409 duplicate_batch, as from the real server.
    ``GET .../config`` answers ``config`` (or ``config_status``); heartbeats are recorded in
    ``heartbeats`` and answered 202. Clearing ``answering`` holds every POST's answer back.
    """

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.heartbeats: list[RecordedRequest] = []
        self.config_requests = 0
        self.config: dict[str, Any] = {
            "gateway_id": "gw-test",
            "store_id": 1,
            "refresh_s": 300,
            "registered": [],
        }
        self.config_status = 200
        self.stored_batch_ids: set[str] = set()
        self.answers: list[int] = []  # the status of each batch request, as in ``requests``
        self._script: deque[int] = deque()
        # Cleared: batch answers wait until it is set again (an upload awaiting its answer).
        self.answering = threading.Event()
        self.answering.set()
        self._lock = threading.Lock()
        self._running = ExitStack()
        self._port = 0

    @property
    def url(self) -> str:
        """Base URL of the server (once started)."""
        return f"http://127.0.0.1:{self._port}"

    def answer(self, *statuses: int) -> None:
        """Answer the next requests with these statuses (then 202 again)."""
        with self._lock:
            self._script.extend(statuses)

    def batch_ids(self) -> list[str]:
        """The batch_id of every request, in order."""
        with self._lock:
            return [request.body["batch_id"] for request in self.requests]

    def observations(self) -> list[dict[str, Any]]:
        """Every observation received, in order."""
        with self._lock:
            return [o for request in self.requests for o in request.body["observations"]]

    def wait_until(self, condition: Callable[[], bool], what: str) -> None:
        """Poll ``condition`` until it holds or the deadline passes."""
        assert wait_until(condition, DEADLINE_S, 0.01), f"timed out waiting for {what}"

    async def await_until(self, condition: Callable[[], bool], what: str) -> None:
        """Like ``wait_until`` but yields to the event loop while polling."""
        assert await await_until(condition, DEADLINE_S, 0.01), f"timed out waiting for {what}"

    def accepted_observations(self) -> list[dict[str, Any]]:
        """Observations of the batches answered 202 (stored), in order."""
        with self._lock:
            return [
                observation
                for request, status in zip(self.requests, self.answers, strict=True)
                if status == 202
                for observation in request.body["observations"]
            ]

    def _respond(self, request: RecordedRequest) -> tuple[int, dict[str, Any]]:
        if request.path.endswith("/heartbeat"):
            with self._lock:
                self.heartbeats.append(request)
            return 202, {"received": True}
        batch_id = request.body.get("batch_id") if isinstance(request.body, dict) else None
        with self._lock:
            self.requests.append(request)
            status = self._script.popleft() if self._script else 202
            if status == 202 and batch_id in self.stored_batch_ids:
                status = 409
            if status == 202:
                self.stored_batch_ids.add(str(batch_id))
            self.answers.append(status)
        if status == 202:
            accepted = len(request.body["observations"])
            return status, {"batch_id": batch_id, "accepted": accepted, "resolved": 0}
        if status == 409:
            return status, _error("duplicate_batch", f"batch {batch_id} was already received")
        if status == 400:
            return status, _error("validation_error", "a field is missing or wrong")
        return status, _error("server_error", "scripted failure")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                with server._lock:
                    server.config_requests += 1
                    status, answer = server.config_status, server.config
                if status != 200:
                    answer = _error("not_found", "no such gateway")
                self._send(status, answer)

            def _send(self, status: int, answer: dict[str, Any]) -> None:
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw
                recorded = RecordedRequest(
                    "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                status, answer = server._respond(recorded)
                server.answering.wait(DEADLINE_S)
                self._send(status, answer)

        return Handler

    def start(self) -> None:
        self._port = self._running.enter_context(loopback_server(self._handler_class()))

    def stop(self) -> None:
        self._running.close()


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    """A running RecordingServer on a free port."""
    recording = RecordingServer()
    recording.start()
    try:
        yield recording
    finally:
        recording.stop()


@pytest.fixture
def gateway_env(server: RecordingServer, tmp_path: Path) -> dict[str, str]:
    """Complete GATEWAY_* settings pointing at the recording server, state in tmp_path."""
    return {
        "GATEWAY_ID": "gw-test",
        "GATEWAY_TOKEN": "secret-token",
        "GATEWAY_SERVER_URL": server.url,
        "GATEWAY_STATE_DIR": str(tmp_path / "state"),
        "GATEWAY_METRICS_PORT": "0",
    }
