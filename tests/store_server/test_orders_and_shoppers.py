"""Orders from the order system, the shopper's own API, and coupon redemption at the till."""

from __future__ import annotations

import io
import threading
import time
from typing import Any

from sqlalchemy import func, select

from store_server.db.models import Coupon, PickupOrder, Survey
from store_server.pickup.orders import import_orders_csv
from tests.store_server.conftest import World

ORDER = {
    "number": "2001",
    "status": "ready",
    "items": [{"sku": "SH-1", "name": "Sandals", "qty": 1}],
    "customer_email": "Leo@Example.com",
}


def put_order(
    world: World, external_id: str, body: dict[str, Any], token: str | None = None
) -> Any:
    token = token or world.seed.integration_token
    return world.client().put(
        f"/api/v1/stores/{world.seed.store_id}/orders/{external_id}",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    )


def order_count(world: World) -> int:
    with world.db.sessions() as session:
        return session.scalar(select(func.count()).select_from(PickupOrder)) or 0


def test_order_upsert_is_idempotent_and_matches_the_opted_in_shopper(world: World) -> None:
    before = order_count(world)
    created = put_order(world, "pos-2001", ORDER)
    assert created.status_code == 201
    assert created.get_json()["matched_to_shopper"] is True
    assert "customer_email" not in created.get_json()
    again = put_order(world, "pos-2001", ORDER)
    assert again.status_code == 200
    assert again.get_json() == created.get_json()
    assert order_count(world) == before + 1
    # Leo now has a ready order: his arrival raises an alert.
    assert [a["order_number"] for a in world.arrive("leo")] == ["2001"]
    # The order system still says "ready": the arrival is not undone.
    assert put_order(world, "pos-2001", ORDER).get_json()["status"] == "arrived"


def test_order_for_a_customer_who_did_not_opt_in_is_kept_unmatched(world: World) -> None:
    response = put_order(world, "pos-9", {**ORDER, "customer_email": "stranger@example.com"})
    assert response.status_code == 201
    assert response.get_json()["matched_to_shopper"] is False


def test_order_api_refuses_bad_tokens_and_bodies(world: World) -> None:
    assert put_order(world, "x", ORDER, token="nope").status_code == 401
    client = world.client()
    path = f"/api/v1/stores/{world.other_store_id}/orders/x"
    response = client.put(
        path, json=ORDER, headers={"Authorization": f"Bearer {world.seed.integration_token}"}
    )
    assert response.status_code == 403
    for bad in (
        {**ORDER, "status": "arrived"},
        {**ORDER, "items": []},
        {**ORDER, "items": [{"name": "x", "qty": 0}]},
        {**ORDER, "customer_email": "nope"},
    ):
        answer = put_order(world, "pos-bad", bad)
        assert answer.status_code == 400, bad
        assert answer.get_json()["error"]["code"] == "invalid_body"
    assert put_order(world, "x" * 65, ORDER).status_code == 400


def test_csv_import_is_all_or_nothing(world: World) -> None:
    good = (
        "external_id,number,status,customer_email,item_sku,item_name,item_qty\n"
        "csv-1,3001,ready,ana@example.com,A,Hat,1\n"
        "csv-1,3001,ready,ana@example.com,B,Gloves,2\n"
        "csv-2,3002,placed,,C,Umbrella,1\n"
    )
    before = order_count(world)
    with world.db.transaction() as session:
        result = import_orders_csv(session, world.seed.store_id, io.StringIO(good), time.time())
    assert (result.created, result.updated, result.errors) == (2, 0, [])
    assert order_count(world) == before + 2
    bad = good.replace("csv-2,3002,placed", "csv-3,3003,lost")
    with world.db.transaction() as session:
        result = import_orders_csv(session, world.seed.store_id, io.StringIO(bad), time.time())
    assert result.created == 0 and result.errors
    assert order_count(world) == before + 2
    with world.db.transaction() as session:
        missing = import_orders_csv(session, world.seed.store_id, io.StringIO("a,b\n1,2\n"), 1.0)
    assert missing.errors[0].startswith("missing columns")


