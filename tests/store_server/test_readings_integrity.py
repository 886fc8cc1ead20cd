"""Raw readings have no foreign keys (migration 0020): every path that deletes a gateway, a phone
or a tag deletes their readings itself, and a delete racing a batch leaves no orphan."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from store_server.db.database import Database, lock_for_writes
from store_server.db.migrate import downgrade, upgrade
from store_server.db.models import CustomerTag, Observation, Shopper
from store_server.presence.gateways import remove_gateway
from store_server.shoppers import recovery
from store_server.shoppers.tags import remove_tag
from tests.store_server.conftest import World, observation
from tests.store_server.test_customer_tags import CAR_TAG, CAR_TAG_ID
from tests.support.polling import wait_until

# Readings naming a store, gateway, device or tag that does not exist: what the keys forbade.
ORPHANS = text(
    "SELECT count(*) FROM observations o"
    " WHERE NOT EXISTS (SELECT 1 FROM stores s WHERE s.id = o.store_id)"
    " OR NOT EXISTS (SELECT 1 FROM gateways g WHERE g.id = o.gateway_id)"
    " OR (o.device_id IS NOT NULL"
    "     AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.id = o.device_id))"
    " OR (o.tag_id IS NOT NULL"
    "     AND NOT EXISTS (SELECT 1 FROM customer_tags t WHERE t.id = o.tag_id))"
)


def orphans(db: Database) -> int:
    with db.sessions() as session:
        return int(session.scalar(ORPHANS) or 0)


def readings(world: World, *where: Any) -> int:
    with world.db.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Observation).where(*where)) or 0)


def shopper_id(world: World, person: str) -> int:
    with world.db.sessions() as session:
        return session.scalars(
            select(Shopper.id).where(Shopper.first_name == person.capitalize())
        ).one()


def maria(world: World) -> int:
    return shopper_id(world, "maria")


def heard(world: World) -> int:
    """Maria registers her car tag; her phone and tag, and Leo's phone, are heard by the
    entrance and the floor. Returns her tag's id."""
    added = world.client().post(
        "/api/v1/me/tags",
        json={"kind": "ibeacon", "id": CAR_TAG_ID, "label": "car tag"},
        headers=world.device_headers("maria"),
    )
    assert added.status_code == 201
    now = time.time()
    for gateway, rssi in (("gw-entrance", -55), ("gw-floor", -75)):
        batch = [
            observation(world.eid_hex("maria", now), rssi, now),
            observation(world.eid_hex("leo", now), rssi, now),
            {"seen_at": now, "rssi": rssi, "frame": CAR_TAG},
        ]
        assert world.upload(gateway, batch).get_json()["resolved"] == 3
    assert orphans(world.db) == 0
    tag_id: int = added.get_json()["tag_id"]
    return tag_id


def test_the_orphan_check_finds_a_reading_whose_device_is_gone(world: World) -> None:
    heard(world)
    with world.db.transaction() as session:  # behind the code's back: no path does this
        session.execute(text("DELETE FROM devices WHERE shopper_id = :s"), {"s": maria(world)})
    assert orphans(world.db) == 2


def test_removing_a_gateway_deletes_its_readings_only(world: World) -> None:
    heard(world)
    with world.db.transaction() as session:
        remove_gateway(session, "gw-entrance")
    assert orphans(world.db) == 0
    assert readings(world, Observation.gateway_id == "gw-entrance") == 0
    assert readings(world, Observation.gateway_id == "gw-floor") == 3


def test_removing_a_tag_deletes_its_readings_only(world: World) -> None:
    tag_id = heard(world)
    removed = world.client().delete(
        f"/api/v1/me/tags/{tag_id}", headers=world.device_headers("maria")
    )
    assert removed.status_code == 200
    assert orphans(world.db) == 0
    assert readings(world, Observation.tag_id.is_not(None)) == 0
    assert readings(world, Observation.shopper_id == maria(world)) == 2  # her phone's


def test_someone_elses_tag_is_not_removed_and_keeps_its_readings(world: World) -> None:
    tag_id = heard(world)
    refused = world.client().delete(
        f"/api/v1/me/tags/{tag_id}", headers=world.device_headers("leo")
    )
    assert refused.status_code == 404
    assert readings(world, Observation.tag_id == tag_id) == 2


def test_moving_to_a_new_phone_deletes_the_old_phones_readings(world: World) -> None:
    heard(world)
    secret, now = b"test-secret", time.time()
    with world.db.transaction() as session:
        token = recovery.recovery_token(session, secret, maria(world), now)
    with world.db.transaction() as session:
        recovery.move_to_new_phone(session, secret, token, now)
    assert orphans(world.db) == 0
    assert (
        readings(world, Observation.device_id.is_not(None), Observation.shopper_id == maria(world))
        == 0
    )
    assert readings(world, Observation.tag_id.is_not(None)) == 2  # her tag is still hers
    assert readings(world, Observation.shopper_id == shopper_id(world, "leo")) == 2


