"""Several server processes of one deployment share Redis; two deployments on it stay apart.

Real `store-server run` processes on loopback, the machine's Redis (STORE_TEST_REDIS_URL, set
by `.ci/run`), real python-socketio tablets. Each deployment's channel is derived from its
database, so two deployments sharing one Redis never see each other's events.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bench.stack import BIN, Stack, free_port
from tests.live import LiveClient, announce_arrival, login
from tests.support.services import redis_url

pytestmark = pytest.mark.e2e
DEADLINE_S = 30.0


@pytest.fixture
def queue() -> str:
    """The Redis URL the processes share."""
    url = redis_url()
    if url is None:
        pytest.skip("STORE_TEST_REDIS_URL is not set (.ci/run sets it)")
    return url


@pytest.fixture
def stacks(tmp_path: Path, queue: str, prepared_store: Stack) -> Iterator[list[Stack]]:
    """Deployment one as two processes (A and B), deployment two as one process (C), all on
    one Redis; A and C serve copies of the same demo store, so they have the same store ids
    and rooms."""
    settings = {"STORE_SOCKETIO_MESSAGE_QUEUE": queue}
    a = Stack(tmp_path / "a", server_settings=settings)
    b = Stack(tmp_path / "b", server_settings=settings)
    c = Stack(tmp_path / "c", server_settings=settings)
    try:
        a.start_server(copy_of=prepared_store)
        b.serve_database_of(a)
        c.start_server(copy_of=prepared_store)
        yield [a, b, c]
    finally:
        for stack in (c, b, a):
            stack.stop()


def tablet(stack: Stack) -> LiveClient:
    sam = login(stack.url, "sam@demo.store", stack.seed["accounts"][0]["password"])
    return LiveClient(stack.url, {"token": sam["token"]})


def test_a_tablet_on_each_process_sees_an_alert_raised_on_the_other(
    stacks: list[Stack],
) -> None:
    a, b, c = stacks
    on_a, on_b, elsewhere = tablet(a), tablet(b), tablet(c)
    try:
        announce_arrival(a, "maria")  # the gateway's batch reaches process A
        [seen_on_b] = on_b.wait_for_arrival(DEADLINE_S)
        [seen_on_a] = on_a.wait_for_arrival(DEADLINE_S)
        assert seen_on_b["alert_id"] == seen_on_a["alert_id"]
        # A tablet of process B acknowledges: the tablet on A hears it.
        sam = login(b.url, "sam@demo.store", b.seed["accounts"][0]["password"])
        acknowledged = requests.post(
            f"{b.url}/api/v1/stores/{b.seed['store_id']}/alerts/{seen_on_a['alert_id']}"
            "/acknowledge",
            headers={"Authorization": f"Bearer {sam['token']}"},
            timeout=10,
        )
        assert acknowledged.status_code == 200, acknowledged.text
        [update] = on_a.wait_for("alert_updated", DEADLINE_S)
        assert (update["alert_id"], update["status"]) == (seen_on_a["alert_id"], "acknowledged")
        # The other deployment's own arrival reaches its tablet, and nothing of the first's:
        # on a shared channel the first deployment's events would have come first.
        announce_arrival(c, "maria")
        [own] = elsewhere.wait_for_arrival(DEADLINE_S)
        assert elsewhere.arrivals == [own]
    finally:
        for client in (on_a, on_b, elsewhere):
            client.close()


def test_the_server_refuses_to_start_on_a_queue_that_does_not_answer(tmp_path: Path) -> None:
    stack = Stack(
        tmp_path / "s",
        server_settings={"STORE_SOCKETIO_MESSAGE_QUEUE": f"redis://127.0.0.1:{free_port()}/0"},
    )
    run = subprocess.run(
        [str(BIN / "store-server"), "run"],  # noqa: S603 - our own console script
        env={**os.environ, **stack.server_env()},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert run.stderr.strip() == (
        "store-server: STORE_SOCKETIO_MESSAGE_QUEUE does not answer (ConnectionError)"
    )
