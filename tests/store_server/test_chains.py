"""A chain nobody can cross (issue 17, item 1): stores of a chain, staff and managers scoped to
their stores, admins to their chain, shoppers to their chain.

The world's demo store and "Other Store" are each of a chain of their own; the tests add a
second store to the demo store's chain and the accounts they need.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from store_server.accounts.auth import StaffIdentity, hash_password, may_act
from store_server.accounts.staff import add_staff
from store_server.accounts.stores import create_store
from store_server.db.models import Chain as ChainRow
from store_server.db.models import Shopper, StaffStore, StaffUser, Store
from store_server.problems import DomainError
from store_server.vocabulary import StaffRole
from store_server.web.limits import LOGIN_FAILURES_PER_ACCOUNT
from store_server.web.openapi import api_operations
from store_server.web.realtime import socketio
from tests.store_server.conftest import World
from tests.support.polling import wait_until

PASSWORD = "a password for tests"
NO_STORE = 2**31 - 1  # a store id nothing has
FORBIDDEN = {"code": "forbidden", "message": "this account is not one of this store's"}


@dataclass(frozen=True)
class Chain:
    """The demo store's chain with a second store, and one account of each kind."""

    store_a: int
    store_a2: int
    other_chain_store: int


def chain_world(world: World) -> Chain:
    """Add Station Road to the demo store's chain; a manager of both stores, a manager of
    Station Road only, an admin of the chain."""
    with world.db.transaction() as session:
        demo = session.get(Store, world.seed.store_id)
        assert demo is not None
        chain = session.get(ChainRow, demo.chain_id)
        assert chain is not None and chain.name == demo.name  # made with it, named after it
        second = create_store(session, "Station Road", "UTC", "GBP", chain=chain.name)
        assert second.chain_id == demo.chain_id
        add_staff(
            session, [world.seed.store_id, second.id], "two@a.chain", "Two", "manager", PASSWORD
        )
        add_staff(session, [second.id], "one@a.chain", "One", "manager", PASSWORD)
        add_staff(session, [], "ada@a.chain", "Ada", "admin", PASSWORD, chain_id=second.chain_id)
        store_a2 = second.id
    return Chain(world.seed.store_id, store_a2, world.other_store_id)


def bearer(world: World, email: str, password: str = PASSWORD) -> dict[str, str]:
    """Authorization headers of a fresh session of this account."""
    return {"Authorization": f"Bearer {world.login(email, password)['token']}"}


def error_of(answer: Any) -> tuple[int, dict[str, Any]]:
    """The status and the error body (without details) of a refused request."""
    body = answer.get_json()
    assert set(body) == {"error"}, body
    return answer.status_code, {k: body["error"][k] for k in ("code", "message")}


# What each role may do at a store: a staff read, a manager read, a manager write.
PROBES = [
    ("get", "/arrivals", None),
    ("get", "/settings", None),
    ("get", "/staff", None),
    ("get", "/report", None),
    ("post", "/staff", {"email": "x@y.z", "name": "X", "role": "staff", "password": PASSWORD}),
]


def test_every_role_is_refused_alike_at_a_store_not_its_own_or_at_none(world: World) -> None:
    chain = chain_world(world)
    accounts = {
        "staff": bearer(world, "sam@demo.store", world.password("sam@demo.store")),
        "manager": bearer(world, "morgan@demo.store", world.password("morgan@demo.store")),
        "manager of Station Road": bearer(world, "one@a.chain"),
        "admin": bearer(world, "ada@a.chain"),
    }
    # Not theirs: the other chain's store for everyone, a store of no one, and for a manager of
    # Station Road only, the demo store of her own chain.
    outside = {name: [chain.other_chain_store, NO_STORE] for name in accounts}
    outside["manager of Station Road"].append(chain.store_a)
    outside["staff"].append(chain.store_a2)
    refused = 0
    for name, headers in accounts.items():
        for store_id in outside[name]:
            for method, path, body in PROBES:
                url = f"/api/v1/stores/{store_id}{path}"
                answer = getattr(world.client(), method)(url, json=body, headers=headers)
                assert error_of(answer) == (403, FORBIDDEN), (name, store_id, path)
                refused += 1
    assert refused == 10 * len(PROBES)  # 50 attempts, every one refused alike
    with world.db.sessions() as session:
        assert session.scalar(select(StaffUser.id).where(StaffUser.email == "x@y.z")) is None


