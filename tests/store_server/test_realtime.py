"""Socket.IO: only authenticated staff connect, and only the arrival's store hears it."""

from __future__ import annotations

import time
from typing import Any

from flask_socketio import SocketIOTestClient

from store_server.web.realtime import socketio
from tests.store_server.conftest import World, observation
from tests.support.polling import wait_until


def received(client: SocketIOTestClient, event: str, deadline_s: float = 5.0) -> list[Any]:
    """Poll until `event` arrives or the deadline passes (the emitter is a background task)."""
    return wait_until(
        lambda: [m["args"][0] for m in client.get_received() if m["name"] == event],
        deadline_s,
        0.02,
    )


def test_unauthenticated_socket_is_refused(world: World) -> None:
    client = socketio.test_client(world.app, auth={"token": "nope"})
    assert not client.is_connected()
    client = socketio.test_client(world.app)
    assert not client.is_connected()


def test_arrival_reaches_own_store_staff_only(world: World) -> None:
    own = socketio.test_client(world.app, auth={"token": world.login("sam@demo.store")["token"]})
    other = socketio.test_client(world.app, auth={"token": world.login("kim@other.store")["token"]})
    assert own.is_connected() and other.is_connected()
    now = time.time()
    world.upload("gw-entrance", [observation(world.eid_hex("maria", now), -50, now)])
    arrivals = received(own, "arrival")
    assert [(a["first_name"], a["order_number"]) for a in arrivals] == [("Maria", "1001")]
    # The event was emitted once, to one room: by now the other store would have it too.
    assert [m for m in other.get_received() if m["name"] == "arrival"] == []
    own.disconnect()
    other.disconnect()


def test_presence_feed_reaches_only_the_pages_that_ask_for_it(world: World) -> None:
    token = world.login("sam@demo.store")["token"]
    tablet = socketio.test_client(world.app, auth={"token": token})
    console = socketio.test_client(world.app, auth={"token": token, "feeds": ["presence"]})
    odd = socketio.test_client(world.app, auth={"token": token, "feeds": [{}, ["presence"]]})
    assert tablet.is_connected() and console.is_connected() and odd.is_connected()
    world.arrive("maria")
    assert [p["kind"] for p in received(console, "presence")] == ["entered"]
    # The console heard it after the arrival, emitted first: the tablets have the arrival too.
    for page in (tablet, odd):
        names = [m["name"] for m in page.get_received()]
        assert "arrival" in names and "presence" not in names
    for page in (tablet, console, odd):
        page.disconnect()
