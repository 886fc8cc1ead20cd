"""Fault: `kill -9` of the store server, during gateway ingest and during tablet fan-out.

Real processes on loopback: `store-server run` (gunicorn, gevent), the simulated busy store and
both gateways (bleak's BlueZ backend on the simulator's virtual adapter), and catching-up
tablets (python-socketio clients that reconnect by themselves and fetch the open arrivals on
every connect, as the staff page does). The server is killed without warning and started again
on the same database and port: the gateways' outboxes re-send, so every batch they closed is
stored exactly once; the tablets reconnect and see the alert raised as the server died, or
while they were away, once each.
"""

from __future__ import annotations

import gc
import json
import signal
from collections.abc import Iterator

import pytest
import requests

from bench.stack import Stack
from tests.e2e.test_gateway_resilience import (
    DRAIN_TIMEOUT_S,
    EXTRA_SHOPPERS,
    GATEWAYS,
    add_opted_in_shoppers,
    busy_store,
    closed_batches,
    keep_running,
    outbox,
    outboxes_empty,
    start_busy_sim,
    stopped_counters,
    stored_once,
    wait_for,
    warm_up,
)
from tests.live import announce_arrival, login
from tests.support.polling import wait_until
from tests.support.tablets import CatchingUpTablet

pytestmark = [
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.e2e,
    pytest.mark.timeout(300),
]
# Long enough that both gateways have batches in their outboxes while the server is dead.
DEAD_S = 5.0
# Tablets of one store watching the fan-out when the server dies.
TABLETS = 20
RECONNECT_S = 60.0


@pytest.fixture
def busy(stack: Stack) -> Iterator[Stack]:
    """The stack with more opted-in shoppers and the busy store written for the simulator."""
    opted_in = add_opted_in_shoppers(stack, EXTRA_SHOPPERS)
    (stack.workdir / "busy.json").write_text(json.dumps(busy_store(opted_in)))
    yield stack


def kill_9_and_restart(stack: Stack, dead_s: float, *alive: object) -> None:
    """SIGKILL the server, leave it dead for `dead_s`, start it again on the same database."""
    assert stack.server is not None
    assert stack.kill(stack.server) == -signal.SIGKILL
    stack.server = None
    keep_running(dead_s, *alive)  # type: ignore[arg-type]
    stack.restart_server()


def arrivals_now(stack: Stack, token: str) -> list[int]:
    """The open arrivals' alert ids, as the server lists them."""
    response = requests.get(
        f"{stack.url}/api/v1/stores/{stack.seed['store_id']}/arrivals",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    response.raise_for_status()
    return [arrival["alert_id"] for arrival in response.json()["arrivals"]]


def test_kill_9_during_ingest_loses_and_doubles_nothing(busy: Stack) -> None:
    stack = busy
    sim = start_busy_sim(stack)
    gateways = {g: stack.start_gateway(g, "--verbose") for g in GATEWAYS}
    warm_up(stack, sim, *gateways.values())

    kill_9_and_restart(stack, DEAD_S, sim, *gateways.values())
    wait_for("the outboxes to drain", lambda: outboxes_empty(stack), DRAIN_TIMEOUT_S)
    for proc in gateways.values():
        assert stack.kill(proc, signal.SIGTERM) == 0

    for gateway_id, proc in gateways.items():
        made = closed_batches(proc)
        assert stored_once(stack, gateway_id) == made  # nothing lost, nothing twice
        totals = stopped_counters(proc)
        assert totals["upload_retries"] > 0, "the kill should have made the gateway retry"
        assert totals["batches_dropped"] == totals["outbox_full_dropped"] == 0
        assert outbox(stack, gateway_id) == {}


def test_kill_9_during_fan_out_tablets_reconnect_and_see_the_alert_once(stack: Stack) -> None:
    """The arrival is committed and its fan-out under way when the server dies: each tablet
    heard it before the kill, or sees it when it reconnects to the restarted server."""
    sam = login(stack.url, "sam@demo.store", stack.seed["accounts"][0]["password"])
    tablets = [
        CatchingUpTablet(stack.url, sam["token"], stack.seed["store_id"]) for _ in range(TABLETS)
    ]
    try:
        announce_arrival(stack, "maria")  # answered 202: the alert is committed
        kill_9_and_restart(stack, 0.0)  # at once: the fan-out is cut wherever it was
        raised = set(arrivals_now(stack, sam["token"]))
        assert raised, "the arrival raised no alert"
        assert wait_until(
            lambda: all(t.connects >= 2 and t.seen() == raised for t in tablets), RECONNECT_S
        ), [(t.connects, t.seen()) for t in tablets]
        for tablet in tablets:
            heard = tablet.live_ids()
            assert len(heard) == len(set(heard)), "an arrival was sent twice"
    finally:
        for tablet in tablets:
            tablet.close()
        # python-socketio's client leaves the websocket of a dropped transport to the garbage
        # collector: collect it here, not in whichever test runs next.
        gc.collect()
