"""Erasure, opt-out, revoked staff sessions and a store taken from a staffer cut sockets off on
every process.

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
from sqlalchemy import select

from bench.stack import BIN, Stack
from store_server.accounts.staff import add_staff
from store_server.accounts.stores import create_store
from store_server.db.database import Database
from store_server.db.models import Chain, Store
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


def test_a_store_taken_from_a_staffer_cuts_off_her_tablet_there_on_the_other_process(
    processes: tuple[Stack, Stack],
) -> None:
    a, b = processes
    demo = a.seed["store_id"]
    db = Database(a.database_url)
    try:
        with db.transaction() as session:
            chain_id = session.scalars(select(Store.chain_id).where(Store.id == demo)).one()
            chain = session.get(Chain, chain_id)
            assert chain is not None
            station = create_store(session, "Station Road", "UTC", "GBP", chain=chain.name).id
            add_staff(session, [demo, station], "rae@demo.store", "Rae", "staff", "rae-two-stores")
    finally:
        db.dispose()
    rae = login(b.url, "rae@demo.store", "rae-two-stores")
    tablets = {
        store_id: LiveClient(b.url, {"token": rae["token"], "store_id": store_id})
        for store_id in (demo, station)
    }
    try:
        # The demo store's manager (not Station Road's) takes the demo store away through A.
        manager = account(a, "manager")
        on_a = login(a.url, manager["email"], manager["password"])
        done = requests.put(
            f"{a.url}/api/v1/stores/{demo}/staff/{rae['staff']['id']}/access",
            json={"role": "staff", "store_ids": []},
            headers={"Authorization": f"Bearer {on_a['token']}"},
            timeout=10,
        )
        assert (done.status_code, done.json()["store_ids"]) == (200, [station]), done.text
        assert wait_until(lambda: gone(tablets[demo]), DEADLINE_S, 0.05)
        assert tablets[station].sio.connected
        # `store-server set-staff-stores` moves her back: her Station Road tablet on B goes.
        moved = subprocess.run(
            [str(BIN / "store-server"), "set-staff-stores", "--email", "rae@demo.store"]  # noqa: S603
            + ["--role", "staff", "--store", str(demo)],
            env={**os.environ, **a.server_env()},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert moved.returncode == 0, moved.stderr
        assert wait_until(lambda: gone(tablets[station]), DEADLINE_S, 0.05)
    finally:
        for client in tablets.values():
            if client.sio.connected:
                client.close()
