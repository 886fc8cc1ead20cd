"""Socket.IO: authenticated staff connections in per-store rooms, and a background emitter.

Closing a room disconnects the sockets in it, on every process (through the message queue):
rooms are closed only to cut people off (an erased or opted-out shopper, a moved phone, a
deactivated staffer or a changed password).

In threading mode the request that emits waits for the whole fan-out, so ingest never emits:
it queues the event and a background task emits it.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
from collections.abc import Sequence
from typing import Any

import socketio as python_socketio
from flask import Flask, request
from flask_socketio import SocketIO, join_room

from store_server.accounts.auth import device_for_token, may_act, staff_for_token
from store_server.cluster import check_message_queue
from store_server.events import Audience, AudienceKind, Event
from store_server.metrics import SOCKETS
from store_server.settings import StoreSettings
from store_server.shoppers.consents import has_any_consent
from store_server.vocabulary import StaffRole
from store_server.web.context import services

log = logging.getLogger(__name__)
socketio = SocketIO()


def staff_room(store_id: int) -> str:
    """The room every staff tablet of a store joins (managers too)."""
    return f"store:{store_id}:staff"


def managers_room(store_id: int) -> str:
    """The room of a store's managers: escalations go here."""
    return f"store:{store_id}:managers"


def shopper_room(shopper_id: int) -> str:
    """The room of one shopper's devices."""
    return f"shopper:{shopper_id}"


def feed_room(store_id: int, event: str) -> str:
    """The room of a store's staff pages that asked for a feed (`auth.feeds`): the console's
    live presence, which the tablets do not show."""
    return f"store:{store_id}:feed:{event}"


# Staff events that only some pages show. Sent to the whole staff room, every tablet of the
# store was sent each walk-in's `entered` and dropped it: two messages per tablet for every
# arrival (docs/decisions.md, "Fan-out to thousands of tablets").
FEEDS = frozenset({"presence"})


def staffer_room(staff_id: int) -> str:
    """The room of one staffer's tablets and consoles (closed when their sessions end)."""
    return f"staffer:{staff_id}"


def staffer_store_room(staff_id: int, store_id: int) -> str:
    """The room of one staffer's tablets and consoles connected for one store (closed when
    that store is taken from her)."""
    return f"staffer:{staff_id}:store:{store_id}"


def _disconnect_members(manager: Any, room: str, namespace: str) -> None:
    # Only this process's members: each process does this for its own.
    if manager.server is None:  # a write-only manager (the CLI) has no sockets
        return
    for sid, _ in list(manager.get_participants(namespace, room)):
        manager.server.disconnect(sid, namespace=namespace, ignore_queue=True)


class RoomEndingManager(python_socketio.Manager):  # type: ignore[misc]
    """One process's rooms: closing a room disconnects its members."""

    def close_room(self, room: str, namespace: str) -> Any:
        """Disconnect the room's sockets, then forget the room."""
        _disconnect_members(self, room, namespace)
        return super().close_room(room, namespace)


class RoomEndingRedisManager(python_socketio.RedisManager):  # type: ignore[misc]
    """Rooms across processes (Redis pub/sub): closing a room disconnects its members on every
    process, as each process handles the published `close_room`."""

    def _handle_close_room(self, message: dict[str, Any]) -> None:
        _disconnect_members(self, message["room"], message.get("namespace") or "/")
        super()._handle_close_room(message)


def end_room_everywhere(settings: StoreSettings, room: str) -> None:
    """Close a room from outside the server (the CLI): through the message queue, so every
    process disconnects its members; without a queue there is no server to reach (their
    sessions are gone, so a reconnection is refused)."""
    if not settings.socketio_message_queue:
        return
    manager = RoomEndingRedisManager(
        settings.socketio_message_queue, channel=settings.message_channel, write_only=True
    )
    manager.close_room(room, namespace="/")


ROOMS = {
    AudienceKind.STAFF: staff_room,
    AudienceKind.MANAGERS: managers_room,
    AudienceKind.SHOPPER: shopper_room,
}


def room_of(audience: Audience, event: str = "") -> str:
    """The Socket.IO room where the audience hears `event`: a staff event that is a feed goes
    only to the pages that asked for it."""
    if audience.kind is AudienceKind.STAFF and event in FEEDS:
        return feed_room(audience.id, event)
    return ROOMS[audience.kind](audience.id)


