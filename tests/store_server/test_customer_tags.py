"""Customer tags: a shopper registers a car tag in the app; heard at the curbside bay, it is her."""

from __future__ import annotations

import time

from sqlalchemy import select

from store_server.accounts.auth import token_digest
from store_server.db.models import Gateway, Zone
from store_server.presence.fusion import FusionParams
from tests.store_server.conftest import World

CAR_TAG = {
    "kind": "ibeacon",
    "uuid": "e2c56db5-dffb-48d2-b060-d0f5a71096e0",
    "major": 7,
    "minor": 1,
    "power": -59,
}
CAR_TAG_ID = "e2c56db5-dffb-48d2-b060-d0f5a71096e0:7:1"


def add_curbside_gateway(world: World) -> dict[str, str]:
    with world.db.transaction() as session:
        bay = session.scalars(
            select(Zone).where(Zone.store_id == world.seed.store_id, Zone.name == "bay-1")
        ).one()
        session.add(
            Gateway(
                id="gw-curbside",
                store_id=world.seed.store_id,
                zone_id=bay.id,
                token_sha256=token_digest("curb-token"),
                rssi_offset_db=0.0,
            )
        )
    return {"Authorization": "Bearer curb-token"}


def register(world: World, person: str, body: dict[str, str]) -> object:
    return world.client().post("/api/v1/me/tags", json=body, headers=world.device_headers(person))


def test_car_tag_at_the_bay_raises_the_pickup_alert(world: World) -> None:
    headers = add_curbside_gateway(world)
    created = register(
        world, "maria", {"kind": "ibeacon", "id": CAR_TAG_ID.upper(), "label": "car tag"}
    )
    assert created.status_code == 201  # type: ignore[attr-defined]
    config = world.client().get("/api/v1/gateways/gw-curbside/config", headers=headers).get_json()
    assert {"kind": "ibeacon", "id": CAR_TAG_ID} in config["registered"]
    assert config["entry_rssi_dbm"] == -70
    now = time.time()
    # The car rolls into the bay: its gateway is the nearest hearing it for a few seconds.
    hold = int(FusionParams().bay_arrival_s) + 1
    waiting = [{"seen_at": now - hold + i, "rssi": -58, "frame": CAR_TAG} for i in range(hold + 1)]
    body = {"batch_id": "curb-1", "sent_at": now, "observations": waiting}
    response = world.client().post(
        "/api/v1/gateways/gw-curbside/batches", json=body, headers=headers
    )
    assert response.get_json()["resolved"] == hold + 1
    [alert] = (
        world.client()
        .get(f"/api/v1/stores/{world.seed.store_id}/arrivals", headers=world.staff_headers())
        .get_json()["arrivals"]
    )
    assert (alert["first_name"], alert["where"]) == ("Maria", "curbside bay 1")
    assert alert["reasons"] == [
        {
            "signal": "customer_tag",
            "gateway": "gw-curbside",
            "beacon": None,
            "place": "bay-1",
            "rssi": -58,
            "detail": "car tag",
        }
    ]


def test_tags_are_validated_unique_and_removable(world: World) -> None:
    assert register(world, "maria", {"kind": "ibeacon", "id": "not-a-tag"}).status_code == 400  # type: ignore[attr-defined]
    tag = register(world, "maria", {"kind": "ibeacon", "id": CAR_TAG_ID})
    assert tag.status_code == 201  # type: ignore[attr-defined]
    taken = register(world, "leo", {"kind": "ibeacon", "id": CAR_TAG_ID})
    assert taken.status_code == 409  # type: ignore[attr-defined]
    tag_id = tag.get_json()["tag_id"]  # type: ignore[attr-defined]
    client = world.client()
    assert (
        client.delete(f"/api/v1/me/tags/{tag_id}", headers=world.device_headers("leo")).status_code
        == 404
    )
    assert (
        client.delete(
            f"/api/v1/me/tags/{tag_id}", headers=world.device_headers("maria")
        ).status_code
        == 200
    )
    assert (
        client.post("/api/v1/me/tags", json={"kind": "ibeacon", "id": CAR_TAG_ID}).status_code
        == 401
    )


def test_a_tag_id_no_frame_can_carry_is_refused(world: World) -> None:
    # Frames name a tag with 16-bit major and minor, written without leading zeros
    # (`registered_id()`): a tag registered otherwise would never be recognised.
    client, uuid = world.client(), CAR_TAG["uuid"]
    for identifier in (f"{uuid}:70000:1", f"{uuid}:007:1"):
        answer = client.post(
            "/api/v1/me/tags",
            json={"kind": "ibeacon", "id": identifier},
            headers=world.device_headers("maria"),
        )
        assert answer.status_code == 400, identifier
        assert answer.get_json()["error"]["code"] == "invalid_tag_id"


def test_an_unregistered_tag_names_nobody(world: World) -> None:
    headers = add_curbside_gateway(world)
    now = time.time()
    body = {
        "batch_id": "curb-2",
        "sent_at": now,
        "observations": [{"seen_at": now, "rssi": -50, "frame": CAR_TAG}],
    }
    response = world.client().post(
        "/api/v1/gateways/gw-curbside/batches", json=body, headers=headers
    )
    assert response.get_json()["resolved"] == 0
