"""Live-stack fixtures for the end-to-end and browser tests: real processes of one store."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio

from bench.stack import Stack
from store_server.auth import hash_password
from store_server.db import Database
from store_server.models import StaffUser, Store

OTHER_STAFF = ("kim@other.store", "other-store-pass")


def add_other_store(database_url: str) -> None:
    """A second store with one staffer, who must never hear the first store's arrivals."""
    db = Database(database_url)
    with db.transaction() as session:
        store = Store(name="Other Store", timezone="UTC")
        session.add(store)
        session.flush()
        session.add(
            StaffUser(
                store_id=store.id,
                email=OTHER_STAFF[0],
                name="Kim",
                role="staff",
                password_hash=hash_password(OTHER_STAFF[1]),
                active=True,
            )
        )
    db.dispose()


def login(url: str, email: str, password: str) -> dict[str, Any]:
    """Log a staffer in over HTTP."""
    response = requests.post(
        f"{url}/api/v1/auth/login", json={"email": email, "password": password}, timeout=10
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


class StaffClient:
    """A real python-socketio client logged in as one staffer, recording `arrival` events."""

    def __init__(self, url: str, token: str) -> None:
        self.arrivals: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("arrival", self._on_arrival)
        self.sio.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=10)

    def _on_arrival(self, payload: dict[str, Any]) -> None:
        with self._lock:
            self.arrivals.append({**payload, "received_at": time.time()})

    def wait_for_arrival(self, timeout_s: float) -> list[dict[str, Any]]:
        """Poll until at least one arrival came in, or the deadline passes."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if self.arrivals:
                    return list(self.arrivals)
            time.sleep(0.05)
        return []

    def close(self) -> None:
        """Disconnect."""
        self.sio.disconnect()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """A running store server with the demo store and a second store; stopped afterwards."""
    with Stack(tmp_path / "stack") as running:
        running.start_server()
        add_other_store(running.database_url)
        yield running
