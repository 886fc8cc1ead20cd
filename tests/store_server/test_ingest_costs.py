"""Ingest costs grow with the batch, not with the store: what a batch reads, the EID tables,
the recent-readings index, and concurrent gateways on one database."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select, text

from store_server.accounts.auth import token_digest
from store_server.db.models import (
    Consent,
    Device,
    Gateway,
    GatewayBatch,
    Observation,
    PresenceEvent,
    Shopper,
    Store,
)
from store_server.events import Event
from store_server.presence.ingest import _insert_observations
from store_server.presence.visits import recent_readings_query
from store_server.web.context import services
from tests.store_server.conftest import World, observation

EXTRA_SHOPPERS = 300


def register_shoppers(world: World, count: int) -> None:
    """`count` more shoppers with a phone each, consenting to arrival alerts at the store."""
    now = time.time()
    with world.db.transaction() as session:
        first = (session.scalar(select(func.max(Shopper.id))) or 0) + 1
        ids = range(first, first + count)
        chain_id = session.scalar(select(Store.chain_id).where(Store.id == world.seed.store_id))
        session.execute(
            insert(Shopper),
            [
                {"id": i, "chain_id": chain_id, "first_name": "Extra", "created_at": now}
                for i in ids
            ],
        )
        session.execute(
            insert(Consent),
            [
                {
                    "shopper_id": i,
                    "store_id": world.seed.store_id,
                    "purpose": "arrival",
                    "channel": "app",
                    "granted_at": now,
                }
                for i in ids
            ],
        )
        session.execute(
            insert(Device),
            [
                {
                    "shopper_id": i,
                    "identity_key": uuid.uuid4().bytes,
                    "rotation_exponent": 10,
                    "created_at": now,
                }
                for i in ids
            ],
        )


@contextmanager
def statements(world: World) -> Iterator[list[tuple[str, int]]]:
    """Every statement the app runs meanwhile, with the rows a SELECT returned (PostgreSQL
    reports them; SQLite says -1)."""
    seen: list[tuple[str, int]] = []
    engine = services(world.app).db.engine

    def record(_conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        seen.append((statement, cursor.rowcount))

    event.listen(engine, "after_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "after_cursor_execute", record)


def mid_window(world: World) -> float:
    """Pin the server's clock in the middle of an EID window; a moment a second before it."""
    start = (int(time.time()) >> 10) << 10
    world.clock.now = lambda: start + 512.0
    return start + 510.0


def batch_of_maria_and_leo(world: World, now: float) -> list[dict[str, Any]]:
    return [
        observation(world.eid_hex("maria", now), -80, now),
        observation(world.eid_hex("leo", now), -82, now),
        observation("00112233445566ff", -70, now),  # a stranger's phone
    ]


def test_a_batch_reads_its_own_identities_whatever_the_store_holds(world: World) -> None:
    now = mid_window(world)
    world.upload("gw-floor", batch_of_maria_and_leo(world, now - 2))  # the tables are built
    # This window's, and its neighbours' where the stranger's frame was looked for.
    builds = services(world.app).resolver.builds
    assert builds == 3
    with statements(world) as few:
        assert world.upload("gw-floor", batch_of_maria_and_leo(world, now - 1)).status_code == 202
    register_shoppers(world, EXTRA_SHOPPERS)
    with statements(world) as many:
        response = world.upload("gw-floor", batch_of_maria_and_leo(world, now))
    assert response.get_json()["resolved"] == 2
    assert response.get_json()["ignored"] == {"unresolved": 1}
    # A frame that misses looks up the devices registered after the ones the tables hold:
    # the new ones were added to the tables then, none is read again.
    with statements(world) as again:
        world.upload("gw-floor", batch_of_maria_and_leo(world, now + 1))
    assert [s for s, _ in again] == [s for s, _ in few]
    assert [rows for _, rows in again] == [rows for _, rows in few]  # PostgreSQL: rows too
    reading_people = [
        s for s, _ in few if s.lstrip().startswith("SELECT") and ("devices" in s or "tags" in s)
    ]
    assert reading_people, "the batch read its devices"
    # By the batch's keys, never the whole store (on PostgreSQL as arrays: one prepared text).
    for statement in reading_people:
        assert any(key in statement for key in (" IN (", " = ANY (", "devices.id >")), statement
    assert any("devices.id" in s and "customer_tags.identifier" in s for s in reading_people)
    assert len(many) == len(few)
    assert services(world.app).resolver.builds == builds  # never built again
    # The gateway's zone comes with the gateway, the open visits with the batch's devices;
    # nobody's visit is written, so they are not read again under the write lock.
    assert not any(s.lstrip().startswith("SELECT zones") for s, _ in few)
    assert all("visits" in s for s in reading_people if "customer_tags.identifier" in s)
    assert not any(" FROM visits " in " ".join(s.split()) for s, _ in few)


