"""One presence pipeline: check-ins, phone sightings, gateway batches and the sweep's clock all
go through fusion, record presence events and trigger campaigns; bad input never enters."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from store_server.db.models import Beacon, PresenceEvent, Visit
from store_server.presence.fusion import FusionParams
from store_server.sweep import presence_clock
from store_server.vocabulary import PresenceState
from store_server.web.context import services
from tests.store_server.conftest import World, observation
from tests.store_server.test_campaigns import (
    PAGE_OPEN,
    create,
    decisions,
    move_shoppers_to_daytime,
    shopper_id,
)

DRESSES_BEACON = "fda50693-a4e2-4fb1-afcf-c6eb07647825:1:2"  # the demo store's, in dresses
ENTRANCE_BEACON = "fda50693-a4e2-4fb1-afcf-c6eb07647825:1:1"
PARAMS = FusionParams()


def presence(world: World) -> list[tuple[str, str | None]]:
    with world.db.sessions() as session:
        rows = session.scalars(select(PresenceEvent).order_by(PresenceEvent.at)).all()
        return [(e.kind, e.zone) for e in rows]


def sightings(world: World, person: str, reports: list[dict[str, Any]], store: int = 0) -> Any:
    return world.client().post(
        "/api/v1/me/sightings",
        headers=world.device_headers(person),
        json={"store_id": store or world.seed.store_id, "sightings": reports},
    )


def test_a_check_in_enters_records_the_event_and_triggers_an_entry_campaign(
    world: World,
) -> None:
    move_shoppers_to_daytime(world)
    create(world, trigger="entered", offer_text="Welcome in: 20 % off")
    answer = world.client().post(
        "/api/v1/me/checkin",
        json={"store_id": world.seed.store_id},
        headers=world.device_headers("leo"),
    )
    assert answer.status_code == 200
    assert presence(world) == [("entered", "entrance")]
    with world.db.sessions() as session:
        event = session.scalars(select(PresenceEvent)).one()
        assert event.confidence == PARAMS.check_in_confidence
        assert event.reasons == [{"signal": "check_in", "place": "entrance"}]
        assert session.scalars(select(Visit)).one().ended_at is None
    [decision] = decisions(world, shopper_id(world, "leo"))
    assert decision.trigger == "entered"


def test_the_presence_clock_reports_a_walk_by_once_the_passer_has_gone(world: World) -> None:
    now = time.time()
    # Leo passes the shop front: the door gateway hears him weakly for a few seconds.
    passing = [
        observation(world.eid_hex("leo", now - 12 + i), -74 - (i % 3), now - 12 + i)
        for i in range(5)
    ]
    assert world.upload("gw-entrance", passing).status_code == 202
    assert presence(world) == []  # not while he may still step in
    states = services(world.app).fusion_states
    settings = services(world.app).settings
    presence_clock(world.db, settings, states, now - 8 + PARAMS.walk_by_gone_s - 1, PAGE_OPEN)
    assert presence(world) == []
    tick = presence_clock(world.db, settings, states, now - 8 + PARAMS.walk_by_gone_s, PAGE_OPEN)
    assert presence(world) == [("walk_by", None)]
    assert [e.name for e in tick.events] == ["presence"]  # to the staff room
    presence_clock(world.db, settings, states, now + 30, PAGE_OPEN)
    assert presence(world) == [("walk_by", None)]  # once


def test_the_presence_clock_reports_a_dwell_while_the_shopper_is_still_in_the_zone(
    world: World,
) -> None:
    start = time.time() - 2 * PARAMS.zone_dwell_s
    world.clock.now = lambda: start
    world.arrive("leo", at=start)
    states = services(world.app).fusion_states
    leo = shopper_id(world, "leo")
    # Fusion counts her stay at the rail from when the evidence first placed her there.
    stay: float | None = None
    t = start + 1.0
    # The app reports the rail's beacon every 4 s, until just before the dwell falls due.
    while stay is None or t + 4 < stay + PARAMS.zone_dwell_s:
        world.clock.now = lambda t=t: t  # type: ignore[misc]
        report = [{"beacon": DRESSES_BEACON, "rssi": -55, "seen_at": t}]
        assert sightings(world, "leo", report).status_code == 200
        state = states.get_all(world.seed.store_id, [leo]).get(leo)
        stay = state.since if state is not None and state.state == PresenceState.ZONE else None
        t += 4
    assert presence(world) == [("entered", "entrance"), ("zone_entered", "dresses")]
    settings = services(world.app).settings
    presence_clock(world.db, settings, states, stay + PARAMS.zone_dwell_s, PAGE_OPEN)
    assert presence(world)[-1] == ("zone_dwell", "dresses")
    with world.db.sessions() as session:
        dwell = session.scalars(
            select(PresenceEvent).where(PresenceEvent.kind == "zone_dwell")
        ).one()
        assert dwell.dwell_s == PARAMS.zone_dwell_s
        assert session.scalars(select(Visit)).one().ended_at is None  # still in the store


def test_bad_sightings_are_ignored_with_a_counted_reason_never_an_entry(world: World) -> None:
    now = time.time()
    # Another store's beacon (registered there for this test), a beacon nobody owns, readings
    # no radio makes, and clocks far off: four strong "entrance" sightings each.
    with world.db.transaction() as session:
        session.add(
            Beacon(
                store_id=world.other_store_id,
                kind="ibeacon",
                identifier="aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee:9:9",
            )
        )
    bad = [
        {"beacon": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee:9:9", "rssi": -40, "seen_at": now},
        {"beacon": "11111111-2222-3333-4444-555555555555:1:1", "rssi": -40, "seen_at": now},
        {"beacon": ENTRANCE_BEACON, "rssi": 5, "seen_at": now},
        {"beacon": ENTRANCE_BEACON, "rssi": -125, "seen_at": now},
        {"beacon": ENTRANCE_BEACON, "rssi": -40, "seen_at": now + 3600},
        {"beacon": ENTRANCE_BEACON, "rssi": -40, "seen_at": now - 3600},
    ]
    answer = sightings(world, "leo", bad)
    assert answer.status_code == 200
    assert answer.get_json() == {
        "accepted": 6,
        "used": 0,
        "ignored": {
            "other_store_beacon": 1,
            "unregistered_beacon": 1,
            "rssi_out_of_range": 2,
            "future_timestamp": 1,
            "stale_timestamp": 1,
        },
    }
    assert presence(world) == []


def test_a_gateway_reading_no_radio_makes_is_ignored_with_a_reason(world: World) -> None:
    now = time.time()
    eid = world.eid_hex("leo", now)
    answer = world.upload("gw-entrance", [observation(eid, 10, now), observation(eid, -124, now)])
    assert answer.status_code == 202
    assert answer.get_json()["ignored"] == {"rssi_out_of_range": 2}
    assert answer.get_json()["resolved"] == 0 and presence(world) == []


def test_a_tag_with_a_store_beacons_id_is_refused_at_registration(world: World) -> None:
    for beacon in (ENTRANCE_BEACON, ENTRANCE_BEACON.upper()):
        answer = world.client().post(
            "/api/v1/me/tags",
            json={"kind": "ibeacon", "id": beacon, "label": "my fob"},
            headers=world.device_headers("leo"),
        )
        assert answer.status_code == 400
        assert answer.get_json()["error"]["code"] == "tag_is_store_beacon"