class ShopperConnections:
    """Which shoppers have a page connected to this process (the in-app channel's reach).

    Per process: with several processes behind a message queue, a shopper connected to
    another one counts as not connected here, and the router falls back to the next channel.
    """

    def __init__(self) -> None:
        self._by_sid: dict[str, int] = {}
        self._counts: dict[int, int] = {}
        self._lock = threading.Lock()

    def add(self, sid: str, shopper_id: int) -> None:
        """A page of the shopper connected with this Socket.IO session id."""
        with self._lock:
            if sid not in self._by_sid:
                self._by_sid[sid] = shopper_id
                self._counts[shopper_id] = self._counts.get(shopper_id, 0) + 1

    def remove(self, sid: str) -> None:
        """The connection with this session id ended (unknown ids are ignored)."""
        with self._lock:
            shopper_id = self._by_sid.pop(sid, None)
            if shopper_id is None:
                return
            left = self._counts[shopper_id] - 1
            if left:
                self._counts[shopper_id] = left
            else:
                del self._counts[shopper_id]

    def is_connected(self, shopper_id: int) -> bool:
        """Whether at least one page of the shopper is connected now."""
        return shopper_id in self._counts


connections = ShopperConnections()


def end_shopper_connections(shopper_id: int) -> None:
    """Disconnect the shopper's pages on every process and empty their room (after erasure, a
    full opt-out or a move to a new phone): they receive nothing more."""
    socketio.close_room(shopper_room(shopper_id), namespace="/")
    log.info("event=shopper_connections_ended")


def end_staff_connections(staff_id: int) -> None:
    """Disconnect a staffer's tablets and consoles on every process (their sessions ended)."""
    socketio.close_room(staffer_room(staff_id), namespace="/")
    log.info("event=staff_connections_ended staff=%s", staff_id)


def end_staff_store_connections(staff_id: int, store_ids: Sequence[int]) -> None:
    """Disconnect a staffer's tablets and consoles connected for these stores, on every
    process (the stores are no longer hers); a page reconnects for a store still hers."""
    for store_id in store_ids:
        socketio.close_room(staffer_store_room(staff_id, store_id), namespace="/")
    log.info("event=staff_store_connections_ended staff=%s stores=%s", staff_id, len(store_ids))


class Broadcaster:
    """Queues events from request handlers; one background task emits them."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[str, dict[str, Any], str] | None] = queue.Queue()
        self._started = False

    def start(self) -> None:
        """Start the emitting task once per process."""
        if not self._started:
            self._started = True
            socketio.start_background_task(self._run)

    def publish(self, events: Sequence[Event]) -> None:
        """Queue events for their audiences' rooms; returns at once."""
        for event in events:
            self._queue.put((event.name, event.payload, room_of(event.audience, event.name)))

    def stop(self) -> None:
        """Ask the emitting task to finish."""
        self._queue.put(None)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            event, payload, room = item
            try:
                # With a queue, python-socketio delivers to this process's pages first, then
                # publishes for the others (a failed publish is logged, not raised).
                socketio.emit(event, payload, to=room)
            except Exception:  # noqa: BLE001 - one failed emit must not stop the emitter
                log.exception("event=emit_failed name=%s room=%s", event, room)


# How often a process checks that it is listening to the message queue (a second or two of
# pub/sub commands is nothing to Redis; a tablet deaf for longer notices nothing).
QUEUE_WATCH_S = 2.0


def watch_message_queue() -> None:
    """Forever: notice when this process's connection to the message queue was lost and made
    again (Redis restarted), and then close every Engine.IO connection of this process.

    While the subscription was down, events raised by other processes never reached this
    process's pages, and nothing tells them: closing the transports makes every page reconnect
    (Socket.IO clients do so by themselves) and fetch what it shows, as on any reconnect.
    """
    manager = socketio.server.manager
    # python-socketio's Redis manager connects once when its listener starts, and again after
    # each failure (listening or publishing): more connections than one mean it lost Redis.
    connect = manager._redis_connect
    connections = [0]

    def counted_connect() -> None:
        connections[0] += 1
        connect()

    manager._redis_connect = counted_connect
    accounted = 1
    while True:
        socketio.sleep(QUEUE_WATCH_S)
        if connections[0] <= accounted:
            continue
        pubsub = getattr(manager, "pubsub", None)
        if not getattr(pubsub, "subscribed", False):
            if connections[0] == accounted + 1:
                log.warning("event=message_queue_lost effect=events_of_other_processes_missed")
            continue
        accounted = connections[0]
        _drop_transports()
        log.warning("event=message_queue_back effect=pages_reconnect_and_catch_up")


