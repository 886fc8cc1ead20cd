"""Staff log-in and sessions."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from argon2 import extract_parameters, profiles

from store_server.accounts import auth
from tests.store_server.conftest import World, observation
from tests.support.passwords import ProductionHashing


def test_login_returns_token_and_staff_without_secrets(world: World) -> None:
    body = world.login("sam@demo.store")
    assert body["staff"] == {
        "id": body["staff"]["id"],
        "name": "Sam",
        "role": "staff",
        "store_id": world.seed.store_id,
        "store_name": "Demo Store, High Street",
        "stores": [{"id": world.seed.store_id, "name": "Demo Store, High Street"}],
    }
    assert "password" not in str(body).lower()


@pytest.mark.parametrize(
    ("email", "password"), [("sam@demo.store", "wrong"), ("nobody@demo.store", "whatever")]
)
def test_wrong_credentials_are_401(world: World, email: str, password: str) -> None:
    response = world.client().post(
        "/api/v1/auth/login", json={"email": email, "password": password}
    )
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_credentials"


def test_password_is_stored_as_argon2_hash(world: World) -> None:
    from sqlalchemy import select

    from store_server.db.models import StaffUser

    with world.db.sessions() as session:
        hashes = session.scalars(select(StaffUser.password_hash)).all()
    assert all(h.startswith("$argon2id$") for h in hashes)


def test_production_hashes_at_argon2s_default_cost(
    production_password_hashing: ProductionHashing,
) -> None:
    """The suite hashes cheaply (tests/support/passwords.py); the server's own hasher, and the
    hash an unknown e-mail is checked against, keep argon2's default: RFC 9106's low-memory
    profile."""
    production = production_password_hashing
    assert auth.password_hasher is not production.hasher  # the suite's swap is in place
    assert extract_parameters(production.hasher.hash("a password")) == profiles.RFC_9106_LOW_MEMORY
    assert extract_parameters(production.dummy_hash) == profiles.RFC_9106_LOW_MEMORY


def test_arrivals_need_a_session_of_that_store(world: World) -> None:
    now = time.time()
    world.upload("gw-entrance", [observation(world.eid_hex("maria", now), -50, now)])
    client = world.client()
    url = f"/api/v1/stores/{world.seed.store_id}/arrivals"
    assert client.get(url).status_code == 401
    own = world.login("sam@demo.store")["token"]
    arrivals = client.get(url, headers={"Authorization": f"Bearer {own}"}).get_json()["arrivals"]
    assert [(a["first_name"], a["order_number"], a["where"]) for a in arrivals] == [
        ("Maria", "1001", "front door")
    ]
    assert "email" not in arrivals[0]
    other = world.login("kim@other.store")["token"]
    response = client.get(url, headers={"Authorization": f"Bearer {other}"})
    assert response.status_code == 403


def test_expired_or_logged_out_session_is_refused(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = world.login("sam@demo.store")["token"]
    url = f"/api/v1/stores/{world.seed.store_id}/arrivals"
    headers = {"Authorization": f"Bearer {token}"}
    client = world.client()
    assert client.get(url, headers=headers).status_code == 200
    world.clock.now = lambda: time.time() + 13 * 3600
    assert client.get(url, headers=headers).status_code == 401
    world.clock.now = time.time
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 200
    assert client.get(url, headers=headers).status_code == 401


# In a process gevent has patched (the served worker): the log-in's argon2 work must let the
# event loop run, or every tablet of the worker waits for it. A ticker greenlet counts how often
# the loop ran while the password was hashed and verified; on the loop itself it never would.
GEVENT_PROBE = """
from gevent import monkey
monkey.patch_all()
import gevent
from store_server.accounts import auth
ticks = 0
def tick():
    global ticks
    while True:
        ticks += 1
        gevent.sleep(0)
ticker = gevent.spawn(tick)
stored = auth.hash_password("correct horse battery")
during_hash = ticks
assert auth._password_ok(stored, "correct horse battery")
print(during_hash, ticks - during_hash)
"""


def test_argon2_leaves_the_gevent_loop_running() -> None:
    run = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", GEVENT_PROBE], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    during_hash, during_verify = (int(n) for n in run.stdout.split())
    assert during_hash > 0
    assert during_verify > 0
