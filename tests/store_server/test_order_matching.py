"""Matching real sign-ups to their orders: by the pickup e-mail or phone given at opt-in,
whichever comes first (the order or the shopper), and by the order's signed claim link."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from store_server.presence.identity import eddystone_eid
from tests.store_server.conftest import World, observation

ARRIVAL_ONLY = [{"purpose": "arrival", "channel": "app"}]


def join(world: World, first_name: str, store_id: int | None = None, **contact: Any) -> Any:
    """Opt in through the phone page's API with arrival consent only."""
    body = {
        "store_id": store_id or world.seed.store_id,
        "first_name": first_name,
        "consents": ARRIVAL_ONLY,
        **contact,
    }
    response = world.client().post("/api/v1/optin", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def push_order(world: World, external_id: str, number: str, **customer: Any) -> Any:
    """The order system pushes a ready order for this customer."""
    body = {"number": number, "status": "ready", "items": [{"name": "Lamp"}], **customer}
    response = world.client().put(
        f"/api/v1/stores/{world.seed.store_id}/orders/{external_id}",
        json=body,
        headers={"Authorization": f"Bearer {world.seed.integration_token}"},
    )
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()


def arrive(world: World, joined: dict[str, Any]) -> list[dict[str, Any]]:
    """Her phone is heard strongly at the entrance; returns the store's open arrivals."""
    key, exponent, now = (
        bytes.fromhex(joined["identity_key"]),
        joined["rotation_exponent"],
        time.time(),
    )
    heard = [
        observation(eddystone_eid(key, exponent, int(at)).hex(), -55, at) for at in (now - 1.0, now)
    ]
    assert world.upload("gw-entrance", heard).status_code == 202
    answer = world.client().get(
        f"/api/v1/stores/{world.seed.store_id}/arrivals", headers=world.staff_headers()
    )
    arrivals: list[dict[str, Any]] = answer.get_json()["arrivals"]
    return arrivals


def device(joined: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {joined['device_token']}"}


def claim(world: World, joined: dict[str, Any], url: str, store_id: int | None = None) -> Any:
    token = urlsplit(url).fragment.removeprefix("claim=")
    body = {"store_id": store_id or world.seed.store_id, "token": token}
    return world.client().post("/api/v1/me/claims", json=body, headers=device(joined))


def my_orders(world: World, joined: dict[str, Any]) -> list[str]:
    pickups = world.client().get("/api/v1/me/pickups", headers=device(joined)).get_json()
    return [p["order_number"] for p in pickups["pickups"]]


def test_arrival_only_shoppers_are_matched_whether_the_order_comes_before_or_after(
    world: World,
) -> None:
    # Nina's order is pushed before she joins (phone as the order system writes it).
    early = push_order(world, "pos-501", "501", customer_phone="0044 (7700) 900-501")
    assert early["matched_to_shopper"] is False
    nina = join(world, "Nina", pickup_phone="+447700900501")
    assert nina["orders_linked"] == 1
    # Ola joins first with her e-mail; her order comes after, the address written differently.
    ola = join(world, "Ola", pickup_email="ola@example.com")
    assert ola["orders_linked"] == 0
    late = push_order(world, "pos-502", "502", customer_email="  OLA@Example.com")
    assert late["matched_to_shopper"] is True
    assert my_orders(world, ola) == ["502"] and my_orders(world, nina) == ["501"]
    # Each arrival raises the staff tablet's alert for her order.
    assert [(a["first_name"], a["order_number"]) for a in arrive(world, ola)] == [("Ola", "502")]
    arrivals = arrive(world, nina)
    assert sorted((a["first_name"], a["order_number"]) for a in arrivals) == [
        ("Nina", "501"),
        ("Ola", "502"),
    ]
    # The order answer says it is matched now, and the order system's data stays its own.
    again = push_order(world, "pos-501", "501", customer_phone="+447700900501")
    assert again["matched_to_shopper"] is True and "customer_phone" not in again


def test_pickup_contact_needs_arrival_consent_and_a_real_number(world: World) -> None:
    client = world.client()
    offers_only = {
        "store_id": world.seed.store_id,
        "first_name": "Pia",
        "consents": [{"purpose": "offers", "channel": "app"}],
        "pickup_email": "pia@example.com",
    }
    refused = client.post("/api/v1/optin", json=offers_only)
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "arrival_consent_required"
    national = {**offers_only, "consents": ARRIVAL_ONLY, "pickup_email": None}
    national["pickup_phone"] = "07700 900123"
    refused = client.post("/api/v1/optin", json=national)
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "invalid_phone"
    bad_order = world.client().put(
        f"/api/v1/stores/{world.seed.store_id}/orders/pos-x",
        json={"number": "1", "status": "ready", "items": [{"name": "x"}], "customer_phone": "12"},
        headers={"Authorization": f"Bearer {world.seed.integration_token}"},
    )
    assert bad_order.status_code == 400 and bad_order.get_json()["error"]["code"] == "invalid_body"


def test_withdrawing_arrival_alerts_drops_the_pickup_contact(world: World) -> None:
    rae = join(world, "Rae", pickup_email="rae@example.com")
    me = world.client().get("/api/v1/me", headers=device(rae)).get_json()
    assert me["pickup_email"] == "rae@example.com"
    world.client().put(
        "/api/v1/me/consents",
        json={
            "store_id": world.seed.store_id,
            "consents": [{"purpose": "offers", "channel": "app"}],
        },
        headers=device(rae),
    )
    me = world.client().get("/api/v1/me", headers=device(rae)).get_json()
    assert me["pickup_email"] is None
    assert (
        push_order(world, "pos-9", "9", customer_email="rae@example.com")["matched_to_shopper"]
        is False
    )


def test_a_shopper_of_another_store_is_never_matched(world: World) -> None:
    # Uli joined the other store (B) with her e-mail; store A's order names the same address.
    uli = join(world, "Uli", store_id=world.other_store_id, pickup_email="uli@example.com")
    order = push_order(world, "pos-601", "601", customer_email="uli@example.com")
    assert order["matched_to_shopper"] is False
    assert my_orders(world, uli) == []
    # Joining store B after store A's order was pushed does not pull it in either.
    vic = join(world, "Vic", store_id=world.other_store_id, pickup_phone="+447700900602")
    push_order(world, "pos-602", "602", customer_phone="+447700900602")
    assert vic["orders_linked"] == 0 and my_orders(world, vic) == []


def test_two_shoppers_with_one_address_match_neither(world: World) -> None:
    join(world, "Wes", pickup_email="family@example.com")
    join(world, "Xia", pickup_email="family@example.com")
    order = push_order(world, "pos-603", "603", customer_email="family@example.com")
    assert order["matched_to_shopper"] is False  # the claim link decides


def test_checkin_says_when_no_order_is_linked(world: World) -> None:
    yan = join(world, "Yan")
    body = {"store_id": world.seed.store_id}
    answer = world.client().post("/api/v1/me/checkin", json=body, headers=device(yan))
    assert answer.status_code == 200
    assert (answer.get_json()["orders_linked"], answer.get_json()["alerts"]) == (0, 0)
    maria = world.client().post(
        "/api/v1/me/checkin", json=body, headers=world.device_headers("maria")
    )
    assert maria.get_json()["orders_linked"] == 1


def test_claim_link_attaches_the_order_once_and_to_one_phone(world: World) -> None:
    order = push_order(world, "pos-701", "701")  # no e-mail or phone: nobody to match
    url = order["claim_url"]
    assert url.startswith("http://localhost/app?store=") and "#claim=" in url
    assert "?" not in urlsplit(url).fragment
    zoe, ann = join(world, "Zoe"), join(world, "Ann")
    first = claim(world, zoe, url)
    assert first.status_code == 200, first.get_json()
    assert (first.get_json()["order_number"], first.get_json()["already_yours"]) == ("701", False)
    twice = claim(world, zoe, url)
    assert twice.status_code == 200 and twice.get_json()["already_yours"] is True
    taken = claim(world, ann, url)
    assert taken.status_code == 409 and taken.get_json()["error"]["code"] == "claim_taken"
    assert my_orders(world, zoe) == ["701"] and my_orders(world, ann) == []
    assert push_order(world, "pos-701", "701")["matched_to_shopper"] is True
    # An e-mail match later never moves a claimed order.
    join(world, "Bea", pickup_email="bea@example.com")
    push_order(world, "pos-701", "701", customer_email="bea@example.com")
    assert my_orders(world, zoe) == ["701"]
    # Her arrival now raises the alert for it.
    assert [a["order_number"] for a in arrive(world, zoe)] == ["701"]


def test_claim_links_that_are_forged_expired_or_for_another_store_attach_nothing(
    world: World,
) -> None:
    order = push_order(world, "pos-702", "702")
    url = order["claim_url"]
    cai = join(world, "Cai")
    store, order_id, expiry, mac = urlsplit(url).fragment.removeprefix("claim=").split(".")
    other_mac = mac[:-4] + ("AAAA" if not mac.endswith("AAAA") else "BBBB")
    for bad in (
        f"x#claim={store}.{order_id}.{expiry}.{other_mac}",  # a forged signature
        f"x#claim={store}.{int(order_id) + 1}.{expiry}.{mac}",  # another order
        f"x#claim={store}.{order_id}.{int(expiry) + 86400}.{mac}",  # a longer life
        "x#claim=junk",
    ):
        answer = claim(world, cai, bad)
        assert answer.status_code == 400 and answer.get_json()["error"]["code"] == "claim_invalid"
    other = claim(world, cai, url, store_id=world.other_store_id)
    assert other.status_code == 400 and other.get_json()["error"]["code"] == "claim_invalid"
    # A week and a second later the link is stale.
    world.clock.now = lambda: time.time() + 7 * 86400 + 1
    expired = claim(world, cai, url)
    assert expired.status_code == 410 and expired.get_json()["error"]["code"] == "claim_expired"
    world.clock.now = time.time
    assert my_orders(world, cai) == []
    # The same link is fine: nothing above attached it or used it up.
    assert claim(world, cai, url).status_code == 200


def test_a_link_signed_with_another_secret_is_refused(world: World) -> None:
    from store_server.pickup.matching import claim_token

    order = push_order(world, "pos-703", "703")
    token = claim_token(b"not-the-secret", world.seed.store_id, order["id"], time.time() + 60)
    dee = join(world, "Dee")
    answer = claim(world, dee, f"x#claim={token}")
    assert answer.status_code == 400 and answer.get_json()["error"]["code"] == "claim_invalid"
    assert my_orders(world, dee) == []
