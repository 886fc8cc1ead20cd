"""Erasure, opt-out and revoked staff sessions cut sockets off on every process.

Two real `store-server run` processes (A and B) of one deployment share its database and the
machine's Redis (STORE_TEST_REDIS_URL); the pages and tablets are real python-socketio clients
connected to B, while the request (or the `store-server` command) that ends their access goes
to A (or runs beside both). Each must be disconnected by B, through the message queue.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bench.stack import BIN, Stack
from tests.live import LiveClient, login
from tests.support.polling import wait_until
from tests.support.services import redis_url

pytestmark = pytest.mark.e2e
DEADLINE_S = 30.0


@pytest.fixture
def processes(tmp_path: Path, prepared_store: Stack) -> Iterator[tuple[Stack, Stack]]:
    """Process A on a copy of the demo store, and process B serving the same database."""
    queue = redis_url()
    if queue is None:
        pytest.skip("STORE_TEST_REDIS_URL is not set (.ci/run sets it)")
    settings = {"STORE_SOCKETIO_MESSAGE_QUEUE": queue}
    a = Stack(tmp_path / "a", server_settings=settings)
    b = Stack(tmp_path / "b", server_settings=settings)
    try:
        a.start_server(copy_of=prepared_store)
        b.serve_database_of(a)
        yield a, b
    finally:
        for stack in (b, a):
            stack.stop()


def page(stack: Stack, person: str) -> LiveClient:
    """The person's shopper page connected to this process."""
    token = stack.seed["device_tokens"][person]
    return LiveClient(stack.url, {"device_token": token}, events=("pickup_update",))


def account(stack: Stack, role: str) -> dict[str, str]:
    """The demo account with this role."""
    return next(a for a in stack.seed["accounts"] if a["role"] == role)


def gone(client: LiveClient) -> bool:
    """Whether the server ended this client's connection."""
    return not client.sio.connected


def test_erasure_and_opt_out_disconnect_the_shoppers_pages_on_the_other_process(
    processes: tuple[Stack, Stack],
) -> None:
    a, b = processes
    maria, leo, ana = page(b, "maria"), page(b, "leo"), page(b, "ana")
    try:
        erased = requests.delete(
            f"{a.url}/api/v1/me",
            headers={"Authorization": f"Bearer {a.seed['device_tokens']['maria']}"},
            timeout=10,
        )
        assert erased.status_code == 200, erased.text
        assert wait_until(lambda: gone(maria), DEADLINE_S, 0.05)
        leo_headers = {"Authorization": f"Bearer {a.seed['device_tokens']['leo']}"}
        me = requests.get(f"{a.url}/api/v1/me", headers=leo_headers, timeout=10).json()
        for store_id in {c["store_id"] for c in me["consents"]}:
            withdrawn = requests.put(
                f"{a.url}/api/v1/me/consents",
                json={"store_id": store_id, "consents": []},
                headers=leo_headers,
                timeout=10,
            )
            assert withdrawn.status_code == 200, withdrawn.text
        assert wait_until(lambda: gone(leo), DEADLINE_S, 0.05)
        # Only theirs: another shopper's page on B stays connected.
        assert ana.sio.connected
    finally:
        for client in (maria, leo, ana):
            if client.sio.connected:
                client.close()


def test_a_revoked_staffer_is_disconnected_on_the_other_process(
    processes: tuple[Stack, Stack],
) -> None:
    a, b = processes
    staff, manager = account(b, "staff"), account(b, "manager")
    sam = login(b.url, staff["email"], staff["password"])
    morgan = login(b.url, manager["email"], manager["password"])
    sam_tablet = LiveClient(b.url, {"token": sam["token"]})
    morgan_console = LiveClient(b.url, {"token": morgan["token"]})
    try:
        # The manager deactivates Sam through process A.
        on_a = login(a.url, manager["email"], manager["password"])
        done = requests.post(
            f"{a.url}/api/v1/stores/{a.seed['store_id']}/staff/{sam['staff']['id']}/deactivate",
            headers={"Authorization": f"Bearer {on_a['token']}"},
            timeout=10,
        )
        assert done.status_code == 200, done.text
        assert wait_until(lambda: gone(sam_tablet), DEADLINE_S, 0.05)
        assert morgan_console.sio.connected
        # `store-server set-password` (no server of its own) ends the manager's sessions: her
        # console on B is cut off through the queue too.
        changed = subprocess.run(
            [str(BIN / "store-server"), "set-password", "--email", manager["email"]],  # noqa: S603
            input="a brand new password\n",
            env={**os.environ, **a.server_env()},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert changed.returncode == 0, changed.stderr
        assert wait_until(lambda: gone(morgan_console), DEADLINE_S, 0.05)
    finally:
        for client in (sam_tablet, morgan_console):
            if client.sio.connected:
                client.close()