def _drop_transports() -> None:
    # Closed without Engine.IO's CLOSE packet, as a network drop: a client told "closed by the
    # server" stays away (python-socketio's does), one that lost its transport reconnects.
    engine = socketio.server.eio
    for transport in list(engine.sockets.values()):
        transport.close(wait=False, abort=True)


def async_mode() -> str:
    """`gevent` in a process gevent has patched (gunicorn's gevent worker), else `threading`."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("socket"):
        return "gevent"
    return "threading"


def init_realtime(app: Flask, settings: StoreSettings) -> Broadcaster:
    """Bind Socket.IO to the app (through the deployment's channel of the message queue, if
    any); returns the started background emitter."""
    queue_url = settings.socketio_message_queue
    if queue_url:
        check_message_queue(queue_url)  # raises SettingsError: refuse to start
    manager = (
        RoomEndingRedisManager(queue_url, channel=settings.message_channel)
        if queue_url
        else RoomEndingManager()
    )
    socketio.init_app(app, async_mode=async_mode(), client_manager=manager)
    broadcaster = Broadcaster()
    broadcaster.start()
    if queue_url:
        socketio.start_background_task(watch_message_queue)
    return broadcaster


@socketio.on("connect")  # type: ignore[untyped-decorator]
def _on_connect(auth: dict[str, Any] | None = None) -> bool:
    """Staff join the room of the store they chose (`store_id`, by default the one they open
    at) if it is theirs, managers also its managers' room, and the feeds they ask for
    (`feeds`, e.g. `["presence"]`); shoppers their own room."""
    auth = auth if isinstance(auth, dict) else {}
    token, device_token = auth.get("token"), auth.get("device_token")
    now = services().clock()
    db = services().db
    if isinstance(token, str) and (identity := staff_for_token(db, token, now)) is not None:
        chosen = auth.get("store_id", identity.store_id)
        if type(chosen) is not int or not may_act(identity, chosen):
            log.info("event=socket_refused reason=forbidden staff=%s", identity.staff_id)
            return False
        join_room(staff_room(chosen))
        join_room(staffer_room(identity.staff_id))
        join_room(staffer_store_room(identity.staff_id, chosen))
        if may_act(identity, chosen, StaffRole.MANAGER):
            join_room(managers_room(chosen))
        asked = auth.get("feeds")
        for feed in sorted(FEEDS):
            if isinstance(asked, list) and feed in asked:
                join_room(feed_room(chosen, feed))
        log.info("event=socket_joined store=%s staff=%s", chosen, identity.staff_id)
        _count_socket(request.sid, "staff")  # type: ignore[attr-defined]
        return True
    device = device_for_token(db, device_token) if isinstance(device_token, str) else None
    if device is not None and _has_any_consent(device.shopper_id):
        join_room(shopper_room(device.shopper_id))
        connections.add(request.sid, device.shopper_id)  # type: ignore[attr-defined]
        log.info("event=socket_joined device=%s", device.device_id)
        _count_socket(request.sid, "shopper")  # type: ignore[attr-defined]
        return True
    log.info("event=socket_refused reason=unauthorized")
    return False


def _has_any_consent(shopper_id: int) -> bool:
    # A shopper who withdrew every consent is sent nothing, so her page has no room to be in.
    with services().db.sessions() as session:
        return has_any_consent(session, shopper_id)


@socketio.on("disconnect")  # type: ignore[untyped-decorator]
def _on_disconnect(*_args: Any) -> None:
    """Forget a shopper page's connection, and count the socket gone."""
    connections.remove(request.sid)  # type: ignore[attr-defined]
    with _socket_kinds_lock:
        kind = _socket_kinds.pop(request.sid, None)  # type: ignore[attr-defined]
    if kind is not None:
        SOCKETS.labels(kind).dec()


# The kind of every counted connection of this process, so its disconnect is counted once.
_socket_kinds: dict[str, str] = {}
_socket_kinds_lock = threading.Lock()


def _count_socket(sid: str, kind: str) -> None:
    with _socket_kinds_lock:
        if sid in _socket_kinds:
            return
        _socket_kinds[sid] = kind
    SOCKETS.labels(kind).inc()