def test_erasure_deletes_every_reading_of_hers_and_no_one_elses(world: World) -> None:
    heard(world)
    erased_id = maria(world)
    assert (
        world.client().delete("/api/v1/me", headers=world.device_headers("maria")).status_code
        == 200
    )
    assert orphans(world.db) == 0
    assert readings(world, Observation.shopper_id == erased_id) == 0
    assert readings(world, Observation.shopper_id == shopper_id(world, "leo")) == 2


def phone_moved(session: Session, world: World) -> None:
    secret, now = b"test-secret", time.time()
    token = recovery.recovery_token(session, secret, maria(world), now)
    recovery.move_to_new_phone(session, secret, token, now)


def tag_removed(session: Session, world: World) -> None:
    tag_id = session.scalars(select(CustomerTag.id)).one()
    remove_tag(session, maria(world), tag_id)


def gateway_removed(session: Session, world: World) -> None:
    remove_gateway(session, "gw-floor")


def waiting_for_a_lock(db: Database) -> bool:
    if db.engine.dialect.name != "postgresql":
        return False  # SQLite: a writer waits for the write lock, and nobody holds it yet
    with db.engine.connect() as connection:
        waiting = connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    return bool(waiting)


@pytest.mark.parametrize("delete", [phone_moved, tag_removed, gateway_removed])
def test_a_delete_committed_while_a_batch_is_in_flight_leaves_no_orphan(
    world: World, monkeypatch: pytest.MonkeyPatch, delete: Callable[[Session, World], None]
) -> None:
    """The batch has read Maria's phone and tag when the delete runs, before it writes."""
    heard(world)
    failed: list[BaseException] = []
    deleter = threading.Thread(target=lambda: run_in_transaction(world, delete, failed))

    def delete_meanwhile(session: Session) -> None:
        if deleter.ident is None:  # the test's batch, not a later one
            deleter.start()
            # Done (nothing held it back), or waiting for this batch to commit.
            assert wait_until(lambda: not deleter.is_alive() or waiting_for_a_lock(world.db), 30)
        lock_for_writes(session)

    monkeypatch.setattr("store_server.presence.ingest.lock_for_writes", delete_meanwhile)
    now = time.time()
    batch = [
        observation(world.eid_hex("maria", now), -75, now),
        {"seen_at": now, "rssi": -75, "frame": CAR_TAG},
    ]
    answer = world.upload("gw-floor", batch)
    deleter.join(30)
    assert not deleter.is_alive() and failed == []
    # PostgreSQL: the delete waited for the batch. SQLite: it went first; a gateway's batch is
    # then refused by its batch id's key (reported as a copy: nothing of it is stored).
    sqlite_gateway = delete is gateway_removed and world.db.engine.dialect.name == "sqlite"
    assert answer.status_code == (409 if sqlite_gateway else 202), answer.get_json()
    assert orphans(world.db) == 0


def run_in_transaction(
    world: World, delete: Callable[[Session, World], None], failed: list[BaseException]
) -> None:
    try:
        with world.db.transaction() as session:
            delete(session, world)
    except BaseException as exc:  # the test thread reports it
        failed.append(exc)


def test_migration_0020_drops_the_keys_and_restores_them_without_orphans(
    database_url: str,
) -> None:
    db = Database(database_url)
    try:
        upgrade(db.engine, "0019")
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO chains (id, name) VALUES (1, 'A')"))
            conn.execute(
                text("INSERT INTO stores (id, chain_id, name, timezone) VALUES (1, 1, 'A1', 'UTC')")
            )
            conn.execute(
                text(
                    "INSERT INTO gateways (id, store_id, token_sha256, rssi_offset_db)"
                    " VALUES ('gw', 1, 'x', 0)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO shoppers (id, chain_id, first_name, timezone, created_at)"
                    " VALUES (1, 1, 'Zoe', 'UTC', 0)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO devices (id, shopper_id, identity_key, rotation_exponent,"
                    " created_at) VALUES (1, 1, :key, 10, 0), (2, 1, :key, 10, 0)"
                ),
                {"key": bytes(16)},
            )
        insert_reading = text(
            "INSERT INTO observations (store_id, gateway_id, shopper_id, device_id, rssi,"
            " seen_at) VALUES (1, 'gw', 1, :device, -60, 0)"
        )
        with pytest.raises(Exception, match="(?i)foreign key"), db.engine.begin() as conn:
            conn.execute(insert_reading, {"device": 99})
        upgrade(db.engine, "0020")
        with db.engine.begin() as conn:
            conn.execute(insert_reading, {"device": 1})
            conn.execute(insert_reading, {"device": 99})  # no key: nothing refuses it now
        assert orphans(db) == 1 and count_readings(db) == 2
        downgrade(db.engine, "0019")
        with db.engine.begin() as conn:
            kept = conn.execute(text("SELECT device_id FROM observations")).scalars().all()
        assert kept == [1]  # the orphan went, the reading of a known phone stayed
        with db.engine.begin() as conn:  # the keys are back, cascade and all
            conn.execute(text("DELETE FROM devices WHERE id = 1"))
        assert orphans(db) == 0 and count_readings(db) == 0
        upgrade(db.engine)
    finally:
        db.dispose()


def count_readings(db: Database) -> int:
    with db.engine.connect() as connection:
        return int(connection.scalar(text("SELECT count(*) FROM observations")) or 0)
