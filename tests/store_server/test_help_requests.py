"""Help on the floor: a shopper asks, every tablet of the store sees it; acknowledge (first
wins), escalate (by the sweep, once per level), close (a survey for the care score); bad input."""

from __future__ import annotations

from typing import Any

import pytest
from flask_socketio import SocketIOTestClient
from sqlalchemy import select

from store_server.db.models import HelpRequest
from store_server.sweep import sweep
from store_server.web.context import services
from store_server.web.realtime import room_of, socketio
from tests.store_server.conftest import World
from tests.store_server.test_pickup_lifecycle import events

MANAGER = "morgan@demo.store"


def ask(world: World, person: str = "leo", **body: Any) -> Any:
    return world.client().post(
        "/api/v1/me/help-requests",
        json={"store_id": world.seed.store_id, **body},
        headers=world.device_headers(person),
    )


def act(world: World, request_id: int, action: str, email: str = "sam@demo.store") -> Any:
    return world.client().post(
        f"/api/v1/stores/{world.seed.store_id}/help-requests/{request_id}/{action}",
        headers=world.staff_headers(email),
    )


def tablet(world: World, email: str = "sam@demo.store") -> SocketIOTestClient:
    client = socketio.test_client(world.app, auth={"token": world.login(email)["token"]})
    assert client.is_connected()
    world.pages.append(client)
    return client


def raised_at(world: World, request_id: int) -> float:
    with world.db.sessions() as session:
        row = session.get(HelpRequest, request_id)
        assert row is not None
        return row.raised_at


def test_a_shopper_not_in_the_store_is_helped_at_the_store_and_every_tablet_sees_it(
    world: World,
) -> None:
    sams, morgans = tablet(world), tablet(world, MANAGER)
    other_store = socketio.test_client(
        world.app, auth={"token": world.login("kim@other.store")["token"]}
    )
    world.pages.append(other_store)
    page = world.open_page("leo")
    first = ask(world)
    assert first.status_code == 201, first.get_json()
    mine = first.get_json()
    assert (mine["where"], mine["status"], mine["staff_on_the_way"]) == (
        "at the store",
        "raised",
        None,
    )
    assert (mine["store_phone"], mine["store_url"]) == (
        "+442079460000",
        "https://demo-store.example/help",
    )
    for staff in (sams, morgans):
        [seen] = events(staff, "help_request")
        assert seen["request_id"] == mine["request_id"]
        assert (seen["first_name"], seen["where"]) == ("Leo", "at the store")
    assert [m for m in other_store.get_received() if m["name"] == "help_request"] == []
    assert [e["status"] for e in events(page, "help_update")] == ["raised"]
    # A second tap (a reload, a double tap) returns the open request: never a duplicate.
    again = ask(world)
    assert again.status_code == 200 and again.get_json()["request_id"] == mine["request_id"]
    listed = world.client().get(
        f"/api/v1/stores/{world.seed.store_id}/help-requests", headers=world.staff_headers()
    )
    assert [r["request_id"] for r in listed.get_json()["help_requests"]] == [mine["request_id"]]
    own = world.client().get("/api/v1/me/help-requests", headers=world.device_headers("leo"))
    assert own.get_json()["help_requests"] == [mine]


def test_the_zone_is_hers_to_pick_or_comes_from_presence(world: World) -> None:
    picked = ask(world, "leo", zone="shoes")
    assert picked.status_code == 201 and picked.get_json()["where"] == "shoes"
    world.arrive("maria")  # heard at the entrance: presence places her at the front door
    placed = ask(world, "maria")
    assert placed.status_code == 201 and placed.get_json()["where"] == "front door"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"zone": "the moon"}, 400, "unknown_zone"),
        ({"zone": ""}, 400, None),
        ({"zone": "x" * 101}, 400, None),
        ({"zone": 7}, 400, None),
        ({"store_id": 0}, 400, None),
        ({"store_id": 2**31}, 400, None),
        ({"urgent": True}, 400, None),
        (None, 400, None),
    ],
)
def test_bad_asks_are_refused_with_the_one_error_shape(
    world: World, body: dict[str, Any] | None, status: int, code: str | None
) -> None:
    payload = None if body is None else {"store_id": world.seed.store_id, **body}
    response = world.client().post(
        "/api/v1/me/help-requests", json=payload, headers=world.device_headers("leo")
    )
    assert response.status_code == status
    error = response.get_json()["error"]
    assert set(error) >= {"code", "message"}
    if code is not None:
        assert error["code"] == code
    with world.db.sessions() as session:
        assert session.scalars(select(HelpRequest)).all() == []


def test_asking_needs_a_shopper_of_that_store(world: World) -> None:
    assert world.client().post("/api/v1/me/help-requests", json={"store_id": 1}).status_code == 401
    other = world.client().post(
        "/api/v1/me/help-requests",
        json={"store_id": world.other_store_id},
        headers=world.device_headers("leo"),
    )
    assert other.status_code == 403 and other.get_json()["error"]["code"] == "no_consent"


