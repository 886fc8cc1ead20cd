"""Abuse limits: log-in per account and per address, opt-in, check-in, wrong coupon codes.

A refusal is a 429 in the one error shape with Retry-After. With Redis (STORE_TEST_REDIS_URL)
two apps of one deployment count together, and another deployment apart.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from store_server.app import create_app
from store_server.settings import StoreSettings
from store_server.web.context import services
from store_server.web.limits import (
    CHECK_IN_PER_DEVICE,
    COUPON_FAILURES_PER_STAFF,
    LOGIN_FAILURES_PER_ACCOUNT,
    LOGIN_PER_ADDRESS,
    OPT_IN_PER_ADDRESS,
)
from tests.store_server.conftest import World
from tests.store_server.test_orders_and_shoppers import handed_over_coupon, redeem
from tests.support.services import redis_url


def assert_limited(response: Any) -> None:
    """A 429 in the one error shape, saying when to come back."""
    assert response.status_code == 429, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"]["code"] == "too_many_requests"
    assert set(body["error"]) == {"code", "message", "details"}
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 15 * 60
    assert body["error"]["details"] == {"retry_after_s": retry_after}


def login(world: World, email: str, password: str, address: str = "192.0.2.1") -> Any:
    return world.client().post(
        "/api/v1/auth/login",
        json={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def test_wrong_passwords_lock_the_account_whatever_address_sends_them(world: World) -> None:
    for i in range(LOGIN_FAILURES_PER_ACCOUNT.amount):
        assert login(world, "sam@demo.store", "wrong", f"192.0.2.{i}").status_code == 401
    assert_limited(login(world, "sam@demo.store", "wrong", "198.51.100.1"))
    # Even the right password waits: the guesser must not learn it by the answer.
    assert_limited(login(world, "sam@demo.store", world.password("sam@demo.store")))
    # Another account is not locked.
    assert login(world, "morgan@demo.store", world.password("morgan@demo.store")).status_code == 200


def test_one_address_logging_in_too_often_is_refused(world: World) -> None:
    for _ in range(LOGIN_PER_ADDRESS.amount):
        assert login(world, "nobody@demo.store", "x" * 12, "203.0.113.9").status_code in (401, 429)
    assert_limited(
        login(world, "morgan@demo.store", world.password("morgan@demo.store"), "203.0.113.9")
    )
    assert login(world, "morgan@demo.store", world.password("morgan@demo.store")).status_code == 200


OPT_IN = {
    "store_id": 1,
    "first_name": "Ann",
    "consents": [{"purpose": "arrival", "channel": "app"}],
}


def test_opt_ins_from_one_address_are_limited(world: World) -> None:
    body = {**OPT_IN, "store_id": world.seed.store_id}
    answers = [
        world.client()
        .post("/api/v1/optin", json=body, environ_base={"REMOTE_ADDR": "192.0.2.77"})
        .status_code
        for _ in range(OPT_IN_PER_ADDRESS.amount)
    ]
    assert answers == [201] * OPT_IN_PER_ADDRESS.amount
    assert_limited(
        world.client().post("/api/v1/optin", json=body, environ_base={"REMOTE_ADDR": "192.0.2.77"})
    )
    other = world.client().post(
        "/api/v1/optin", json=body, environ_base={"REMOTE_ADDR": "192.0.2.78"}
    )
    assert other.status_code == 201


def test_a_phone_pressing_im_here_in_a_loop_is_limited(world: World) -> None:
    body = {"store_id": world.seed.store_id}
    headers = world.device_headers("maria")
    for _ in range(CHECK_IN_PER_DEVICE.amount):
        assert (
            world.client().post("/api/v1/me/checkin", json=body, headers=headers).status_code == 200
        )
    assert_limited(world.client().post("/api/v1/me/checkin", json=body, headers=headers))
    other = world.client().post(
        "/api/v1/me/checkin", json=body, headers=world.device_headers("ana")
    )
    assert other.status_code == 200


def test_a_staffer_over_the_limit_of_wrong_codes_still_redeems_a_valid_one(world: World) -> None:
    code = handed_over_coupon(world)
    headers = world.staff_headers()
    wrong = [
        redeem(world, f"GUESS{i:05d}", headers).status_code
        for i in range(COUPON_FAILURES_PER_STAFF.amount)
    ]
    assert wrong == [404] * COUPON_FAILURES_PER_STAFF.amount
    assert_limited(redeem(world, "GUESS99999", headers))
    assert redeem(world, code, headers).status_code == 200
    # Another staffer's till is not held up by this one's typos.
    other = redeem(world, "GUESS99998", world.staff_headers("morgan@demo.store"))
    assert other.status_code == 404


@pytest.fixture
def shared_redis() -> str:
    url = redis_url()
    if url is None:
        pytest.skip("STORE_TEST_REDIS_URL is not set (.ci/run sets it)")
    return url


def test_processes_of_one_deployment_count_together_in_redis(
    world: World, shared_redis: str, tmp_path: Path
) -> None:
    channel = f"test-{uuid.uuid4().hex}"  # this test's own deployment on the shared Redis
    apps: list[Flask] = []

    def app(deployment: str) -> Any:
        settings = StoreSettings(
            database_url=str(world.db.engine.url.render_as_string(hide_password=False)),
            secret_key="test-secret",
            var_dir=str(tmp_path / "var"),
            rate_limit_storage_url=shared_redis,
            socketio_channel=deployment,
        )
        apps.append(create_app(settings, world.clock))
        return apps[-1].test_client()

    try:
        check_counted_together(app(channel), app(channel), app(channel + "-other"))
    finally:
        for each in apps:
            services(each).publisher.stop()
            services(each).outbound.stop()
            services(each).db.dispose()


def check_counted_together(first: Any, second: Any, elsewhere: Any) -> None:
    """Wrong passwords on two processes of one deployment add up; another counts apart."""
    body = {"email": "sam@demo.store", "password": "wrong"}
    half = LOGIN_FAILURES_PER_ACCOUNT.amount // 2
    for client in (first, second):
        for _ in range(half):
            assert client.post("/api/v1/auth/login", json=body).status_code == 401
    assert_limited(first.post("/api/v1/auth/login", json=body))
    assert_limited(second.post("/api/v1/auth/login", json=body))
    assert elsewhere.post("/api/v1/auth/login", json=body).status_code == 401
