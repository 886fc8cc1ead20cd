"""Gateway ingest: the happy path, the entry rule, and every kind of bad input."""

from __future__ import annotations

import json
import time

from sqlalchemy import func, select

from store_server.db.models import GatewayBatch, Observation, PickupAlert, Visit
from tests.store_server.conftest import World, observation


def count(world: World, model: type) -> int:
    with world.db.sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_strong_reading_at_the_entrance_raises_one_alert_for_the_ready_order(world: World) -> None:
    now = time.time()
    response = world.upload("gw-entrance", [observation(world.eid_hex("maria", now), -50, now)])
    assert response.status_code == 202
    assert response.get_json()["resolved"] == 1
    with world.db.sessions() as session:
        alert = session.scalars(select(PickupAlert)).one()
        assert alert.status == "raised"
        assert alert.reasons == [  # the `entered` event's
            {"signal": "eddystone_eid", "gateway": "gw-entrance", "rssi": -50, "place": "entrance"}
        ]
    # She is still at the door a second later: the same visit, no second alert.
    later = now + 1
    world.upload("gw-entrance", [observation(world.eid_hex("maria", later), -55, later)])
    assert count(world, PickupAlert) == 1
    assert count(world, Visit) == 1


def test_weak_reading_or_floor_gateway_opens_no_visit(world: World) -> None:
    now = time.time()
    world.upload("gw-entrance", [observation(world.eid_hex("maria", now), -80, now)])
    world.upload("gw-floor", [observation(world.eid_hex("maria", now), -50, now)])
    assert count(world, Visit) == 0
    assert count(world, PickupAlert) == 0
    assert count(world, Observation) == 2  # she opted in: her readings are kept


def test_shopper_without_ready_order_enters_without_alert(world: World) -> None:
    now = time.time()
    world.upload(
        "gw-entrance",
        [
            observation(world.eid_hex("leo", now), -50, now),
            observation(world.eid_hex("ana", now), -50, now),
        ],
    )
    assert count(world, Visit) == 2
    assert count(world, PickupAlert) == 0


def test_unknown_devices_are_never_stored(world: World) -> None:
    now = time.time()
    response = world.upload("gw-entrance", [observation("00112233445566ff", -50, now)])
    assert response.status_code == 202
    assert response.get_json() == {
        "batch_id": response.get_json()["batch_id"],
        "accepted": 1,
        "resolved": 0,
        "ignored": {"unresolved": 1},
    }
    assert count(world, Observation) == 0


def test_duplicate_batch_is_409_and_stored_once(world: World) -> None:
    now = time.time()
    obs = [observation(world.eid_hex("maria", now), -50, now)]
    assert world.upload("gw-entrance", obs, batch_id="b-1").status_code == 202
    again = world.upload("gw-entrance", obs, batch_id="b-1")
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "duplicate_batch"
    assert count(world, Observation) == 1
    assert count(world, GatewayBatch) == 1
    assert count(world, PickupAlert) == 1


def test_same_batch_id_from_another_gateway_is_a_different_batch(world: World) -> None:
    now = time.time()
    obs = [observation(world.eid_hex("maria", now), -90, now)]
    assert world.upload("gw-entrance", obs, batch_id="same").status_code == 202
    assert world.upload("gw-floor", obs, batch_id="same").status_code == 202


def assert_error(response: object, status: int, code: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)  # type: ignore[attr-defined]
    body = response.get_json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code


def test_bad_requests_get_one_error_shape_and_store_nothing(world: World) -> None:
    client = world.client()
    token = world.seed.gateway_tokens["gw-entrance"]
    auth = {"Authorization": f"Bearer {token}"}
    url = "/api/v1/gateways/gw-entrance/batches"
    assert_error(
        client.post(url, data="{not json", headers=auth, content_type="application/json"),
        400,
        "malformed_json",
    )
    assert_error(client.post(url, json=[1, 2], headers=auth), 400, "invalid_body")
    assert_error(
        client.post(
            url,
            json={
                "batch_id": "x",
                "sent_at": 1,
                "observations": [
                    {
                        "seen_at": 1,
                        "rssi": 999,
                        "frame": {"kind": "eddystone_eid", "eid": "zz", "tx_power": 0},
                    }
                ],
            },
            headers=auth,
        ),
        400,
        "invalid_body",
    )
    assert_error(
        client.post("/api/v1/gateways/gw-unknown/batches", json={}, headers=auth),
        404,
        "unknown_gateway",
    )
    assert_error(client.post(url, json={}), 401, "unauthorized")
    assert_error(
        client.post(url, json={}, headers={"Authorization": "Bearer wrong"}), 401, "unauthorized"
    )
    assert_error(
        world.upload("gw-entrance", [], token=world.seed.gateway_tokens["gw-floor"]),
        401,
        "unauthorized",
    )
    assert count(world, GatewayBatch) == 0


def test_oversize_batches_are_413(world: World) -> None:
    now = time.time()
    too_many = [observation("00112233445566ff", -90, now)] * 5001
    assert_error(world.upload("gw-entrance", too_many), 413, "batch_too_large")
    token = world.seed.gateway_tokens["gw-entrance"]
    huge = json.dumps(
        {"batch_id": "big", "sent_at": now, "observations": [], "pad": "x" * 2_000_000}
    )
    response = world.client().post(
        "/api/v1/gateways/gw-entrance/batches",
        data=huge,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert_error(response, 413, "request_entity_too_large")
    assert count(world, GatewayBatch) == 0


def test_eid_from_neighbouring_window_resolves(world: World) -> None:
    now = time.time()
    skewed = now - 1024  # the phone's clock is one rotation period behind
    response = world.upload("gw-entrance", [observation(world.eid_hex("maria", skewed), -60, now)])
    assert response.get_json()["resolved"] == 1