def test_acknowledge_on_two_tablets_first_wins_and_she_is_told_who_is_coming(
    world: World,
) -> None:
    sams, morgans = tablet(world), tablet(world, MANAGER)
    page = world.open_page("leo")
    request_id = ask(world).get_json()["request_id"]
    won = act(world, request_id, "acknowledge")
    assert won.status_code == 200 and won.get_json()["acknowledged_by"] == "Sam"
    lost = act(world, request_id, "acknowledge", MANAGER)
    assert lost.status_code == 409
    assert lost.get_json()["error"]["code"] == "already_acknowledged"
    assert lost.get_json()["error"]["details"]["acknowledged_by"] == "Sam"
    for staff in (sams, morgans):
        assert [e["status"] for e in events(staff, "help_updated")] == ["acknowledged"]
    coming = [e for e in events(page, "help_update") if e["status"] == "acknowledged"]
    assert coming and coming[0]["staff_on_the_way"] == "Sam"
    own = world.client().get("/api/v1/me/help-requests", headers=world.device_headers("leo"))
    assert own.get_json()["help_requests"][0]["staff_on_the_way"] == "Sam"
    # Other stores' staff cannot act on it, and unknown requests are 404s.
    assert act(world, request_id, "close", "kim@other.store").status_code == 403
    assert act(world, request_id + 1000, "acknowledge").status_code == 404


def test_unacknowledged_requests_escalate_to_managers_once_per_level(world: World) -> None:
    manager, staff = tablet(world, MANAGER), tablet(world)
    request_id = ask(world).get_json()["request_id"]
    at = raised_at(world, request_id)
    settings = services(world.app).settings
    assert sweep(world.db, settings, at + 119.9).help_escalated == 0
    first = sweep(world.db, settings, at + 120)
    assert first.help_escalated == 1
    store = world.seed.store_id
    assert [(name, room_of(audience)) for name, _, audience in first.events[:2]] == [
        ("help_escalated", f"store:{store}:managers"),
        ("help_updated", f"store:{store}:staff"),
    ]
    assert sweep(world.db, settings, at + 121).help_escalated == 0
    assert sweep(world.db, settings, at + 200).help_escalated == 0
    services(world.app).publisher.publish(first.events)
    assert [e["escalation_level"] for e in events(manager, "help_escalated")] == [1]
    assert [m for m in staff.get_received() if m["name"] == "help_escalated"] == []
    assert act(world, request_id, "acknowledge").status_code == 200
    assert sweep(world.db, settings, at + 400).help_escalated == 0  # acknowledged: never again


def test_stale_requests_expire_and_a_new_ask_opens_a_new_one(world: World) -> None:
    request_id = ask(world).get_json()["request_id"]
    settings = services(world.app).settings
    late = sweep(world.db, settings, raised_at(world, request_id) + settings.alert_expiry_s)
    assert late.help_expired == 1
    assert act(world, request_id, "close").get_json()["error"]["code"] == "help_expired"
    fresh = ask(world)
    assert fresh.status_code == 201 and fresh.get_json()["request_id"] != request_id


def test_closing_asks_the_survey_and_the_report_has_help_and_the_care_score(
    world: World,
) -> None:
    request_id = ask(world).get_json()["request_id"]
    assert act(world, request_id, "acknowledge").status_code == 200
    closed = act(world, request_id, "close")
    assert closed.status_code == 200 and closed.get_json()["status"] == "closed"
    assert act(world, request_id, "close").status_code == 409
    headers = world.device_headers("leo")
    assert world.client().get("/api/v1/me/help-requests", headers=headers).get_json() == {
        "help_requests": []
    }
    [survey] = world.client().get("/api/v1/me/surveys", headers=headers).get_json()["surveys"]
    answered = world.client().post(
        f"/api/v1/me/surveys/{survey['id']}", json={"score": 9}, headers=headers
    )
    assert answered.status_code == 200
    report = (
        world.client()
        .get(f"/api/v1/stores/{world.seed.store_id}/report", headers=world.staff_headers(MANAGER))
        .get_json()
    )
    figures = report["help_requests"]
    assert (figures["alerts"], figures["escalated"]) == (1, 0)
    assert figures["staff_response_p50_s"] is not None and figures["wait_p50_s"] is not None
    assert [(w["answers"], w["care_score"]) for w in report["care_score"]] == [(1, 1.0)]


def test_erasure_removes_her_help_requests(world: World) -> None:
    ask(world)
    assert world.client().delete("/api/v1/me", headers=world.device_headers("leo")).status_code
    with world.db.sessions() as session:
        assert session.scalars(select(HelpRequest)).all() == []
