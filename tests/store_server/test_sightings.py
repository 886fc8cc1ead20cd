"""The app reports the store beacons it heard; fusion places the shopper in a zone with them."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from store_server.db.models import PresenceEvent
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
