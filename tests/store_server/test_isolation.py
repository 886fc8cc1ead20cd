"""Nothing crosses from one store or shopper to another: the probes of issue 17, item 1."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from store_server.db.models import Shopper
from store_server.web.realtime import connections, shopper_room, socketio
from tests.store_server.conftest import World
from tests.support.polling import wait_until

EMAIL_CONSENTS = [
    {"purpose": "offers", "channel": "email"},
    {"purpose": "arrival", "channel": "app"},
]


def join(world: World, first_name: str, store_id: int, **contact: Any) -> Any:
    """Opt in through the public API; returns the whole test response."""
    body = {"store_id": store_id, "first_name": first_name, "consents": EMAIL_CONSENTS, **contact}
    return world.client().post("/api/v1/optin", json=body)


def set_attributes(world: World, email: str) -> Any:
    """Store A's order system sets a customer's attributes."""
    return world.client().put(
        f"/api/v1/stores/{world.seed.store_id}/customers/attributes",
        json={"customer_email": email, "attributes": {"tier": "gold"}},
        headers={"Authorization": f"Bearer {world.seed.integration_token}"},
    )


def attributes_of(world: World, email: str) -> Any:
    with world.db.sessions() as session:
        return session.scalars(select(Shopper.attributes).where(Shopper.email == email)).one()


def test_store_a_neither_changes_nor_learns_of_a_shopper_only_of_store_b(world: World) -> None:
    assert join(world, "Bea", world.other_store_id, email="bea@example.com").status_code == 201
    answer = set_attributes(world, "Bea@Example.com")
    unknown = set_attributes(world, "nobody@example.com")
    assert (answer.status_code, answer.get_json()) == (200, {"matched": False})
    assert (unknown.status_code, unknown.get_json()) == (200, {"matched": False})
    assert attributes_of(world, "bea@example.com") is None
    # Once she joins store A too, store A's system reaches her.
    assert join(world, "Bea", world.seed.store_id, email="bea2@example.com").status_code == 201
    assert set_attributes(world, "bea2@example.com").get_json() == {"matched": True}


def test_opt_in_with_a_registered_address_answers_like_a_fresh_one(world: World) -> None:
    first = join(world, "Ann", world.seed.store_id, email="ann@example.com")
    taken = join(world, "Eve", world.seed.store_id, email="ANN@example.com")
    fresh = join(world, "Fay", world.seed.store_id, email="fay@example.com")
    assert first.status_code == taken.status_code == fresh.status_code == 201
    assert set(taken.get_json()) == set(fresh.get_json())
    assert taken.get_json()["orders_linked"] == fresh.get_json()["orders_linked"] == 0
    eve = {"Authorization": f"Bearer {taken.get_json()['device_token']}"}
    fay = {"Authorization": f"Bearer {fresh.get_json()['device_token']}"}
    # Her own pages show the address she typed, just as a fresh joiner's do.
    assert world.client().get("/api/v1/me", headers=eve).get_json()["email"] == "ann@example.com"
    assert world.client().get("/api/v1/me", headers=fay).get_json()["email"] == "fay@example.com"
    export = world.client().get("/api/v1/me/export", headers=eve).get_json()
    fresh_export = world.client().get("/api/v1/me/export", headers=fay).get_json()
    assert export["shoppers"][0]["email"] == "ann@example.com"
    assert set(export["shoppers"][0]) == set(fresh_export["shoppers"][0])
    consents = {"store_id": world.seed.store_id, "consents": EMAIL_CONSENTS}
    assert world.client().put("/api/v1/me/consents", json=consents, headers=eve).status_code == 200
    # But the address stays Ann's: nothing of Eve's is ever sent to it.
    with world.db.sessions() as session:
        owners = session.scalars(select(Shopper.first_name).where(Shopper.email.is_not(None)))
        assert "Eve" not in list(owners)


def test_an_erased_shoppers_page_is_disconnected_and_hears_nothing(world: World) -> None:
    page = world.open_page("maria")
    maria_id = world.client().get("/api/v1/me", headers=world.device_headers("maria"))
    shopper_id = maria_id.get_json()["shopper_id"]
    erased = world.client().delete("/api/v1/me", headers=world.device_headers("maria"))
    assert erased.status_code == 200
    assert wait_until(lambda: not page.is_connected(), 5.0, 0.02)
    # Her room is empty in the server, so anything still addressed to it reaches no one.
    room = shopper_room(shopper_id)
    assert list(socketio.server.manager.get_participants("/", room)) == []
    assert not connections.is_connected(shopper_id)
    # Her token is gone, so her page cannot join again.
    again = socketio.test_client(
        world.app, auth={"device_token": world.seed.device_tokens["maria"]}
    )
    assert not again.is_connected()


def test_withdrawing_every_consent_disconnects_the_page(world: World) -> None:
    page = world.open_page("leo")
    headers = world.device_headers("leo")
    stores = {
        c["store_id"]
        for c in world.client().get("/api/v1/me", headers=headers).get_json()["consents"]
    }
    for store_id in stores:
        answer = world.client().put(
            "/api/v1/me/consents", json={"store_id": store_id, "consents": []}, headers=headers
        )
        assert answer.status_code == 200
    assert wait_until(lambda: not page.is_connected(), 5.0, 0.02)
    again = socketio.test_client(world.app, auth={"device_token": world.seed.device_tokens["leo"]})
    assert not again.is_connected()


def test_a_new_shopper_never_gets_an_erased_ones_id(world: World) -> None:
    first = join(world, "Gus", world.seed.store_id, email="gus@example.com").get_json()
    headers = {"Authorization": f"Bearer {first['device_token']}"}
    assert world.client().delete("/api/v1/me", headers=headers).status_code == 200
    second = join(world, "Hal", world.seed.store_id, email="hal@example.com").get_json()
    assert second["shopper_id"] > first["shopper_id"]


def test_an_unsubscribe_that_leaves_no_consent_disconnects_the_page(world: World) -> None:
    consents = [{"purpose": "offers", "channel": "email"}]
    body = {"store_id": world.seed.store_id, "first_name": "Uma", "consents": consents}
    joined = world.client().post("/api/v1/optin", json={**body, "email": "uma@example.com"})
    shopper_id, device_token = joined.get_json()["shopper_id"], joined.get_json()["device_token"]
    with world.db.transaction() as session:
        uma = session.get(Shopper, shopper_id)
        assert uma is not None
        uma.unsubscribe_token = "uma-unsubscribe-token"
    page = socketio.test_client(world.app, auth={"device_token": device_token})
    assert page.is_connected()
    done = world.client().post("/u/uma-unsubscribe-token", data={})
    assert done.status_code == 200
    assert wait_until(lambda: not page.is_connected(), 5.0, 0.02)
    assert list(socketio.server.manager.get_participants("/", shopper_room(shopper_id))) == []
