"""The managers' layout API: zones, gateways (place, calibration, registration) and beacons."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from store_server.db.models import Beacon, Gateway, Zone
from store_server.layout.plan import (
    BEACON_SILENT_AFTER_S,
    GATEWAY_SILENT_AFTER_S,
    LOW_BATTERY_MV,
    beacon_health,
    gateway_status,
)
from tests.store_server import json_strategies
from tests.store_server.conftest import World, observation
from tests.store_server.test_gateways import HEARTBEAT

MANAGER = "morgan@demo.store"
IBEACON_ID = "e2c56db5-dffb-48d2-b060-d0f5a71096e0:7:300"


def manager(world: World) -> dict[str, str]:
    return world.staff_headers(MANAGER)


def path(world: World, suffix: str) -> str:
    return f"/api/v1/stores/{world.seed.store_id}{suffix}"


def layout(world: World) -> dict[str, Any]:
    response = world.client().get(path(world, "/layout"), headers=manager(world))
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def zone_id(world: World, name: str) -> int:
    found: int = next(z["id"] for z in layout(world)["zones"] if z["name"] == name)
    return found


def bad_fields(response: Any) -> set[str]:
    """The fields a 400 answer names (first element of each error's location)."""
    assert response.status_code == 400, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "invalid_body"
    return {str(f["loc"][0]) for f in error["details"]["fields"]}


def count(world: World, model: Any) -> int:
    with world.db.sessions() as session:
        total: int = session.scalar(select(func.count()).select_from(model)) or 0
        return total


WRITES = [
    ("post", "/zones", {"name": "toys", "kind": "zone", "label": "toys"}),
    ("put", "/zones/1", {"name": "toys", "kind": "zone", "label": "toys"}),
    ("delete", "/zones/1", None),
    ("post", "/gateways", {"id": "gw-new"}),
    ("put", "/gateways/gw-floor", {"zone_id": None, "rssi_offset_db": 1.0}),
    ("post", "/beacons", {"kind": "ibeacon", "identifier": IBEACON_ID}),
    ("put", "/beacons/1", {"zone_id": None}),
    ("delete", "/beacons/1", None),
]


def test_layout_lists_zones_gateways_and_beacons_with_their_health(world: World) -> None:
    world.client().post(
        "/api/v1/gateways/gw-entrance/heartbeat",
        json=HEARTBEAT,
        headers={"Authorization": f"Bearer {world.seed.gateway_tokens['gw-entrance']}"},
    )
    body = layout(world)
    assert body["store_id"] == world.seed.store_id
    assert [(z["name"], z["kind"], z["label"]) for z in body["zones"]] == [
        ("entrance", "entrance", "front door"),
        ("dresses", "zone", "dresses"),
        ("shoes", "zone", "shoes"),
        ("bay-1", "bay", "curbside bay 1"),
    ]
    gateways = {g["id"]: g for g in body["gateways"]}
    assert set(gateways) == {"gw-entrance", "gw-floor"}  # not the other store's gw-other
    entrance = gateways["gw-entrance"]
    assert (entrance["zone"], entrance["rssi_offset_db"], entrance["status"]) == (
        "entrance",
        0.0,
        "online",
    )
    assert entrance["heartbeat"]["adapter_state"] == "scanning"
    assert entrance["heartbeat"]["outbox_depth"] == 0
    assert "token_sha256" not in entrance and "token" not in entrance
    assert (gateways["gw-floor"]["status"], gateways["gw-floor"]["heartbeat"]) == (
        "never_heard",
        None,
    )
    assert {(b["kind"], b["zone"], b["health"]) for b in body["beacons"]} == {
        ("ibeacon", "entrance", "never_heard"),
        ("ibeacon", "dresses", "never_heard"),
        ("eddystone_uid", "shoes", "never_heard"),
    }


@pytest.mark.parametrize(("method", "suffix", "body"), [("get", "/layout", None), *WRITES])
def test_only_managers_of_the_store_see_or_change_the_layout(
    world: World, method: str, suffix: str, body: Any
) -> None:
    client = world.client()
    send = getattr(client, method)
    kwargs = {"json": body} if body is not None else {}
    assert send(path(world, suffix), **kwargs).status_code == 401
    staff = send(path(world, suffix), headers=world.staff_headers(), **kwargs)
    assert staff.status_code == 403
    error = staff.get_json()["error"]
    assert (error["code"], error["message"]) == (
        "managers_only",
        "only a manager of this store can do this",
    )
    other_store = f"/api/v1/stores/{world.other_store_id}{suffix}"
    assert send(other_store, headers=manager(world), **kwargs).status_code == 403
    # Nothing changed.
    assert (count(world, Zone), count(world, Gateway), count(world, Beacon)) == (5, 3, 3)


def test_zones_are_created_edited_and_unique_per_store(world: World) -> None:
    client, headers = world.client(), manager(world)
    created = client.post(
        path(world, "/zones"),
        json={"name": " toys ", "kind": "zone", "label": "Toys & games"},
        headers=headers,
    )
    assert created.status_code == 201, created.get_json()
    toys = created.get_json()
    assert (toys["name"], toys["kind"], toys["label"]) == ("toys", "zone", "Toys & games")

    duplicate = client.post(
        path(world, "/zones"), json={"name": "shoes", "kind": "zone", "label": "x"}, headers=headers
    )
    assert duplicate.status_code == 409
    assert duplicate.get_json()["error"]["code"] == "zone_name_taken"
    # The same name in another store is fine: unique per store.
    assert "entrance" in {z["name"] for z in layout(world)["zones"]}
    renamed = client.put(
        path(world, f"/zones/{toys['id']}"),
        json={"name": "entrance", "kind": "zone", "label": "toys"},
        headers=headers,
    )
    assert renamed.status_code == 409  # the demo store's own entrance
    after = next(z for z in layout(world)["zones"] if z["id"] == toys["id"])
    assert after["name"] == "toys"  # the refused rename left nothing behind
    assert count(world, Zone) == 6

    edited = client.put(
        path(world, f"/zones/{toys['id']}"),
        json={"name": "toys", "kind": "bay", "label": "click & collect bay 2"},
        headers=headers,
    )
    assert edited.status_code == 200
    assert edited.get_json()["zone"]["kind"] == "bay"
    assert edited.get_json()["stale_campaigns"] == []


def test_zone_changes_are_validated_naming_each_field(world: World) -> None:
    client, headers = world.client(), manager(world)
    response = client.post(
        path(world, "/zones"), json={"name": "  ", "kind": "aisle", "label": ""}, headers=headers
    )
    assert bad_fields(response) == {"name", "kind", "label"}
    assert bad_fields(
        client.post(
            path(world, "/zones"),
            json={"name": "a", "kind": "zone", "label": "a", "colour": "red"},
            headers=headers,
        )
    ) == {"colour"}
    malformed = client.post(
        path(world, "/zones"), data="{", content_type="application/json", headers=headers
    )
    assert malformed.status_code == 400
    assert malformed.get_json()["error"]["code"] == "malformed_json"
    for method in ("put", "delete"):
        response = getattr(client, method)(
            path(world, "/zones/9999"),
            json={"name": "a", "kind": "zone", "label": "a"},
            headers=headers,
        )
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "unknown_zone"
    with world.db.sessions() as session:
        foreign = session.scalars(
            select(Zone.id).where(Zone.store_id == world.other_store_id)
        ).one()
    assert client.delete(path(world, f"/zones/{foreign}"), headers=headers).status_code == 404


def test_deleting_a_zone_in_use_clears_the_references_and_names_stale_campaigns(
    world: World,
) -> None:
    client, headers = world.client(), manager(world)
    dresses = zone_id(world, "dresses")
    campaign = {
        "name": "Dresses dwell",
        "trigger": "zone_dwell",
        "zone": "dresses",
        "min_dwell_s": 120,
        "offer_text": "10 % off dresses",
        "percent_off": 10,
        "valid_minutes": 60,
        "channels": ["app"],
    }
    created = client.post(path(world, "/campaigns"), json=campaign, headers=headers)
    assert created.status_code == 201, created.get_json()

    response = client.delete(path(world, f"/zones/{dresses}"), headers=headers)
    assert response.status_code == 200
    assert response.get_json() == {"zone": None, "stale_campaigns": ["Dresses dwell"]}
    body = layout(world)
    assert "dresses" not in {z["name"] for z in body["zones"]}
    floor = next(g for g in body["gateways"] if g["id"] == "gw-floor")
    assert (floor["zone_id"], floor["zone"]) == (None, None)
    assert sum(b["zone"] is None for b in body["beacons"]) == 1
    assert client.delete(path(world, f"/zones/{dresses}"), headers=headers).status_code == 404


def test_renaming_a_zone_names_the_campaigns_still_using_the_old_name(world: World) -> None:
    client, headers = world.client(), manager(world)
    campaign = {
        "name": "Came for shoes",
        "trigger": "entered",
        "audience": {"visited_zone": "shoes"},
        "offer_text": "5 % off shoes",
        "percent_off": 5,
        "valid_minutes": 60,
        "channels": ["app"],
    }
    assert client.post(path(world, "/campaigns"), json=campaign, headers=headers).status_code == 201
    response = client.put(
        path(world, f"/zones/{zone_id(world, 'shoes')}"),
        json={"name": "footwear", "kind": "zone", "label": "shoes"},
        headers=headers,
    )
    assert response.status_code == 200
    assert response.get_json()["stale_campaigns"] == ["Came for shoes"]


def test_a_registered_gateway_gets_a_token_that_works_once_shown(world: World) -> None:
    client, headers = world.client(), manager(world)
    response = client.post(
        path(world, "/gateways"),
        json={"id": "gw-bay", "zone_id": zone_id(world, "bay-1"), "rssi_offset_db": -3.5},
        headers=headers,
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    token = body["token"]
    assert len(token) >= 32
    assert body["gateway"] == {
        "id": "gw-bay",
        "zone_id": zone_id(world, "bay-1"),
        "zone": "bay-1",
        "rssi_offset_db": -3.5,
        "last_heartbeat_at": None,
        "status": "never_heard",
        "heartbeat": None,
    }
    config = client.get(
        "/api/v1/gateways/gw-bay/config", headers={"Authorization": f"Bearer {token}"}
    )
    assert config.status_code == 200, config.get_json()
    assert config.get_json()["store_id"] == world.seed.store_id
    assert config.get_json()["entry_rssi_dbm"] == -70 + 3.5  # a bay: arrivals are reported
    assert client.get("/api/v1/gateways/gw-bay/config").status_code == 401
    # The token is never shown again.
    assert "token" not in json.dumps(layout(world)["gateways"])

    again = client.post(path(world, "/gateways"), json={"id": "gw-bay"}, headers=headers)
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "gateway_exists"
    taken_elsewhere = client.post(
        path(world, "/gateways"), json={"id": "gw-other"}, headers=headers
    )
    assert taken_elsewhere.status_code == 409


def test_gateway_registration_is_validated_and_leaves_nothing_when_refused(world: World) -> None:
    client, headers = world.client(), manager(world)
    assert bad_fields(
        client.post(
            path(world, "/gateways"),
            json={"id": "gw bay!", "rssi_offset_db": 40},
            headers=headers,
        )
    ) == {"id", "rssi_offset_db"}
    with world.db.sessions() as session:
        foreign = session.scalars(
            select(Zone.id).where(Zone.store_id == world.other_store_id)
        ).one()
    response = client.post(
        path(world, "/gateways"), json={"id": "gw-new", "zone_id": foreign}, headers=headers
    )
    assert bad_fields(response) == {"zone_id"}
    assert count(world, Gateway) == 3


def test_calibration_and_zone_of_a_gateway_reach_its_config(world: World) -> None:
    client, headers = world.client(), manager(world)
    response = client.put(
        path(world, "/gateways/gw-floor"),
        json={"zone_id": zone_id(world, "entrance"), "rssi_offset_db": 6},
        headers=headers,
    )
    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["zone"], response.get_json()["rssi_offset_db"]) == ("entrance", 6.0)
    token = world.seed.gateway_tokens["gw-floor"]
    config = client.get(
        "/api/v1/gateways/gw-floor/config", headers={"Authorization": f"Bearer {token}"}
    ).get_json()
    # It now watches the door, and hears 6 dB weak: the raw threshold is 6 dB lower.
    assert config["entry_rssi_dbm"] == -76


def test_gateway_changes_are_validated_and_unknown_gateways_are_404(world: World) -> None:
    client, headers = world.client(), manager(world)
    url = path(world, "/gateways/gw-entrance")
    assert bad_fields(client.put(url, json={"rssi_offset_db": 20.5}, headers=headers)) == {
        "zone_id",
        "rssi_offset_db",
    }
    assert bad_fields(
        client.put(url, json={"zone_id": None, "rssi_offset_db": "loud"}, headers=headers)
    ) == {"rssi_offset_db"}
    assert bad_fields(
        client.put(url, json={"zone_id": 9999, "rssi_offset_db": 1}, headers=headers)
    ) == {"zone_id"}
    for unknown in ("gw-nope", "gw-other"):  # gw-other belongs to the other store
        response = client.put(
            path(world, f"/gateways/{unknown}"),
            json={"zone_id": None, "rssi_offset_db": 1},
            headers=headers,
        )
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "unknown_gateway"
    with world.db.sessions() as session:
        gateway = session.get(Gateway, "gw-entrance")
        assert gateway is not None and gateway.rssi_offset_db == 0.0


@pytest.mark.parametrize(("offset_db", "arrivals"), [(-20.0, 0), (20.0, 1)])
def test_fusion_uses_the_calibration_from_the_next_batch_on(
    world: World, offset_db: float, arrivals: int
) -> None:
    """One door reading at -60 dBm, calibrated to -80 (the far pavement: never an entry) or to
    -40 (a hand's width from the antenna: an entry on its own, however fusion is tuned)."""
    client, headers = world.client(), manager(world)
    response = client.put(
        path(world, "/gateways/gw-entrance"),
        json={"zone_id": zone_id(world, "entrance"), "rssi_offset_db": offset_db},
        headers=headers,
    )
    assert response.status_code == 200
    now = time.time()
    uploaded = world.upload("gw-entrance", [observation(world.eid_hex("maria", now), -60, now)])
    assert uploaded.status_code == 202, uploaded.get_json()
    assert uploaded.get_json()["resolved"] == 1
    open_arrivals = client.get(path(world, "/arrivals"), headers=world.staff_headers()).get_json()
    assert len(open_arrivals["arrivals"]) == arrivals


def test_beacons_are_registered_moved_and_removed(world: World) -> None:
    client, headers = world.client(), manager(world)
    response = client.post(
        path(world, "/beacons"),
        json={
            "kind": "ibeacon",
            "identifier": IBEACON_ID.upper(),
            "zone_id": zone_id(world, "shoes"),
        },
        headers=headers,
    )
    assert response.status_code == 201, response.get_json()
    beacon = response.get_json()
    assert (beacon["identifier"], beacon["zone"], beacon["health"]) == (
        IBEACON_ID,
        "shoes",
        "never_heard",
    )
    token = world.seed.gateway_tokens["gw-floor"]
    config = client.get(
        "/api/v1/gateways/gw-floor/config", headers={"Authorization": f"Bearer {token}"}
    ).get_json()
    assert {"kind": "ibeacon", "id": IBEACON_ID} in config["registered"]

    duplicate = client.post(
        path(world, "/beacons"), json={"kind": "ibeacon", "identifier": IBEACON_ID}, headers=headers
    )
    assert duplicate.status_code == 409
    assert duplicate.get_json()["error"]["code"] == "beacon_exists"

    moved = client.put(
        path(world, f"/beacons/{beacon['id']}"),
        json={"zone_id": zone_id(world, "dresses")},
        headers=headers,
    )
    assert moved.status_code == 200 and moved.get_json()["zone"] == "dresses"

    removed = client.delete(path(world, f"/beacons/{beacon['id']}"), headers=headers)
    assert removed.status_code == 200
    assert beacon["id"] not in {b["id"] for b in layout(world)["beacons"]}
    for method in ("put", "delete"):
        response = getattr(client, method)(
            path(world, f"/beacons/{beacon['id']}"), json={"zone_id": None}, headers=headers
        )
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "unknown_beacon"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"kind": "ibeacon", "identifier": "not-an-id"}, {"identifier"}),
        ({"kind": "ibeacon", "identifier": IBEACON_ID.replace(":300", ":70000")}, {"identifier"}),
        ({"kind": "eddystone_uid", "identifier": IBEACON_ID}, {"identifier"}),
        ({"kind": "eddystone_eid", "identifier": IBEACON_ID}, {"kind"}),
        ({"kind": "ibeacon"}, {"identifier"}),
        ({"kind": "ibeacon", "identifier": IBEACON_ID, "zone_id": 9999}, {"zone_id"}),
    ],
)
def test_bad_beacons_are_refused_naming_the_field(
    world: World, body: dict[str, Any], fields: set[str]
) -> None:
    response = world.client().post(path(world, "/beacons"), json=body, headers=manager(world))
    assert bad_fields(response) == fields
    assert count(world, Beacon) == 3


