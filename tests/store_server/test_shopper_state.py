"""What the phone page fetches to redraw itself: pickups with who is coming, unanswered
surveys, and the pause it can resume."""

from __future__ import annotations

import time
from typing import Any

import pytest

from store_server.pickup.lifecycle import first_name
from store_server.shoppers.pickups import RECENT_HANDOVER_S, pickup_stage
from tests.store_server.conftest import World


def alert_url(world: World, alert_id: int, action: str) -> str:
    return f"/api/v1/stores/{world.seed.store_id}/alerts/{alert_id}/{action}"


def my(world: World, what: str, person: str = "maria") -> Any:
    path = f"/api/v1/me/{what}" if what else "/api/v1/me"
    response = world.client().get(path, headers=world.device_headers(person))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def stages(world: World) -> list[tuple[str, str, str | None]]:
    return [
        (p["order_number"], p["stage"], p["staff_on_the_way"])
        for p in my(world, "pickups")["pickups"]
    ]


def test_pickups_follow_the_order_from_ready_to_handed_over_one_entry_each(world: World) -> None:
    assert stages(world) == [("1001", "ready", None)]
    [alert] = world.arrive("maria")
    assert stages(world) == [("1001", "arrived", None)]
    staff = world.staff_headers()
    client = world.client()
    assert (
        client.post(alert_url(world, alert["alert_id"], "acknowledge"), headers=staff).status_code
        == 200
    )
    assert stages(world) == [("1001", "on_the_way", "Sam")]
    assert (
        client.post(alert_url(world, alert["alert_id"], "handover"), headers=staff).status_code
        == 200
    )
    [handed] = my(world, "pickups")["pickups"]
    assert (handed["stage"], handed["status"], handed["staff_on_the_way"]) == (
        "handed_over",
        "handed_over",
        None,
    )
    assert handed["handed_over_at"] == pytest.approx(time.time(), abs=60)
    # A day later the handed-over order has left the page.
    later = handed["handed_over_at"] + RECENT_HANDOVER_S + 1
    world.clock.now = lambda: later
    assert my(world, "pickups")["pickups"] == []


def test_surveys_lists_the_unanswered_one_until_it_is_answered(world: World) -> None:
    assert my(world, "surveys") == {"surveys": []}
    [alert] = world.arrive("maria")
    staff = world.staff_headers()
    client = world.client()
    client.post(alert_url(world, alert["alert_id"], "acknowledge"), headers=staff)
    assert (
        client.post(alert_url(world, alert["alert_id"], "handover"), headers=staff).status_code
        == 200
    )
    [survey] = my(world, "surveys")["surveys"]
    assert survey["order_number"] == "1001"
    assert survey["store_id"] == world.seed.store_id
    assert "recommend us" in survey["question"]
    assert my(world, "surveys")["surveys"] == [survey]  # asking again changes nothing
    assert my(world, "surveys", person="leo") == {"surveys": []}  # nobody else's
    answered = client.post(
        f"/api/v1/me/surveys/{survey['id']}",
        json={"score": 9},
        headers=world.device_headers("maria"),
    )
    assert answered.status_code == 200
    assert my(world, "surveys") == {"surveys": []}


def test_surveys_and_pickups_need_the_device_token(world: World) -> None:
    for what in ("surveys", "pickups"):
        response = world.client().get(
            f"/api/v1/me/{what}", headers={"Authorization": "Bearer nope"}
        )
        assert response.status_code == 401
        assert set(response.get_json()["error"]) == {"code", "message", "details"}


def test_a_pause_shows_in_the_profile_and_minutes_zero_resumes(world: World) -> None:
    headers = world.device_headers("maria")
    client = world.client()
    assert my(world, "")["detection_paused_until"] is None
    paused = client.post("/api/v1/me/pause", json={"minutes": 60}, headers=headers).get_json()
    assert my(world, "")["detection_paused_until"] == paused["paused_until"]
    resumed = client.post("/api/v1/me/pause", json={"minutes": 0}, headers=headers)
    assert resumed.get_json() == {"paused_until": None}
    assert my(world, "")["detection_paused_until"] is None
    client.post("/api/v1/me/pause", json={"minutes": 1}, headers=headers)
    over = time.time() + 120
    world.clock.now = lambda: over
    assert my(world, "")["detection_paused_until"] is None  # a pause that ran out is over


@pytest.mark.parametrize("body", [{"minutes": -1}, {"minutes": 24 * 60 + 1}, {"minutes": "soon"}])
def test_a_bad_pause_is_a_400_in_the_one_error_shape(world: World, body: dict[str, Any]) -> None:
    response = world.client().post(
        "/api/v1/me/pause", json=body, headers=world.device_headers("maria")
    )
    assert response.status_code == 400
    assert set(response.get_json()["error"]) == {"code", "message", "details"}


def test_offers_go_off_and_on_per_channel_and_arrival_alerts_come_back(world: World) -> None:
    headers = world.device_headers("maria")
    store = world.seed.store_id

    def put(consents: list[tuple[str, str]]) -> Any:
        body = {"store_id": store, "consents": [{"purpose": p, "channel": c} for p, c in consents]}
        return world.client().put("/api/v1/me/consents", json=body, headers=headers)

    def mine() -> set[tuple[str, str]]:
        return {
            (c["purpose"], c["channel"])
            for c in my(world, "")["consents"]
            if c["store_id"] == store
        }

    assert put([("arrival", "app")]).status_code == 200
    assert mine() == {("arrival", "app")}
    assert put([("arrival", "app"), ("offers", "app")]).status_code == 200
    assert mine() == {("arrival", "app"), ("offers", "app")}
    assert put([("offers", "app")]).status_code == 200  # "Stop arrival alerts"
    assert mine() == {("offers", "app")}
    assert put([("offers", "app"), ("arrival", "app")]).status_code == 200  # and back on
    assert mine() == {("arrival", "app"), ("offers", "app")}


def test_stage_and_first_name_rules() -> None:
    assert pickup_stage("placed", None) == "preparing"
    assert pickup_stage("ready", None) == "ready"
    assert pickup_stage("arrived", "Sam") == "on_the_way"
    assert pickup_stage("handed_over", "Sam") == "handed_over"
    assert first_name("Sam Okafor") == "Sam"
    assert first_name("Sam") == "Sam"
