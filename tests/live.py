"""Live-stack fixtures for the end-to-end and browser tests: real processes of one store."""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio

from bench.stack import Stack
from store_server.db.database import Database
from store_server.presence.identity import eddystone_eid
from tests.support.polling import wait_until
from tests.support.seeding import add_other_store

# How long a Socket.IO client may take to connect and join its rooms.
CONNECT_TIMEOUT_S = 30


def login(url: str, email: str, password: str) -> dict[str, Any]:
    """Log a staffer in over HTTP."""
    response = requests.post(
        f"{url}/api/v1/auth/login", json={"email": email, "password": password}, timeout=10
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


class LiveClient:
    """A real python-socketio client (staff: `token`; a shopper's app: `device_token`)."""

    def __init__(
        self,
        url: str,
        auth: dict[str, str | int],
        events: tuple[str, ...] = ("arrival", "alert_updated", "pickup_update"),
        http_session: requests.Session | None = None,
    ) -> None:
        self.received: dict[str, list[dict[str, Any]]] = {name: [] for name in events}
        self._lock = threading.Lock()
        # A session trusting a test CA connects over wss:// (tests/e2e/test_nginx.py).
        self.sio = socketio.Client(reconnection=False, http_session=http_session)
        for name in events:
            self.sio.on(name, self._recorder(name))
        # A deadline, not a measure: on a loaded CI machine (four test workers and browsers on
        # two cores) a connect through nginx's TLS once took over 10 s.
        self.sio.connect(url, auth=auth, transports=["websocket"], wait_timeout=CONNECT_TIMEOUT_S)

    def _recorder(self, name: str) -> Any:
        def record(payload: dict[str, Any]) -> None:
            with self._lock:
                self.received[name].append({**payload, "received_at": time.time()})

        return record

    @property
    def arrivals(self) -> list[dict[str, Any]]:
        """Every `arrival` event so far."""
        with self._lock:
            return list(self.received["arrival"])

    def wait_for(self, name: str, timeout_s: float) -> list[dict[str, Any]]:
        """Poll until at least one `name` event came in, or the deadline passes."""

        def received() -> list[dict[str, Any]]:
            with self._lock:
                return list(self.received[name])

        return wait_until(received, timeout_s, 0.05)

    def wait_for_arrival(self, timeout_s: float) -> list[dict[str, Any]]:
        """Poll until at least one arrival came in, or the deadline passes."""
        return self.wait_for("arrival", timeout_s)

    def close(self) -> None:
        """Disconnect."""
        self.sio.disconnect()


@pytest.fixture(scope="session")
def prepared_store(tmp_path_factory: pytest.TempPathFactory) -> Stack:
    """The demo store and a second store in a database no server has opened yet.

    Made once per run by the real `store-server migrate` and `store-server seed-demo`
    processes; every live stack serves a copy of it. Nothing in the seed depends on when it
    was made (the server reads none of the times seed-demo stamps), and each copy is private
    to its stack, so one test's writes never reach another's. The pytest-xdist workers of a
    run share it: the first one to need it makes it in the run's temporary directory, under a
    file lock, and the others wait for it rather than make their own at the same time.
    """
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # each worker's directory is inside the run's
        shared = shared.parent
    prepared = Stack(shared / "prepared-store")
    made = prepared.workdir / "prepared"
    with (shared / "prepared-store.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if made.exists():
            prepared.seed = json.loads((prepared.workdir / "seed.json").read_text())
            return prepared
        prepared.prepare_database()
        db = Database(prepared.database_url)
        add_other_store(db)
        db.dispose()
        made.touch()
    return prepared


@contextmanager
def running_stack(workdir: Path, feed: str, prepared: Stack) -> Iterator[Stack]:
    """A store server serving a copy of the prepared store, stopped with everything the test
    started in it."""
    with Stack(workdir, feed=feed) as running:
        running.start_server(copy_of=prepared)
        yield running


@pytest.fixture(params=["bluez"])
def stack(request: pytest.FixtureRequest, tmp_path: Path, prepared_store: Stack) -> Iterator[Stack]:
    """A running store server with the demo store and a second store; stopped afterwards.

    The simulator feeds gateways through the virtual BlueZ adapter unless a test asks for the
    radio link (`@pytest.mark.parametrize("stack", ["link"], indirect=True)`).
    """
    with running_stack(tmp_path / "stack", request.param, prepared_store) as running:
        yield running


@pytest.fixture(scope="module", params=["bluez"])
def read_only_stack(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    prepared_store: Stack,
) -> Iterator[Stack]:
    """`stack`, but one per module, shared by the tests that take it: only for tests that
    change nothing on the server (nor start processes in it) that another test reads."""
    workdir = tmp_path_factory.mktemp("read-only-stack")
    with running_stack(workdir, request.param, prepared_store) as running:
        yield running


def announce_arrival(
    stack: Stack,
    person: str = "maria",
    rssi: int = -50,
    *,
    url: str | None = None,
    verify: str | bool = True,
) -> None:
    """Upload one strong entrance reading of a demo phone, as its gateway would.

    Args:
        url: where the gateway reaches the server (default: the server itself, not a proxy).
        verify: requests' `verify`, e.g. the CA of a proxy's test certificate.
    """
    key = next(
        bytes.fromhex(p["identity_key"]) for p in stack.seed["phones"] if p["person"] == person
    )
    now = time.time()
    body: dict[str, Any] = {
        "batch_id": f"announce-{person}-{now}",
        "sent_at": now,
        "observations": [
            {
                "seen_at": now,
                "rssi": rssi,
                "frame": {
                    "kind": "eddystone_eid",
                    "eid": eddystone_eid(key, 10, int(now)).hex(),
                    "tx_power": -20,
                },
            }
        ],
    }
    token = stack.seed["gateway_tokens"]["gw-entrance"]
    response = requests.post(
        f"{url or stack.url}/api/v1/gateways/gw-entrance/batches",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
        verify=verify,
    )
    response.raise_for_status()
