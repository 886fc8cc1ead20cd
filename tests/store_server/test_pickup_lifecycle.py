"""The pickup alert lifecycle: acknowledge, hand over, escalate, expire; what must not happen."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from flask_socketio import SocketIOTestClient
from sqlalchemy import func, select

from store_server.db.models import Coupon, OrderExchange, PickupAlert, PickupOrder, Survey
from store_server.settings import StoreSettings
from store_server.sweep import sweep
from store_server.web.context import services
from store_server.web.realtime import room_of, socketio
from tests.store_server.conftest import World
from tests.support.polling import wait_until


def events(client: SocketIOTestClient, name: str, deadline_s: float = 5.0) -> list[Any]:
    """Poll until at least one `name` event arrived or the deadline passed."""
    return wait_until(
        lambda: [m["args"][0] for m in client.get_received() if m["name"] == name],
        deadline_s,
        0.02,
    )


def url(world: World, alert_id: int, action: str, store_id: int | None = None) -> str:
    return f"/api/v1/stores/{store_id or world.seed.store_id}/alerts/{alert_id}/{action}"


def test_acknowledge_tells_staff_and_the_shopper_who_is_coming(world: World) -> None:
    shopper = socketio.test_client(
        world.app, auth={"device_token": world.seed.device_tokens["maria"]}
    )
    tablet = socketio.test_client(world.app, auth={"token": world.login()["token"]})
    assert shopper.is_connected() and tablet.is_connected()
    [alert] = world.arrive("maria")
    response = world.client().post(
        url(world, alert["alert_id"], "acknowledge"), headers=world.staff_headers()
    )
    assert response.status_code == 200
    assert response.get_json()["status"] == "acknowledged"
    assert response.get_json()["acknowledged_by"] == "Sam"
    [update] = events(shopper, "pickup_update")
    assert update == {"order_number": "1001", "status": "on_the_way", "staff_first_name": "Sam"}
    assert [e["status"] for e in events(tablet, "alert_updated")] == ["acknowledged"]
    mine = world.client().get("/api/v1/me/pickups", headers=world.device_headers("maria"))
    assert mine.get_json()["pickups"][0]["staff_on_the_way"] == "Sam"


def test_second_acknowledgement_is_told_who_went(world: World) -> None:
    [alert] = world.arrive("maria")
    client = world.client()
    assert (
        client.post(
            url(world, alert["alert_id"], "acknowledge"), headers=world.staff_headers()
        ).status_code
        == 200
    )
    late = client.post(
        url(world, alert["alert_id"], "acknowledge"),
        headers=world.staff_headers("morgan@demo.store"),
    )
    assert late.status_code == 409
    assert late.get_json()["error"]["code"] == "already_acknowledged"
    assert late.get_json()["error"]["details"]["acknowledged_by"] == "Sam"


def test_simultaneous_acknowledgements_have_exactly_one_winner(world: World) -> None:
    [alert] = world.arrive("maria")
    headers = [world.staff_headers("sam@demo.store"), world.staff_headers("morgan@demo.store")] * 4
    statuses: list[int] = []
    barrier = threading.Barrier(len(headers))

    def tap(h: dict[str, str]) -> None:
        client = world.client()
        barrier.wait()
        statuses.append(
            client.post(url(world, alert["alert_id"], "acknowledge"), headers=h).status_code
        )

    threads = [threading.Thread(target=tap, args=(h,)) for h in headers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [409] * (len(headers) - 1)


def test_other_stores_staff_and_stale_sessions_change_nothing(world: World) -> None:
    [alert] = world.arrive("maria")
    client = world.client()
    kim = world.staff_headers("kim@other.store")
    assert client.post(url(world, alert["alert_id"], "acknowledge"), headers=kim).status_code == 403
    other = client.post(
        url(world, alert["alert_id"], "acknowledge", world.other_store_id), headers=kim
    )
    assert other.status_code == 404
    stale = {"Authorization": "Bearer logged-out-long-ago"}
    assert (
        client.post(url(world, alert["alert_id"], "acknowledge"), headers=stale).status_code == 401
    )
    assert client.post(url(world, alert["alert_id"], "handover"), headers=stale).status_code == 401
    with world.db.sessions() as session:
        assert session.get(PickupAlert, alert["alert_id"]).status == "raised"  # type: ignore[union-attr]


def test_handover_thanks_the_shopper_with_a_coupon_and_a_survey(world: World) -> None:
    shopper = socketio.test_client(
        world.app, auth={"device_token": world.seed.device_tokens["maria"]}
    )
    [alert] = world.arrive("maria")
    response = world.client().post(
        url(world, alert["alert_id"], "handover"),
        headers=world.staff_headers(),
        json={
            "exchange": {
                "kind": "exchange",
                "items": [{"name": "Silk scarf", "qty": 1}],
                "note": "swapped for blue",
            }
        },
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "handed_over"
    [thanks] = [e for e in events(shopper, "pickup_update") if e["status"] == "handed_over"]
    assert thanks["coupon"]["percent_off"] == 10
    assert thanks["coupon"]["expires_at"] > time.time() + 29 * 86400
    assert 0 <= thanks["survey"]["id"]
    with world.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Coupon)) == 1
        assert session.scalar(select(func.count()).select_from(Survey)) == 1
        assert session.scalar(select(func.count()).select_from(OrderExchange)) == 1
        order = session.scalars(select(PickupOrder).where(PickupOrder.number == "1001")).one()
        assert order.status == "handed_over"
    arrivals = (
        world.client()
        .get(f"/api/v1/stores/{world.seed.store_id}/arrivals", headers=world.staff_headers())
        .get_json()["arrivals"]
    )
    assert arrivals == []
    again = world.client().post(
        url(world, alert["alert_id"], "handover"), headers=world.staff_headers()
    )
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "alert_handed_over"


def test_handing_over_a_cancelled_order_is_refused_and_changes_nothing(world: World) -> None:
    [alert] = world.arrive("maria")
    with world.db.transaction() as session:
        session.scalars(
            select(PickupOrder).where(PickupOrder.number == "1001")
        ).one().status = "cancelled"
    response = world.client().post(
        url(world, alert["alert_id"], "handover"), headers=world.staff_headers()
    )
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "order_cancelled"
    with world.db.sessions() as session:
        assert session.get(PickupAlert, alert["alert_id"]).status == "raised"  # type: ignore[union-attr]
        assert session.scalar(select(func.count()).select_from(Coupon)) == 0


def settings_for(world: World) -> StoreSettings:
    return services(world.app).settings


def test_escalation_happens_at_the_limit_not_before_and_exactly_once(world: World) -> None:
    manager = socketio.test_client(
        world.app, auth={"token": world.login("morgan@demo.store")["token"]}
    )
    staff = socketio.test_client(world.app, auth={"token": world.login()["token"]})
    t0 = time.time()
    [alert] = world.arrive("maria", at=t0)
    raised_at = alert["arrived_at"]
    with world.db.sessions() as session:
        raised_at = session.get(PickupAlert, alert["alert_id"]).raised_at  # type: ignore[union-attr]
    settings = settings_for(world)
    assert sweep(world.db, settings, raised_at + 119.9).escalated == 0
    first = sweep(world.db, settings, raised_at + 120)
    assert first.escalated == 1
    assert [(name, room_of(audience)) for name, _, audience in first.events] == [
        ("alert_escalated", f"store:{world.seed.store_id}:managers"),
        ("alert_updated", f"store:{world.seed.store_id}:staff"),
    ]
    assert sweep(world.db, settings, raised_at + 121).escalated == 0
    assert sweep(world.db, settings, raised_at + 200).escalated == 0
    second = sweep(world.db, settings, raised_at + 300)
    assert second.escalated == 1 and second.events[0][1]["escalation_level"] == 2
    assert sweep(world.db, settings, raised_at + 1000).escalated == 0
    # Through the real emitter: only managers hear escalations.
    services(world.app).publisher.publish(first.events)
    assert [e["escalation_level"] for e in events(manager, "alert_escalated")] == [1]
    assert [m for m in staff.get_received() if m["name"] == "alert_escalated"] == []


def test_late_sweep_still_escalates_once_and_acknowledged_alerts_never(world: World) -> None:
    [maria] = world.arrive("maria")
    with world.db.sessions() as session:
        raised_at = session.get(PickupAlert, maria["alert_id"]).raised_at  # type: ignore[union-attr]
    late = sweep(world.db, settings_for(world), raised_at + 400)  # the scheduler was asleep
    assert late.escalated == 1 and late.events[0][1]["escalation_level"] == 2
    world.client().post(url(world, maria["alert_id"], "acknowledge"), headers=world.staff_headers())
    assert sweep(world.db, settings_for(world), raised_at + 500).escalated == 0


def test_open_alerts_expire_after_an_hour(world: World) -> None:
    [alert] = world.arrive("maria")
    with world.db.sessions() as session:
        raised_at = session.get(PickupAlert, alert["alert_id"]).raised_at  # type: ignore[union-attr]
    settings = settings_for(world)
    assert sweep(world.db, settings, raised_at + settings.alert_expiry_s - 1).expired == 0
    result = sweep(world.db, settings, raised_at + settings.alert_expiry_s)
    assert result.expired == 1 and result.events[0][1]["status"] == "expired"
    assert sweep(world.db, settings, raised_at + settings.alert_expiry_s + 5).expired == 0


def test_exchanges_are_recorded_against_the_stores_orders_only(world: World) -> None:
    with world.db.sessions() as session:
        order_id = session.scalars(select(PickupOrder.id).where(PickupOrder.number == "1001")).one()
    client = world.client()
    body = {"kind": "return", "items": [{"name": "Silk scarf"}], "note": "too small"}
    path = f"/api/v1/stores/{world.seed.store_id}/orders/{order_id}/exchanges"
    assert client.post(path, json=body, headers=world.staff_headers()).status_code == 201
    assert (
        client.post(path, json={"kind": "swap"}, headers=world.staff_headers()).status_code == 400
    )
    other = f"/api/v1/stores/{world.other_store_id}/orders/{order_id}/exchanges"
    assert (
        client.post(other, json=body, headers=world.staff_headers("kim@other.store")).status_code
        == 404
    )


@pytest.mark.parametrize("person", ["leo", "ana"])
def test_arrival_without_a_ready_order_raises_nothing(world: World, person: str) -> None:
    assert world.arrive(person) == []