def test_an_integration_token_is_refused_alike_at_another_store_or_at_none(world: World) -> None:
    chain = chain_world(world)
    headers = {"Authorization": f"Bearer {world.seed.integration_token}"}
    body = {"customer_email": "a@b.c", "attributes": {"tier": "gold"}}
    answers = [
        world.client().put(
            f"/api/v1/stores/{store_id}/customers/attributes", json=body, headers=headers
        )
        for store_id in (chain.store_a2, chain.other_chain_store, NO_STORE)
    ]
    refused = (403, {"code": "forbidden", "message": "this token is not for this store"})
    assert [error_of(a) for a in answers] == [refused] * 3


def test_a_staffer_of_the_store_is_refused_a_managers_work(world: World) -> None:
    headers = bearer(world, "sam@demo.store", world.password("sam@demo.store"))
    answer = world.client().get(f"/api/v1/stores/{world.seed.store_id}/settings", headers=headers)
    assert error_of(answer)[0:1] == (403,)
    assert error_of(answer)[1]["code"] == "managers_only"


def test_a_manager_of_two_stores_sees_both_and_switches(world: World) -> None:
    chain = chain_world(world)
    login = world.login("two@a.chain", PASSWORD)
    assert sorted(s["id"] for s in login["staff"]["stores"]) == sorted(
        [chain.store_a, chain.store_a2]
    )
    headers = {"Authorization": f"Bearer {login['token']}"}
    for store_id in (chain.store_a, chain.store_a2):
        settings = world.client().get(f"/api/v1/stores/{store_id}/settings", headers=headers)
        assert (settings.status_code, settings.get_json()["id"]) == (200, store_id)
    # Her tablet joins the store she picks, and only one of hers.
    tablet = socketio.test_client(
        world.app, auth={"token": login["token"], "store_id": chain.store_a2}
    )
    assert tablet.is_connected()
    tablet.disconnect()
    not_hers: tuple[int | str, ...] = (chain.other_chain_store, NO_STORE, str(chain.store_a))
    for chosen in not_hers:
        refused = socketio.test_client(
            world.app, auth={"token": login["token"], "store_id": chosen}
        )
        assert not refused.is_connected()


def test_an_admin_has_every_store_of_her_chain_and_none_of_another(world: World) -> None:
    chain = chain_world(world)
    login = world.login("ada@a.chain", PASSWORD)
    assert sorted(s["id"] for s in login["staff"]["stores"]) == sorted(
        [chain.store_a, chain.store_a2]
    )
    headers = {"Authorization": f"Bearer {login['token']}"}
    for store_id in (chain.store_a, chain.store_a2):
        for method, path, body in PROBES[:4]:
            answer = getattr(world.client(), method)(
                f"/api/v1/stores/{store_id}{path}", json=body, headers=headers
            )
            assert answer.status_code == 200, (store_id, path, answer.get_json())
    # The staff accounts of every store of the chain: she adds one at Station Road, and an admin.
    for role in ("staff", "admin"):
        account = {"email": f"{role}@new.one", "name": "New", "role": role, "password": PASSWORD}
        added = world.client().post(
            f"/api/v1/stores/{chain.store_a2}/staff", json=account, headers=headers
        )
        assert (added.status_code, added.get_json()["role"]) == (201, role)
    listed = world.client().get(f"/api/v1/stores/{chain.store_a2}/staff", headers=headers)
    assert "staff@new.one" in {a["email"] for a in listed.get_json()["staff"]}
    # The new admin is of this chain too.
    assert sorted(
        s["id"] for s in world.login("admin@new.one", PASSWORD)["staff"]["stores"]
    ) == sorted([chain.store_a, chain.store_a2])


