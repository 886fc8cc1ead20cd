"""Presence fusion behind ingest and the sweep: events stored and emitted, bad input counted."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from store_server.accounts.auth import token_digest
from store_server.db.models import (
    Device,
    Gateway,
    PickupAlert,
    PresenceEvent,
    Shopper,
    Visit,
    Zone,
)
from store_server.presence import fusion
from store_server.presence.visits import FusionStates
from store_server.sweep import sweep
from store_server.vocabulary import ZoneKind
from store_server.web.context import EXTENSION as SERVICES_EXTENSION
from store_server.web.context import services
from store_server.web.realtime import feed_room, room_of
from tests.store_server.conftest import World, observation

Published = list[tuple[str, dict[str, Any], str]]


@pytest.fixture
def published(world: World, monkeypatch: pytest.MonkeyPatch) -> Published:
    """Every event ingest and the sweep queue for the Broadcaster."""
    sent: Published = []
    broadcaster = services(world.app).publisher
    monkeypatch.setattr(
        broadcaster,
        "publish",
        lambda events: sent.extend(
            (e.name, e.payload, room_of(e.audience, e.name)) for e in events
        ),
    )
    return sent


def events(world: World) -> list[PresenceEvent]:
    with world.db.sessions() as session:
        return list(session.scalars(select(PresenceEvent).order_by(PresenceEvent.id)).all())


def maria_id(world: World) -> int:
    with world.db.sessions() as session:
        shopper_id = session.scalar(select(Shopper.id).where(Shopper.first_name == "Maria"))
        assert shopper_id is not None
        return shopper_id


def test_an_entry_is_stored_as_an_event_and_emitted_to_the_presence_feed_only(
    world: World, published: Published
) -> None:
    world.arrive("maria")
    stored = events(world)
    assert [e.kind for e in stored] == ["entered"]
    assert stored[0].visit_id is not None and stored[0].confidence == 1.0
    assert stored[0].reasons[0]["gateway"] == "gw-entrance"
    presence = [p for p in published if p[0] == "presence"]
    assert len(presence) == 1
    name, payload, room = presence[0]
    assert room == feed_room(world.seed.store_id, "presence")
    assert payload["kind"] == "entered" and payload["first_name"] == "Maria"
    assert "email" not in payload
    assert any(p[0] == "arrival" for p in published)  # the pickup alert, as before


def test_the_sweep_closes_a_lost_visit_and_emits_exited_once(
    world: World, published: Published
) -> None:
    now = time.time()
    world.arrive("maria", at=now)
    settings = services(world.app).settings
    assert (
        sweep(world.db, settings, now + fusion.FusionParams().lost_timeout_s - 1).visits_closed == 0
    )
    late = sweep(
        world.db, settings, now + fusion.FusionParams().lost_timeout_s + 300
    )  # the scheduler slept
    assert late.visits_closed == 1
    assert (
        sweep(world.db, settings, now + fusion.FusionParams().lost_timeout_s + 301).visits_closed
        == 0
    )
    with world.db.sessions() as session:
        visit = session.scalars(select(Visit)).one()
        assert visit.ended_at == pytest.approx(now)  # she was last heard then
    assert [e.kind for e in events(world)] == ["entered", "exited"]
    assert [p[1]["kind"] for p in late.events if p[0] == "presence"] == ["exited"]


def test_a_paused_shopper_is_neither_stored_nor_fused(world: World) -> None:
    now = time.time()
    with world.db.transaction() as session:
        session.execute(
            update(Shopper)
            .where(Shopper.id == maria_id(world))
            .values(detection_paused_until=now + 3600)
        )
    response = world.upload("gw-entrance", [observation(world.eid_hex("maria", now), -50, now)])
    assert response.get_json()["ignored"] == {"detection_paused": 1}
    assert response.get_json()["resolved"] == 0
    assert events(world) == []


def test_a_revoked_device_is_not_resolved(world: World) -> None:
    now = time.time()
    world.upload("gw-floor", [observation(world.eid_hex("maria", now), -80, now)])  # table built
    with world.db.transaction() as session:
        session.execute(delete(Device).where(Device.shopper_id == maria_id(world)))
    # Her EIDs are still in the process's tables: the batch's own query finds no device.
    response = world.upload("gw-entrance", [observation(world.eid_hex("maria", now), -50, now)])
    assert response.get_json()["resolved"] == 0
    assert response.get_json()["ignored"] == {"unresolved": 1}
    with world.db.sessions() as session:
        assert session.scalars(select(PickupAlert)).all() == []


def test_far_off_timestamps_are_ignored_with_a_reason_never_an_arrival(world: World) -> None:
    now = time.time()
    future, past = now + 3600, now - 3600
    response = world.upload(
        "gw-entrance",
        [
            observation(world.eid_hex("maria", future), -50, future),
            observation(world.eid_hex("maria", past), -50, past),
        ],
    )
    assert response.get_json()["ignored"] == {"future_timestamp": 1, "stale_timestamp": 1}
    assert events(world) == []


def test_an_out_of_order_reading_is_counted_and_moves_nothing(world: World) -> None:
    now = time.time()
    world.arrive("maria", at=now)
    older = now - 10
    response = world.upload("gw-entrance", [observation(world.eid_hex("maria", older), -40, older)])
    assert response.get_json()["ignored"] == {"out_of_order": 1}
    assert [e.kind for e in events(world)] == ["entered"]


def test_state_is_rebuilt_from_the_database_when_the_process_forgot_it(world: World) -> None:
    now = time.time()
    world.arrive("maria", at=now)
    forgetful = replace(services(world.app), fusion_states=FusionStates())
    world.app.extensions[SERVICES_EXTENSION] = forgetful
    later = now + 2
    world.upload("gw-entrance", [observation(world.eid_hex("maria", later), -50, later)])
    assert [e.kind for e in events(world)] == ["entered"]  # the open visit goes on
    with world.db.sessions() as session:
        assert len(session.scalars(select(Visit)).all()) == 1


def test_a_gateway_of_a_door_outside_zone_tells_the_direction_of_passage(world: World) -> None:
    # A second gateway on the pavement side of the demo store's door.
    with world.db.sessions() as session, session.begin():
        zone = Zone(
            store_id=world.seed.store_id,
            name="entrance-outside",
            kind=ZoneKind.DOOR_OUTSIDE,
            label="front door, outside",
        )
        session.add(zone)
        session.flush()
        session.add(
            Gateway(
                id="gw-door-out",
                store_id=world.seed.store_id,
                zone_id=zone.id,
                token_sha256=token_digest("door-out-token"),
            )
        )
    at = time.time()
    eid = world.eid_hex("maria", at)
    # Read strongly outside only: what a passer under the canopy gives, never an entry.
    outside = [observation(eid, -55, at - 3), observation(eid, -52, at - 2)]
    assert world.upload("gw-door-out", outside, token="door-out-token").status_code == 202
    assert events(world) == []
    # Then inside at the doorway level while the outside gateway no longer reads her there:
    # came in (the inside readings alone, -62 and -61, are short of the level sum).
    inside = [observation(eid, -62, at - 1), observation(eid, -61, at)]
    assert world.upload("gw-entrance", inside).status_code == 202
    stored = events(world)
    assert [e.kind for e in stored] == ["entered"]
    assert stored[0].reasons[-1]["signal"] == "passage"
