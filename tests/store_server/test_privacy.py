"""Opt-in, consents, export and erasure: nothing without consent, and erasure really erases."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from store_server.db.models import Base, Shopper
from store_server.presence.identity import eddystone_eid
from tests.store_server.conftest import World, observation

OPT_IN = {
    "first_name": "Zoe",
    "timezone": "Europe/Paris",
    "consents": [{"purpose": "arrival", "channel": "app"}],
}


def opt_in(world: World, **changes: Any) -> Any:
    body = {**OPT_IN, "store_id": world.seed.store_id, **changes}
    return world.client().post("/api/v1/optin", json=body)


def test_opt_in_issues_a_key_that_resolves_at_once(world: World) -> None:
    response = opt_in(world)
    assert response.status_code == 201
    body = response.get_json()
    assert len(bytes.fromhex(body["identity_key"])) == 16
    now = time.time()
    eid = eddystone_eid(bytes.fromhex(body["identity_key"]), body["rotation_exponent"], int(now))
    answer = world.upload("gw-entrance", [observation(eid.hex(), -55, now)])
    assert answer.get_json()["resolved"] == 1
    me = (
        world.client()
        .get("/api/v1/me", headers={"Authorization": f"Bearer {body['device_token']}"})
        .get_json()
    )
    assert (me["first_name"], me["timezone"], me["email"]) == ("Zoe", "Europe/Paris", None)
    assert [(c["purpose"], c["channel"]) for c in me["consents"]] == [("arrival", "app")]


def test_opt_in_keeps_nothing_it_has_no_consent_for(world: World) -> None:
    assert opt_in(world, consents=[]).status_code == 400
    # An e-mail address without e-mail as a channel is not kept.
    body = opt_in(world, email="zoe@example.com").get_json()
    with world.db.sessions() as session:
        assert session.get(Shopper, body["shopper_id"]).email is None  # type: ignore[union-attr]
    needs = opt_in(world, consents=[{"purpose": "offers", "channel": "email"}])
    assert needs.status_code == 400 and needs.get_json()["error"]["code"] == "email_required"
    assert opt_in(world, timezone="Mars/Olympus").status_code == 400
    assert opt_in(world, store_id=999).status_code == 404


def test_withdrawing_arrival_consent_stops_detection(world: World) -> None:
    client = world.client()
    headers = world.device_headers("maria")
    response = client.put(
        "/api/v1/me/consents",
        headers=headers,
        json={
            "store_id": world.seed.store_id,
            "consents": [{"purpose": "offers", "channel": "app"}],
        },
    )
    assert response.status_code == 200
    assert world.arrive("maria") == []
    now = time.time()
    stored = world.upload("gw-entrance", [observation(world.eid_hex("maria", now), -50, now)])
    assert stored.get_json()["resolved"] == 0


def test_export_has_my_rows_and_no_keys(world: World) -> None:
    world.arrive("maria")
    response = world.client().get("/api/v1/me/export", headers=world.device_headers("maria"))
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    document = response.get_json()
    assert document["shoppers"][0]["first_name"] == "Maria"
    assert [o["number"] for o in document["pickup_orders"]] == ["1001"]
    assert len(document["visits"]) == 1 and document["observations"]
    assert "identity_key" not in str(document) and "token_sha256" not in str(document)


def every_row(world: World) -> list[tuple[str, dict[str, Any]]]:
    rows: list[tuple[str, dict[str, Any]]] = []
    with world.db.sessions() as session:
        for table in Base.metadata.sorted_tables:
            rows.extend((table.name, dict(r)) for r in session.execute(select(table)).mappings())
    return rows


def test_erasure_removes_every_row_that_names_the_shopper(world: World) -> None:
    client = world.client()
    headers = world.device_headers("maria")
    client.post(
        "/api/v1/me/tags",
        headers=headers,
        json={"kind": "ibeacon", "id": "e2c56db5-dffb-48d2-b060-d0f5a71096e0:7:1"},
    )
    [alert] = world.arrive("maria")
    client.post(
        f"/api/v1/stores/{world.seed.store_id}/alerts/{alert['alert_id']}/handover",
        headers=world.staff_headers(),
        json={"exchange": {"kind": "return", "note": "Maria's scarf"}},
    )
    with world.db.sessions() as session:
        maria_id = session.scalars(select(Shopper.id).where(Shopper.first_name == "Maria")).one()
    assert any(row.get("shopper_id") == maria_id for _, row in every_row(world))
    assert client.delete("/api/v1/me", headers=headers).status_code == 200

    for table, row in every_row(world):
        assert row.get("shopper_id") != maria_id, table
        assert not (table == "shoppers" and row["id"] == maria_id)
        text = " ".join(str(v) for v in row.values())
        assert "maria@example.com" not in text and "Maria" not in text, (table, row)
    # Her app and her phone are strangers now.
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    now = time.time()
    again = world.upload("gw-entrance", [observation(world.eid_hex("maria", now), -50, now)])
    assert again.get_json()["resolved"] == 0


def test_paused_detection_ignores_the_phone_until_it_resumes(world: World) -> None:
    client = world.client()
    headers = world.device_headers("maria")
    paused = client.post("/api/v1/me/pause", json={"minutes": 60}, headers=headers)
    assert paused.status_code == 200 and paused.get_json()["paused_until"] > time.time() + 3500
    assert world.arrive("maria") == []
    assert client.post("/api/v1/me/pause", json={"minutes": 0}, headers=headers).status_code == 200
    assert [a["first_name"] for a in world.arrive("maria")] == ["Maria"]
    assert (
        client.post("/api/v1/me/pause", json={"minutes": 5000}, headers=headers).status_code == 400
    )