def test_only_an_admin_makes_an_admin_and_a_manager_cannot_touch_one(world: World) -> None:
    chain = chain_world(world)
    manager = bearer(world, "two@a.chain")
    account = {"email": "boss@new.one", "name": "Boss", "role": "admin", "password": PASSWORD}
    answer = world.client().post(
        f"/api/v1/stores/{chain.store_a}/staff", json=account, headers=manager
    )
    assert error_of(answer) == (
        403,
        {"code": "admins_only", "message": "only an admin of the chain can do this"},
    )
    with world.db.sessions() as session:
        assert session.scalar(select(StaffUser.id).where(StaffUser.email == "boss@new.one")) is None
    login = world.login("ada@a.chain", PASSWORD)
    ada_id = login["staff"]["id"]
    for action in ("deactivate", "password"):
        body = {"password": "another long one"} if action == "password" else None
        refused = world.client().post(
            f"/api/v1/stores/{chain.store_a}/staff/{ada_id}/{action}", json=body, headers=manager
        )
        assert refused.status_code == 404
        assert refused.get_json()["error"]["code"] == "unknown_staff"


def join(world: World, store_id: int, email: str) -> Any:
    """Opt in with e-mail offers and arrival alerts; the JSON answer."""
    consents = [{"purpose": "offers", "channel": "email"}, {"purpose": "arrival", "channel": "app"}]
    body = {"store_id": store_id, "first_name": "Bea", "consents": consents, "email": email}
    answer = world.client().post("/api/v1/optin", json=body)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def test_the_same_address_at_two_chains_is_two_unrelated_shoppers(world: World) -> None:
    at_a = join(world, world.seed.store_id, "bea@example.com")
    at_other = join(world, world.other_store_id, "Bea@Example.com")
    assert at_a["shopper_id"] != at_other["shopper_id"]
    with world.db.sessions() as session:
        kept = dict(
            session.execute(
                select(Shopper.id, Shopper.email).where(
                    Shopper.id.in_([at_a["shopper_id"], at_other["shopper_id"]])
                )
            ).all()
        )
    # Each chain's shopper owns the address at her chain: neither is demoted to unconfirmed.
    assert kept == {
        at_a["shopper_id"]: "bea@example.com",
        at_other["shopper_id"]: "bea@example.com",
    }
    # Her profile at one chain is not her profile at the other.
    a_headers = {"Authorization": f"Bearer {at_a['device_token']}"}
    me = world.client().get("/api/v1/me", headers=a_headers).get_json()
    assert {c["store_id"] for c in me["consents"]} == {world.seed.store_id}


@pytest.mark.parametrize("elsewhere", ["other chain", "no store"])
def test_a_shopper_cannot_consent_at_a_store_of_another_chain(world: World, elsewhere: str) -> None:
    store_id = world.other_store_id if elsewhere == "other chain" else NO_STORE
    headers = world.device_headers("maria")
    body = {"store_id": store_id, "consents": [{"purpose": "offers", "channel": "app"}]}
    answer = world.client().put("/api/v1/me/consents", json=body, headers=headers)
    assert answer.status_code == 404
    assert answer.get_json()["error"]["code"] == "unknown_store"
    me = world.client().get("/api/v1/me", headers=headers).get_json()
    assert world.other_store_id not in {c["store_id"] for c in me["consents"]}


def test_deactivating_a_staffer_disconnects_her_tablets(world: World) -> None:
    chain = chain_world(world)
    tablets = [
        socketio.test_client(
            world.app, auth={"token": world.login("one@a.chain", PASSWORD)["token"]}
        )
        for _ in range(2)
    ]
    assert all(t.is_connected() for t in tablets)
    admin = bearer(world, "ada@a.chain")
    one_id = world.login("one@a.chain", PASSWORD)["staff"]["id"]
    done = world.client().post(
        f"/api/v1/stores/{chain.store_a2}/staff/{one_id}/deactivate", headers=admin
    )
    assert done.status_code == 200
    assert wait_until(lambda: not any(t.is_connected() for t in tablets), 5.0, 0.02)


def test_may_act_is_the_one_rule_of_roles_and_stores() -> None:
    def identity(role: StaffRole) -> StaffIdentity:
        return StaffIdentity(1, 10, "X", role, 7, frozenset({10, 11}))

    assert may_act(identity(StaffRole.STAFF), 11)
    assert not may_act(identity(StaffRole.STAFF), 11, StaffRole.MANAGER)
    assert may_act(identity(StaffRole.MANAGER), 10, StaffRole.MANAGER)
    assert not may_act(identity(StaffRole.MANAGER), 10, StaffRole.ADMIN)
    assert may_act(identity(StaffRole.ADMIN), 10, StaffRole.ADMIN)
    assert not any(may_act(identity(role), 12) for role in StaffRole)