def test_concurrent_first_batches_build_the_table_once(world: World) -> None:
    now = mid_window(world)
    people = ["maria", "leo", "ana", "maria"]
    start = threading.Barrier(len(people))
    answers: list[int] = []

    def upload(person: str) -> None:
        start.wait()
        response = world.upload("gw-floor", [observation(world.eid_hex(person, now), -80, now)])
        answers.append(response.get_json()["resolved"])

    threads = [threading.Thread(target=upload, args=(p,)) for p in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [1, 1, 1, 1]
    assert services(world.app).resolver.builds == 1


def test_a_phone_a_window_ahead_of_the_gateway_resolves(world: World) -> None:
    now = time.time()
    ahead = observation(world.eid_hex("maria", now + 1024), -80, now)
    behind = observation(world.eid_hex("maria", now - 1024), -80, now)
    response = world.upload("gw-floor", [ahead, behind])
    assert response.get_json()["resolved"] == 2


def plan_of(world: World, query: Any) -> str:
    """The database's plan for a query, as text."""
    with world.db.sessions() as session:
        dialect = session.get_bind().dialect
        sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        if dialect.name == "sqlite":
            rows = session.execute(text(f"EXPLAIN QUERY PLAN {sql}")).all()
            return "\n".join(str(row[-1]) for row in rows)
        session.execute(text("ANALYZE observations"))
        return "\n".join(row[0] for row in session.execute(text(f"EXPLAIN {sql}")))


def test_recent_readings_are_read_by_the_index(world: World) -> None:
    now = time.time()
    register_shoppers(world, 100)
    with world.db.transaction() as session:
        gateway = session.scalars(select(Gateway)).first()
        devices = session.execute(select(Device.id, Device.shopper_id)).all()
        assert gateway is not None
        # A busy store: everyone's readings of the last minute, what a scan by time would read.
        session.execute(
            insert(Observation),
            [
                {
                    "store_id": world.seed.store_id,
                    "gateway_id": gateway.id,
                    "shopper_id": shopper_id,
                    "device_id": device_id,
                    "rssi": -70,
                    "seen_at": now - n % 50,
                }
                for n in range(4000)
                for device_id, shopper_id in [devices[n % len(devices)]]
            ],
        )
    shopper = devices[0][1]
    plan = plan_of(world, recent_readings_query(world.seed.store_id, {shopper}, now - 60))
    assert "ix_observations_store_shopper_seen" in plan, plan


def add_gateways(world: World, count: int) -> dict[str, str]:
    """More gateways at the store's floor; their tokens."""
    tokens = {f"gw-extra-{n}": uuid.uuid4().hex for n in range(count)}
    with world.db.transaction() as session:
        for gateway_id, token in tokens.items():
            session.add(
                Gateway(
                    id=gateway_id,
                    store_id=world.seed.store_id,
                    token_sha256=token_digest(token),
                    rssi_offset_db=0.0,
                )
            )
    return tokens


def test_four_gateways_at_once_store_every_batch_once(world: World) -> None:
    tokens = {"gw-entrance": None, "gw-floor": None, **add_gateways(world, 2)}
    people = ["maria", "leo", "ana"]
    batches, readings = 8, 5
    start = threading.Barrier(len(tokens))
    answers: list[int] = []
    lock = threading.Lock()

    def gateway(gateway_id: str, token: str | None) -> None:
        start.wait()
        for n in range(batches):
            now = time.time()
            batch = [
                observation(world.eid_hex(people[(n + r) % 3], now), -85, now - r * 0.1)
                for r in range(readings)
            ]
            batch_id = f"{gateway_id}-{n}"
            first = world.upload(gateway_id, batch, batch_id=batch_id, token=token)
            again = world.upload(gateway_id, batch, batch_id=batch_id, token=token)  # a retry
            with lock:
                answers.extend([first.status_code, again.status_code])

    threads = [threading.Thread(target=gateway, args=item) for item in tokens.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [202] * (4 * batches) + [409] * (4 * batches)
    with world.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(GatewayBatch)) == 4 * batches
        stored = session.scalar(select(func.count()).select_from(Observation))
    assert stored == 4 * batches * readings


def test_events_are_published_after_their_batch_committed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    publisher = services(world.app).publisher
    published = publisher.publish
    seen: list[tuple[str, int]] = []

    def publish(events: Sequence[Event]) -> None:
        with world.db.sessions() as other:  # another connection sees only what was committed
            stored = other.scalar(select(func.count()).select_from(PresenceEvent)) or 0
        seen.extend((event.name, stored) for event in events)
        published(events)

    monkeypatch.setattr(publisher, "publish", publish)
    world.arrive("maria")
    assert ("presence", 1) in seen  # her `entered`, already in the database
    assert [name for name, _ in seen].count("arrival") == 1  # her pickup alert


def test_observations_are_stored_as_written_whatever_the_gateway_id(world: World) -> None:
    """On PostgreSQL the rows go in by COPY's text format, written by ingest itself: a
    gateway id with COPY's special characters, missing ids and a precise time read back as
    they were (on SQLite the same rows go in by INSERT)."""
    awkward = "gw\\back\tslash\nline\rend"
    with world.db.transaction() as session:
        session.add(
            Gateway(id=awkward, store_id=world.seed.store_id, token_sha256=token_digest("t"))
        )
        session.flush()
        device_id, shopper_id = session.execute(
            select(Device.id, Device.shopper_id).order_by(Device.id).limit(1)
        ).one()
        rows = [
            (world.seed.store_id, awkward, shopper_id, device_id, None, -71, 1765000000.123456),
            (world.seed.store_id, awkward, shopper_id, None, None, -20, 1765000001.0),
        ]
        _insert_observations(session, rows)
    with world.db.sessions() as session:
        stored = session.execute(
            select(
                Observation.store_id,
                Observation.gateway_id,
                Observation.shopper_id,
                Observation.device_id,
                Observation.tag_id,
                Observation.rssi,
                Observation.seen_at,
            )
            .where(Observation.gateway_id == awkward)
            .order_by(Observation.seen_at)
        ).all()
    assert [tuple(row) for row in stored] == rows
