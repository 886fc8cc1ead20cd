"""The gateway-facing API: configuration, heartbeats, and beacon health from registered frames."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from store_server.db.models import Beacon, Gateway
from tests.store_server.conftest import World

REGISTERED_IBEACON = {
    "kind": "ibeacon",
    "uuid": "fda50693-a4e2-4fb1-afcf-c6eb07647825",
    "major": 1,
    "minor": 2,
    "power": -59,
}
REGISTERED_ID = "fda50693-a4e2-4fb1-afcf-c6eb07647825:1:2"
HEARTBEAT = {
    "sent_at": 1764054000.4,
    "version": "0.1.0",
    "adapter_state": "scanning",
    "adverts_per_s": 812.5,
    "devices_tracked": 41,
    "outbox_depth": 0,
    "dropped": {"undecodable": 120, "unregistered": 3400, "outbox_full": 0},
    "last_advert_at": 1764054000.1,
    "scanner_restarts": 0,
}


def gateway_headers(world: World, gateway_id: str = "gw-entrance") -> dict[str, str]:
    return {"Authorization": f"Bearer {world.seed.gateway_tokens[gateway_id]}"}


def beacon(world: World, identifier: str) -> Beacon:
    with world.db.sessions() as session:
        return session.scalars(select(Beacon).where(Beacon.identifier == identifier)).one()


def test_config_lists_the_stores_registered_beacons(world: World) -> None:
    response = world.client().get(
        "/api/v1/gateways/gw-entrance/config", headers=gateway_headers(world)
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["gateway_id"] == "gw-entrance"
    assert body["refresh_s"] > 0
    assert body["entry_rssi_dbm"] == -70
    assert {"kind": "ibeacon", "id": REGISTERED_ID} in body["registered"]
    assert {d["kind"] for d in body["registered"]} == {"ibeacon", "eddystone_uid"}


def test_entry_threshold_goes_to_entrance_gateways_with_their_calibration(world: World) -> None:
    with world.db.transaction() as session:
        gateway = session.get(Gateway, "gw-entrance")
        assert gateway is not None
        gateway.rssi_offset_db = 4.0  # this box hears 4 dB weaker than the reference
    client = world.client()
    entrance = client.get("/api/v1/gateways/gw-entrance/config", headers=gateway_headers(world))
    assert entrance.get_json()["entry_rssi_dbm"] == -74
    floor = client.get(
        "/api/v1/gateways/gw-floor/config", headers=gateway_headers(world, "gw-floor")
    )
    assert floor.get_json()["entry_rssi_dbm"] is None


def test_config_and_heartbeat_need_the_gateways_token(world: World) -> None:
    client = world.client()
    assert client.get("/api/v1/gateways/gw-entrance/config").status_code == 401
    assert (
        client.get(
            "/api/v1/gateways/gw-entrance/config", headers=gateway_headers(world, "gw-floor")
        ).status_code
        == 401
    )
    assert client.get("/api/v1/gateways/nope/config").status_code == 404
    assert client.post("/api/v1/gateways/gw-entrance/heartbeat", json=HEARTBEAT).status_code == 401


def test_heartbeat_is_kept_and_bad_ones_are_400(world: World) -> None:
    client = world.client()
    url = "/api/v1/gateways/gw-entrance/heartbeat"
    assert client.post(url, json=HEARTBEAT, headers=gateway_headers(world)).status_code == 202
    with world.db.sessions() as session:
        gateway = session.get(Gateway, "gw-entrance")
        assert gateway is not None and gateway.last_heartbeat == HEARTBEAT
    for bad in ({**HEARTBEAT, "adapter_state": "exploded"}, {**HEARTBEAT, "outbox_depth": -1}, {}):
        response = client.post(url, json=bad, headers=gateway_headers(world))
        assert response.status_code == 400
        assert response.get_json()["error"]["code"] == "invalid_body"


def obs(frame: dict[str, Any], rssi: int = -70, **extra: Any) -> dict[str, Any]:
    return {"seen_at": time.time(), "rssi": rssi, "frame": frame, **extra}


def test_registered_frames_and_telemetry_update_beacon_health(world: World) -> None:
    tlm = {
        "kind": "eddystone_tlm",
        "battery_mv": 2950,
        "temperature_c": 21.5,
        "adv_count": 4_000_000_000,
        "uptime_s": 1599.6,
    }
    response = world.upload(
        "gw-entrance", [obs(REGISTERED_IBEACON, -64), obs(tlm, -64, beacon_id=REGISTERED_ID)]
    )
    assert response.status_code == 202, response.get_json()
    health = beacon(world, REGISTERED_ID)
    assert (health.last_rssi, health.last_seen_by) == (-64, "gw-entrance")
    assert (health.battery_mv, health.temperature_c, health.adv_count) == (
        2950,
        21.5,
        4_000_000_000,
    )


def test_unregistered_beacons_and_unattributed_telemetry_change_nothing(world: World) -> None:
    stranger = {**REGISTERED_IBEACON, "minor": 999}
    tlm = {
        "kind": "eddystone_tlm",
        "battery_mv": 1,
        "temperature_c": None,
        "adv_count": 1,
        "uptime_s": 1.0,
    }
    assert world.upload("gw-entrance", [obs(stranger), obs(tlm)]).status_code == 202
    health = beacon(world, REGISTERED_ID)
    assert health.last_seen_at is None and health.battery_mv is None