def store_routes(world: World) -> list[tuple[str, str]]:
    """(method, URL template) of every API route under a store that needs credentials (the
    public ones, a store's info for the join page, need none), its other ids filled in."""
    routes = []
    for method, path, _, operation in api_operations(world.app):
        if not path.startswith("/api/v1/stores/{store_id}") or operation is None:
            continue
        if operation.public:
            continue
        template = path.replace("{store_id}", "<store>")
        template = re.sub(r"\{\w+\}", "1", template).replace("<store>", "{store}")
        routes.append((method.upper(), template))
    return routes


def test_every_store_route_refuses_every_credential_at_a_store_not_its_own(world: World) -> None:
    chain = chain_world(world)
    credentials = {
        "staff": bearer(world, "sam@demo.store", world.password("sam@demo.store")),
        "manager": bearer(world, "morgan@demo.store", world.password("morgan@demo.store")),
        "admin": bearer(world, "ada@a.chain"),
        "integration": {"Authorization": f"Bearer {world.seed.integration_token}"},
    }
    routes = store_routes(world)
    assert len(routes) > 30  # every store route, not a few
    for method, template in routes:
        for name, headers in credentials.items():
            answers = [
                world.client().open(
                    template.format(store=store_id), method=method, json={}, headers=headers
                )
                for store_id in (chain.other_chain_store, NO_STORE)
            ]
            # Refused, and alike for a store of another chain and for no store at all.
            assert {a.status_code for a in answers} <= {401, 403}, (method, template, name)
            assert answers[0].get_json() == answers[1].get_json(), (method, template, name)


# ---------- changing an account's role and stores (issue 17, item 1, the gaps) ----------


def staff_id_of(world: World, email: str) -> int:
    with world.db.sessions() as session:
        found = session.scalar(select(StaffUser.id).where(StaffUser.email == email))
    assert found is not None
    return found


def change_access(
    world: World, store_id: int, staff_id: int, body: Any, headers: dict[str, str]
) -> Any:
    return world.client().put(
        f"/api/v1/stores/{store_id}/staff/{staff_id}/access", json=body, headers=headers
    )


def test_a_manager_assigns_staff_only_to_stores_she_manages(world: World) -> None:
    chain = chain_world(world)
    sam = staff_id_of(world, "sam@demo.store")
    both = bearer(world, "two@a.chain")  # manager of the demo store and Station Road
    answer = change_access(
        world, chain.store_a, sam, {"role": "staff", "store_ids": [chain.store_a2]}, both
    )
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["store_ids"] == [chain.store_a2]
    assert [s["id"] for s in world.login("sam@demo.store")["staff"]["stores"]] == [chain.store_a2]
    # A manager of Station Road only: the demo store is not hers to give, nor another chain's,
    # nor one of no chain, alike; and she never makes an admin.
    one = bearer(world, "one@a.chain")
    for store_id in (chain.store_a, chain.other_chain_store, NO_STORE):
        refused = change_access(
            world, chain.store_a2, sam, {"role": "staff", "store_ids": [store_id]}, one
        )
        assert error_of(refused) == (
            403,
            {"code": "forbidden", "message": f"store: store {store_id} is not one you manage"},
        )
    raised = change_access(world, chain.store_a2, sam, {"role": "admin", "store_ids": []}, one)
    assert error_of(raised) == (
        403,
        {"code": "admins_only", "message": "only an admin of the chain can do this"},
    )
    # Two gives Sam both stores; One takes Station Road away: the demo store, not hers, stays.
    both_stores = {"role": "staff", "store_ids": [chain.store_a, chain.store_a2]}
    assert change_access(world, chain.store_a2, sam, both_stores, both).status_code == 200
    kept = change_access(world, chain.store_a2, sam, {"role": "staff", "store_ids": []}, one)
    assert (kept.status_code, kept.get_json()["store_ids"]) == (200, [chain.store_a])
    # Sam is no longer at Station Road, so One cannot find him there now.
    gone = change_access(world, chain.store_a2, sam, {"role": "manager", "store_ids": []}, one)
    assert gone.status_code == 404
    # Nobody changes their own account; a staffer changes nobody's.
    own = change_access(
        world,
        chain.store_a2,
        staff_id_of(world, "one@a.chain"),
        {"role": "manager", "store_ids": [chain.store_a2]},
        one,
    )
    assert own.status_code == 409 and own.get_json()["error"]["code"] == "cannot_change_self"
    by_staff = change_access(
        world,
        chain.store_a,
        sam,
        {"role": "staff", "store_ids": [chain.store_a]},
        bearer(world, "sam@demo.store", world.password("sam@demo.store")),
    )
    assert by_staff.status_code == 403 and by_staff.get_json()["error"]["code"] == "managers_only"