def test_manual_checkin_at_a_bay_raises_one_alert(world: World) -> None:
    client = world.client()
    body = {"store_id": world.seed.store_id, "bay": "bay-1"}
    first = client.post("/api/v1/me/checkin", json=body, headers=world.device_headers("maria"))
    assert first.status_code == 200 and first.get_json()["alerts"] == 1
    again = client.post("/api/v1/me/checkin", json=body, headers=world.device_headers("maria"))
    assert again.get_json()["alerts"] == 0
    [alert] = client.get(
        f"/api/v1/stores/{world.seed.store_id}/arrivals", headers=world.staff_headers()
    ).get_json()["arrivals"]
    assert alert["where"] == "curbside bay 1"
    # The `entered` event's confidence and reasons: the shopper's word, through fusion.
    assert alert["confidence"] == 0.9
    assert alert["reasons"] == [
        {
            "signal": "check_in",
            "gateway": None,
            "beacon": None,
            "place": "bay-1",
            "rssi": None,
            "detail": None,
        }
    ]


def test_checkin_refuses_strangers_unknown_bays_and_stores_without_consent(world: World) -> None:
    client = world.client()
    body = {"store_id": world.seed.store_id}
    assert client.post("/api/v1/me/checkin", json=body).status_code == 401
    bad_bay = client.post(
        "/api/v1/me/checkin", json={**body, "bay": "dresses"}, headers=world.device_headers("maria")
    )
    assert bad_bay.status_code == 400 and bad_bay.get_json()["error"]["code"] == "unknown_bay"
    other = client.post(
        "/api/v1/me/checkin",
        json={"store_id": world.other_store_id},
        headers=world.device_headers("maria"),
    )
    assert other.status_code == 403 and other.get_json()["error"]["code"] == "no_consent"


def handed_over_coupon(world: World) -> str:
    [alert] = world.arrive("maria")
    response = world.client().post(
        f"/api/v1/stores/{world.seed.store_id}/alerts/{alert['alert_id']}/handover",
        headers=world.staff_headers(),
    )
    assert response.status_code == 200
    [coupon] = (
        world.client()
        .get("/api/v1/me/coupons", headers=world.device_headers("maria"))
        .get_json()["coupons"]
    )
    code: str = coupon["code"]
    return code


def redeem(world: World, code: str, headers: dict[str, str]) -> Any:
    return world.client().post(
        f"/api/v1/stores/{world.seed.store_id}/redemptions", json={"code": code}, headers=headers
    )


def test_coupon_redeems_once_and_says_why_not_afterwards(world: World) -> None:
    code = handed_over_coupon(world)
    headers = world.staff_headers()
    typed = f" {code[:5].lower()}-{code[5:]} "  # as a person might type it
    assert redeem(world, typed, headers).status_code == 200
    second = redeem(world, code, headers)
    assert second.status_code == 409 and second.get_json()["error"]["code"] == "already_redeemed"
    unknown = redeem(world, "ZZZZZZZZZZ", headers)
    assert unknown.status_code == 404
    assert redeem(world, code, world.staff_headers("kim@other.store")).status_code == 403


def test_expired_coupon_is_refused(world: World) -> None:
    code = handed_over_coupon(world)
    with world.db.transaction() as session:
        session.scalars(select(Coupon).where(Coupon.code == code)).one().expires_at = (
            time.time() - 1
        )
    response = redeem(world, code, world.staff_headers())
    assert response.status_code == 410 and response.get_json()["error"]["code"] == "expired"


def test_concurrent_redemptions_of_one_code_have_one_success(world: World) -> None:
    code = handed_over_coupon(world)
    headers = world.staff_headers()
    statuses: list[int] = []
    barrier = threading.Barrier(20)

    def till() -> None:
        client = world.client()
        barrier.wait()
        statuses.append(
            client.post(
                f"/api/v1/stores/{world.seed.store_id}/redemptions",
                json={"code": code},
                headers=headers,
            ).status_code
        )

    threads = [threading.Thread(target=till) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [409] * 19


def test_guessing_codes_is_rate_limited(world: World) -> None:
    headers = world.staff_headers()
    answers = [redeem(world, f"GUESS{i:05d}", headers).status_code for i in range(12)]
    assert answers[:10] == [404] * 10
    assert answers[10:] == [429, 429]


def test_survey_is_answered_once(world: World) -> None:
    handed_over_coupon(world)
    with world.db.sessions() as session:
        survey_id = session.scalars(select(Survey.id)).one()
    client = world.client()
    path = f"/api/v1/me/surveys/{survey_id}"
    assert (
        client.post(path, json={"score": 11}, headers=world.device_headers("maria")).status_code
        == 400
    )
    assert (
        client.post(
            path, json={"score": 9, "comment": "quick"}, headers=world.device_headers("maria")
        ).status_code
        == 200
    )
    twice = client.post(path, json={"score": 3}, headers=world.device_headers("maria"))
    assert twice.status_code == 409
    assert (
        client.post(path, json={"score": 3}, headers=world.device_headers("leo")).status_code == 404
    )