def test_health_rules() -> None:
    now = 1_000_000.0
    assert gateway_status(None, now) == "never_heard"
    assert gateway_status(now - GATEWAY_SILENT_AFTER_S, now) == "online"
    assert gateway_status(now - GATEWAY_SILENT_AFTER_S - 1, now) == "silent"
    assert beacon_health(None, None, now) == "never_heard"
    assert beacon_health(now - 10, 2950, now) == "ok"
    assert beacon_health(now - 10, LOW_BATTERY_MV, now) == "low_battery"
    assert beacon_health(now - BEACON_SILENT_AFTER_S - 1, 2950, now) == "silent"


json_values = json_strategies.json_values(allow_nan=True)
near_bodies = st.fixed_dictionaries(
    {},
    optional={
        "name": st.text(max_size=120) | st.integers(),
        "kind": st.sampled_from(["zone", "bay", "entrance", "ibeacon", "eddystone_uid", ""]),
        "label": st.text(max_size=5),
        "id": st.text(max_size=70),
        "zone_id": st.none() | st.integers(-(2**70), 2**70),
        "rssi_offset_db": st.floats() | st.text(max_size=3),
        "identifier": st.text(max_size=110),
    },
)


_fuzz_sessions: dict[int, dict[str, str]] = {}


@seed(20261201)
@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=json_values | near_bodies, gateway_id=st.text(max_size=80))
def test_layout_writes_never_fail_with_500(world: World, body: Any, gateway_id: str) -> None:
    # Hypothesis reuses the function's world for every example: log in once (argon2 is slow).
    headers = _fuzz_sessions.setdefault(id(world.app), manager(world))
    client = world.client()
    # NaN and Infinity are not JSON, but Python's parser accepts them: send them as clients might.
    data = json.dumps(body)
    for method, suffix in (
        ("post", "/zones"),
        ("put", "/zones/1"),
        ("post", "/gateways"),
        ("put", "/gateways/gw-floor"),
        ("post", "/beacons"),
        ("put", "/beacons/1"),
    ):
        response = getattr(client, method)(
            path(world, suffix), data=data, content_type="application/json", headers=headers
        )
        assert response.status_code in (200, 201, 400, 404, 409), response.get_data(as_text=True)
        if response.status_code >= 400:
            assert set(response.get_json()["error"]) == {"code", "message", "details"}
    response = client.put(
        path(world, "/gateways/") + quote(gateway_id, safe=""),
        json={"zone_id": None, "rssi_offset_db": 0},
        headers=headers,
    )
    assert response.status_code in (200, 404, 405), response.get_data(as_text=True)