def test_another_chains_account_is_not_found_as_one_that_does_not_exist(world: World) -> None:
    chain = chain_world(world)
    admin = bearer(world, "ada@a.chain")
    body = {"role": "staff", "store_ids": [chain.store_a]}
    kim = staff_id_of(world, "kim@other.store")
    answers = [change_access(world, chain.store_a, i, body, admin) for i in (kim, NO_STORE)]
    assert [error_of(a) for a in answers] == [
        (404, {"code": "unknown_staff", "message": "no such staff account here"})
    ] * 2
    with world.db.sessions() as session:
        assert set(
            session.scalars(select(StaffStore.store_id).where(StaffStore.staff_id == kim))
        ) == {chain.other_chain_store}


def test_an_admin_raises_and_lowers_within_her_chain_only(world: World) -> None:
    chain = chain_world(world)
    admin = bearer(world, "ada@a.chain")
    one = staff_id_of(world, "one@a.chain")
    raised = change_access(world, chain.store_a, one, {"role": "admin", "store_ids": []}, admin)
    assert (raised.status_code, raised.get_json()["role"]) == (200, "admin")
    assert sorted(s["id"] for s in world.login("one@a.chain", PASSWORD)["staff"]["stores"]) == (
        sorted([chain.store_a, chain.store_a2])
    )
    with_stores = change_access(
        world, chain.store_a, one, {"role": "admin", "store_ids": [chain.store_a]}, admin
    )
    assert with_stores.status_code == 400
    assert with_stores.get_json()["error"]["details"]["fields"][0]["loc"] == ["store_ids"]
    elsewhere = change_access(
        world, chain.store_a, one, {"role": "staff", "store_ids": [chain.other_chain_store]}, admin
    )
    assert elsewhere.status_code == 403
    lowered = change_access(
        world, chain.store_a, one, {"role": "staff", "store_ids": [chain.store_a]}, admin
    )
    assert lowered.get_json()["store_ids"] == [chain.store_a]
    login = world.login("one@a.chain", PASSWORD)
    assert (login["staff"]["role"], login["staff"]["store_id"]) == ("staff", chain.store_a)


@pytest.mark.parametrize(
    "body",
    [
        {"role": "owner", "store_ids": [1]},
        {"role": "staff", "store_ids": "1"},
        {"role": "staff", "store_ids": [0]},
        {"role": "staff", "store_ids": [2**31]},
        {"role": "staff", "store_ids": [1] * 101},
        {"role": "staff"},
        {"role": "staff", "store_ids": [1], "extra": True},
        {"role": "staff", "store_ids": []},
    ],
)
def test_a_bad_change_is_400_naming_its_field_and_changes_nothing(world: World, body: Any) -> None:
    chain = chain_world(world)
    sam = staff_id_of(world, "sam@demo.store")
    answer = change_access(world, chain.store_a, sam, body, bearer(world, "two@a.chain"))
    assert answer.status_code == 400, answer.get_json()
    assert answer.get_json()["error"]["code"] == "invalid_body"
    assert answer.get_json()["error"]["details"]["fields"]
    assert [s["id"] for s in world.login("sam@demo.store")["staff"]["stores"]] == [chain.store_a]


