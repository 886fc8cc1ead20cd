"""The app reports the store beacons it heard; fusion places the shopper in a zone with them."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import select

from store_server.db.models import PresenceEvent
from store_server.messaging.outbound import NO_REACH
from store_server.presence.fusion import FusionParams
from store_server.sweep import presence_clock, run_sweep
from store_server.web.context import services
from tests.store_server.conftest import World

DRESSES_BEACON = "fda50693-a4e2-4fb1-afcf-c6eb07647825:1:2"  # registered in the dresses zone


def report(world: World, person: str, sightings: list[dict[str, Any]], store: int = 0) -> Any:
    return world.client().post(
        "/api/v1/me/sightings",
        headers=world.device_headers(person),
        json={"store_id": store or world.seed.store_id, "sightings": sightings},
    )


def test_beacon_reports_place_the_shopper_in_a_zone(world: World) -> None:
    now = time.time()
    # Leo came in through the door 26 s ago (the door's reading has aged out of the evidence
    # by now) and has stood at the dresses rail, his app hearing its beacon, for 6 s.
    world.arrive("leo", at=now - 26)
    sightings = [
        {"beacon": DRESSES_BEACON.upper(), "rssi": -55, "seen_at": now - 6 + i} for i in range(7)
    ]
    answer = report(world, "leo", [*sightings, {"beacon": "ab:1:2", "rssi": -50, "seen_at": now}])
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["accepted"] == 8 and body["ignored"]["unregistered_beacon"] == 1
    with world.db.sessions() as session:
        kinds = [
            (e.kind, e.zone)
            for e in session.scalars(select(PresenceEvent).order_by(PresenceEvent.at)).all()
        ]
    assert ("zone_entered", "dresses") in kinds


def test_reports_need_consent_and_respect_a_pause(world: World) -> None:
    now = time.time()
    one = [{"beacon": DRESSES_BEACON, "rssi": -55, "seen_at": now}]
    assert report(world, "leo", one, store=world.other_store_id).status_code == 403
    assert world.client().post("/api/v1/me/sightings", json={}).status_code == 401
    world.client().post(
        "/api/v1/me/pause", json={"minutes": 60}, headers=world.device_headers("leo")
    )
    paused = report(world, "leo", one).get_json()
    assert paused["used"] == 0 and paused["ignored"] == {"detection_paused": 1}
    assert report(world, "leo", []).status_code == 400


def post(world: World, person: str, body: dict[str, Any]) -> Any:
    return world.client().post(
        "/api/v1/me/sightings",
        headers=world.device_headers(person),
        json={"store_id": world.seed.store_id, **body},
    )


def events_of(world: World) -> list[tuple[str, float, list[dict[str, Any]]]]:
    with world.db.sessions() as session:
        rows = session.scalars(select(PresenceEvent).order_by(PresenceEvent.at)).all()
        return [(e.kind, e.confidence, e.reasons) for e in rows]


def test_a_region_exit_closes_the_visit_of_a_sleeping_iphone(world: World) -> None:
    now = time.time()
    # Leo's iPhone, the app in the background, was woken on entering the store's region 45 s
    # ago, down the street, and ranged the dresses beacon far off; he came in 40 s ago (the
    # door's reading has aged out of the evidence since).
    woken = post(
        world,
        "leo",
        {
            "app_state": "background",
            "region": {"event": "enter", "at": now - 45},
            "sightings": [{"beacon": DRESSES_BEACON, "rssi": -95, "seen_at": now - 44}],
        },
    )
    assert woken.status_code == 200 and woken.get_json()["used"] == 1
    world.arrive("leo", at=now - 40)
    assert [kind for kind, _, _ in events_of(world)] == ["entered"]
    # Leaving the region: a report with no sighting at all.
    left = post(world, "leo", {"app_state": "background", "region": {"event": "exit", "at": now}})
    assert left.status_code == 200
    assert left.get_json() == {"accepted": 0, "used": 0, "ignored": {}}
    kind, confidence, reasons = events_of(world)[-1]
    assert kind == "exited" and confidence == 0.9
    assert reasons == [{"signal": "region_exit", "app_state": "background"}]


def test_a_region_exit_does_not_close_a_visit_a_gateway_still_hears(world: World) -> None:
    now = time.time()
    world.arrive("leo", at=now - 1)
    left = post(world, "leo", {"app_state": "background", "region": {"event": "exit", "at": now}})
    assert left.status_code == 200
    assert [kind for kind, _, _ in events_of(world)] == ["entered"]


def test_a_region_event_far_from_the_clock_is_ignored(world: World) -> None:
    now = time.time()
    world.arrive("leo", at=now - 40)
    stale = post(world, "leo", {"region": {"event": "exit", "at": now - 3600}})
    assert stale.status_code == 200
    assert stale.get_json()["ignored"] == {"stale_timestamp": 1}
    assert [kind for kind, _, _ in events_of(world)] == ["entered"]


@pytest.mark.parametrize(
    "body",
    [
        {"region": {"event": "leave", "at": 1.0}},  # not a region event
        {"region": {"event": "exit"}},  # when?
        {"region": {"event": "exit", "at": -5}},
        {"region": {"event": "exit", "at": 1.0, "beacon": "x"}},  # unknown field
        {"region": "exit"},
        {"app_state": "asleep", "region": {"event": "exit", "at": 1.0}},
        {"app_state": "background"},  # neither a sighting nor a region event
        {"app_state": "background", "sightings": []},
    ],
)
def test_bad_region_or_app_state_is_refused(world: World, body: dict[str, Any]) -> None:
    answer = post(world, "leo", body)
    assert answer.status_code == 400
    assert answer.get_json()["error"]["code"] == "invalid_body"


def test_a_sleeping_iphone_still_in_the_region_enters_by_the_presence_clock(world: World) -> None:
    now = time.time()
    woken = post(
        world,
        "leo",
        {
            "app_state": "background",
            "region": {"event": "enter", "at": now},
            "sightings": [{"beacon": DRESSES_BEACON, "rssi": -95, "seen_at": now + 1}],
        },
    )
    assert woken.status_code == 200 and events_of(world) == []
    # Nothing more from the phone: the clock alone decides (the presence clock, every second).
    states, settings = services(world.app).fusion_states, services(world.app).settings
    due = now + FusionParams().region_entry_s
    presence_clock(world.db, settings, states, due - 1, NO_REACH)
    assert events_of(world) == []
    presence_clock(world.db, settings, states, due + 1, NO_REACH)
    ((kind, confidence, reasons),) = events_of(world)
    assert kind == "entered" and confidence == 0.6
    assert reasons[0]["signal"] == "region_enter" and reasons[0]["app_state"] == "background"
    # Still silent ten minutes later: the visit holds (the clock keeps it live in the database,
    # so the sweep does not close it as lost either).
    later = due + 600
    for tick in range(int(due) + 20, int(later), 20):
        presence_clock(world.db, settings, states, tick, NO_REACH)
    world.clock.now = lambda: later
    run_sweep(services(world.app))
    assert [kind for kind, _, _ in events_of(world)] == ["entered"]
