"""Fault: the message queue's Redis stopped and started under two server processes.

A private `redis-server` on its own port (never the machine's shared one), two real
`store-server run` processes of one deployment on it, a catching-up tablet on each. While Redis
is down: cross-process live events and shared abuse limits degrade (limits count nowhere and
let requests through), nothing answers 5xx, and an arrival still reaches the tablets of the
process that raised it. Once Redis is back, with nobody doing anything: the other process
notices it had lost its subscription, its tablets reconnect and catch up (the alert is in the
database), and live events cross processes again.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bench.stack import Stack
from tests.live import announce_arrival, login
from tests.support import redis_server
from tests.support.polling import wait_until
from tests.support.redis_server import PrivateRedis
from tests.support.tablets import CatchingUpTablet

pytestmark = [
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.e2e,
    pytest.mark.skipif(not redis_server.available(), reason="needs Debian's redis-server"),
]
# The queue's listener retries after 1, 2, 4... s; the watch looks every 2 s; a page
# reconnects within 2 s. Half a minute covers all three on a busy machine.
RECOVERY_S = 45.0
DEADLINE_S = 20.0


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def two_processes(
    tmp_path: Path, private_redis: PrivateRedis, prepared_store: Stack
) -> Iterator[tuple[Stack, Stack]]:
    settings = {"STORE_SOCKETIO_MESSAGE_QUEUE": private_redis.url}
    a = Stack(tmp_path / "a", server_settings=settings)
    b = Stack(tmp_path / "b", server_settings=settings)
    try:
        a.start_server(copy_of=prepared_store)
        b.serve_database_of(a)
        yield a, b
    finally:
        b.stop()
        a.stop()


def tablet_on(stack: Stack) -> CatchingUpTablet:
    sam = login(stack.url, "sam@demo.store", stack.seed["accounts"][0]["password"])
    return CatchingUpTablet(stack.url, sam["token"], stack.seed["store_id"])


def test_redis_stopped_and_started_degrades_then_recovers_by_itself(
    two_processes: tuple[Stack, Stack], private_redis: PrivateRedis
) -> None:
    a, b = two_processes
    on_a, on_b = tablet_on(a), tablet_on(b)
    try:
        # Each tablet's first catch-up (in a thread of its own) done before the arrival: a late
        # one would list it, on a busy machine, and B would have "seen" it without the queue.
        assert wait_until(lambda: on_a.catch_ups and on_b.catch_ups, DEADLINE_S)
        private_redis.stop()

        # Raised on A while the queue is down: stored, and A's own tablet hears it live.
        announce_arrival(a, "maria")  # raises on any status but 2xx
        assert wait_until(lambda: on_a.live_ids(), DEADLINE_S), "A's tablet heard nothing"
        alert_id = on_a.live_ids()[0]  # one per ready order of hers
        # Logging in counts against the shared limits, which fail open: no 5xx either.
        sam = requests.post(
            f"{b.url}/api/v1/auth/login",
            json={"email": "sam@demo.store", "password": b.seed["accounts"][0]["password"]},
            timeout=10,
        )
        assert sam.status_code == 200, sam.text
        assert alert_id not in on_b.seen(), "B cannot have heard it: the queue is down"

        private_redis.start()
        # Nobody reloads anything: B notices, its tablet reconnects and catches up.
        assert wait_until(lambda: alert_id in on_b.seen(), RECOVERY_S), (
            "B's tablet never caught up:\n" + "\n".join(b.server.lines[-20:] if b.server else [])
        )
        # A lost its subscription too: once it has it back, its tablet reconnects as well.
        assert wait_until(lambda: on_a.connects >= 2, RECOVERY_S), "A never noticed"

        # Live across processes again: an acknowledgement made on B is heard on A.
        acknowledged = requests.post(
            f"{b.url}/api/v1/stores/{b.seed['store_id']}/alerts/{alert_id}/acknowledge",
            headers={"Authorization": f"Bearer {sam.json()['token']}"},
            timeout=10,
        )
        assert acknowledged.status_code == 200, acknowledged.text
        assert wait_until(
            lambda: any(u["alert_id"] == alert_id for u in on_a.updates), RECOVERY_S
        ), "A's tablet never heard B's acknowledgement"
        heard = on_a.live_ids()
        assert len(heard) == len(set(heard)), "an arrival was sent to A's tablet twice"
        for stack in (a, b):
            assert stack.server is not None
            assert not [line for line in stack.server.lines if " status=5" in line]
    finally:
        on_a.close()
        on_b.close()
        # python-socketio's client leaves the websocket of a dropped transport to the garbage
        # collector: collect it here, not in whichever test runs next.
        gc.collect()