def test_taking_a_store_away_disconnects_her_pages_there_and_only_there(world: World) -> None:
    chain = chain_world(world)
    token = world.login("two@a.chain", PASSWORD)["token"]
    pages = {
        store_id: socketio.test_client(world.app, auth={"token": token, "store_id": store_id})
        for store_id in (chain.store_a, chain.store_a2)
    }
    assert all(page.is_connected() for page in pages.values())
    two = staff_id_of(world, "two@a.chain")
    admin = bearer(world, "ada@a.chain")
    kept = change_access(
        world, chain.store_a, two, {"role": "manager", "store_ids": [chain.store_a]}, admin
    )
    assert kept.status_code == 200
    assert wait_until(lambda: not pages[chain.store_a2].is_connected(), 5.0, 0.02)
    assert pages[chain.store_a].is_connected()
    back = socketio.test_client(world.app, auth={"token": token, "store_id": chain.store_a2})
    assert not back.is_connected()  # the store is no longer hers
    # A new role: every page reconnects, to join the rooms of the role she has now.
    change_access(world, chain.store_a, two, {"role": "staff", "store_ids": [chain.store_a]}, admin)
    assert wait_until(lambda: not pages[chain.store_a].is_connected(), 5.0, 0.02)


# ---------- one log-in address at two chains (migration 0018) ----------


def log_in(world: World, body: dict[str, Any], address: str) -> Any:
    return world.client().post(
        "/api/v1/auth/login", json=body, environ_base={"REMOTE_ADDR": address}
    )


def test_the_same_address_logs_in_at_two_chains_and_says_which(world: World) -> None:
    chain = chain_world(world)
    with world.db.transaction() as session:
        other = session.get(Store, chain.other_chain_store)
        assert other is not None
        there = add_staff(session, [other.id], "two@a.chain", "Two", "staff", PASSWORD).id
        other_chain = other.chain_id
        with pytest.raises(DomainError) as taken:  # within one chain it stays unique
            add_staff(session, [other.id], "TWO@a.chain", "Again", "staff", PASSWORD)
        assert taken.value.code == "email_taken"
    here = staff_id_of_chain(world, "two@a.chain", chain.store_a)
    credentials = {"email": "two@a.chain", "password": PASSWORD}
    asked = log_in(world, credentials, "192.0.2.10")
    assert asked.status_code == 409
    error = asked.get_json()["error"]
    assert error["code"] == "choose_chain"
    chains = {c["id"]: c["name"] for c in error["details"]["chains"]}
    assert other_chain in chains and len(chains) == 2
    for chain_id, staff_id in (
        (other_chain, there),
        (next(c for c in chains if c != other_chain), here),
    ):
        chosen = log_in(world, {**credentials, "chain_id": chain_id}, "192.0.2.11")
        assert (chosen.status_code, chosen.get_json()["staff"]["id"]) == (200, staff_id)
    # A chain where the address has no account is a wrong log-in, as any.
    nowhere = log_in(world, {**credentials, "chain_id": NO_STORE}, "192.0.2.12")
    assert nowhere.status_code == 401
    # Two passwords: each opens its own account, no question asked.
    with world.db.transaction() as session:
        account = session.get(StaffUser, there)
        assert account is not None
        account.password_hash = hash_password("the other chain's one")
    own = log_in(world, {"email": "two@a.chain", "password": "the other chain's one"}, "192.0.2.13")
    assert (own.status_code, own.get_json()["staff"]["id"]) == (200, there)


def staff_id_of_chain(world: World, email: str, store_id: int) -> int:
    with world.db.sessions() as session:
        found = session.scalar(
            select(StaffUser.id)
            .join(Store, Store.chain_id == StaffUser.chain_id)
            .where(StaffUser.email == email, Store.id == store_id)
        )
    assert found is not None
    return found


def test_asking_which_chain_is_no_failure_and_wrong_passwords_still_lock(world: World) -> None:
    chain = chain_world(world)
    with world.db.transaction() as session:
        add_staff(session, [chain.other_chain_store], "two@a.chain", "Two", "staff", PASSWORD)
    credentials = {"email": "two@a.chain", "password": PASSWORD}
    for i in range(LOGIN_FAILURES_PER_ACCOUNT.amount + 2):
        assert log_in(world, credentials, f"192.0.2.{i}").status_code == 409
    for i in range(LOGIN_FAILURES_PER_ACCOUNT.amount):
        wrong = {"email": "two@a.chain", "password": "not the password"}
        assert log_in(world, wrong, f"198.51.100.{i}").status_code == 401
    assert log_in(world, credentials, "203.0.113.1").status_code == 429
