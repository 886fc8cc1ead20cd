"""Web Push subscriptions of the shopper page: the public key, subscribe (upsert, reassign),
validation naming the field, unsubscribe, erasure; never a 500, never an endpoint in the logs."""

from __future__ import annotations

import base64
import itertools
import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from sqlalchemy import select

from store_server.db.models import WebPushSubscription
from store_server.messaging.channels.webpush import VAPID_PRIVATE_KEY_FILE, load_vapid_keys
from store_server.messaging.push import MAX_SUBSCRIPTIONS_PER_SHOPPER
from store_server.web.context import services
from tests.store_server import json_strategies
from tests.store_server.conftest import World

URL = "/api/v1/me/push-subscriptions"
ENDPOINT = "https://push.example.net/wpush/v2/gAAAAABk-maria-phone"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def browser_keys() -> dict[str, str]:
    """Keys as a browser makes them: a fresh P-256 share and a 16-byte secret."""
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return {"p256dh": b64url(point), "auth": b64url(os.urandom(16))}


def subscription(endpoint: str = ENDPOINT, **keys: str) -> dict[str, Any]:
    """`PushSubscription.toJSON()` as Chromium gives it."""
    return {"endpoint": endpoint, "expirationTime": None, "keys": {**browser_keys(), **keys}}


def var_dir(world: World) -> Path:
    """Where this world's server keeps its VAPID keys (under the test's tmp_path)."""
    return Path(services(world.app).settings.var_dir)


def stored(world: World) -> list[tuple[int, str, str, str]]:
    with world.db.sessions() as session:
        rows = session.scalars(select(WebPushSubscription).order_by(WebPushSubscription.id)).all()
        return [(r.shopper_id, r.endpoint, r.p256dh, r.auth) for r in rows]


def shopper_id(world: World, person: str) -> int:
    me = world.client().get("/api/v1/me", headers=world.device_headers(person)).get_json()
    result: int = me["shopper_id"]
    return result


def bad_fields(response: Any) -> list[list[Any]]:
    assert response.status_code == 400, response.get_json()
    error = response.get_json()["error"]
    assert set(error) == {"code", "message", "details"}
    return [field["loc"] for field in error["details"]["fields"]]


def test_the_public_key_is_the_servers_vapid_key_and_needs_no_token(world: World) -> None:
    first = world.client().get("/api/v1/push/key")
    assert first.status_code == 200
    key = first.get_json()["application_server_key"]
    raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    assert len(raw) == 65 and raw[0] == 0x04
    assert key == load_vapid_keys(var_dir(world)).application_server_key
    assert world.client().get("/api/v1/push/key").get_json() == first.get_json()


def test_an_unreadable_key_is_a_503_not_a_500(world: World) -> None:
    (var_dir(world) / VAPID_PRIVATE_KEY_FILE).write_text("not a key\n")
    response = world.client().get("/api/v1/push/key")
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "push_unavailable"


def test_subscribing_stores_the_browsers_subscription(world: World) -> None:
    body = subscription()
    response = world.client().post(URL, json=body, headers=world.device_headers("maria"))
    assert response.status_code == 201
    assert response.get_json() == {"subscribed": True, "created": True}
    assert ENDPOINT not in response.get_data(as_text=True)  # a capability: not echoed
    maria = shopper_id(world, "maria")
    assert stored(world) == [(maria, ENDPOINT, body["keys"]["p256dh"], body["keys"]["auth"])]


def test_the_same_endpoint_again_updates_it_in_place(world: World) -> None:
    client, headers = world.client(), world.device_headers("maria")
    assert client.post(URL, json=subscription(), headers=headers).status_code == 201
    renewed = subscription()
    again = client.post(URL, json=renewed, headers=headers)
    assert again.status_code == 200
    assert again.get_json() == {"subscribed": True, "created": False}
    maria = shopper_id(world, "maria")
    assert stored(world) == [(maria, ENDPOINT, renewed["keys"]["p256dh"], renewed["keys"]["auth"])]


def test_a_browser_that_changes_hands_moves_to_its_new_shopper(world: World) -> None:
    client = world.client()
    assert (
        client.post(URL, json=subscription(), headers=world.device_headers("maria"))
    ).status_code == 201
    leo_body = subscription()
    response = client.post(URL, json=leo_body, headers=world.device_headers("leo"))
    assert response.status_code == 200
    leo = shopper_id(world, "leo")
    assert stored(world) == [(leo, ENDPOINT, leo_body["keys"]["p256dh"], leo_body["keys"]["auth"])]


def test_padded_keys_and_a_local_http_push_service_are_accepted(world: World) -> None:
    client, headers = world.client(), world.device_headers("maria")
    keys = browser_keys()
    padded = {name: value + "=" * (-len(value) % 4) for name, value in keys.items()}
    for endpoint in ("http://127.0.0.1:8089/wpush/a", "http://localhost/wpush/b"):
        response = client.post(URL, json=subscription(endpoint, **padded), headers=headers)
        assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://push.example.net/wpush/1",  # plain http to another machine
        "ftp://push.example.net/wpush/1",
        "https:///wpush/1",
        "https://user:secret@push.example.net/wpush/1",
        "https://push.example.net/wpush/ 1",
        "https://push.example.net/wpush/\x00",
        "https://[::1/wpush",
        "push.example.net/wpush/1",
        "https://push.example.net/" + "a" * 1000,
        "",
    ],
)
def test_a_bad_endpoint_is_a_400_naming_it(world: World, endpoint: str) -> None:
    response = world.client().post(
        URL, json=subscription(endpoint), headers=world.device_headers("maria")
    )
    assert bad_fields(response) == [["endpoint"]]
    assert stored(world) == []


def off_curve_point() -> str:
    """65 bytes that look like an uncompressed point but are not on P-256."""
    return b64url(b"\x04" + b"\x01" * 64)


@pytest.mark.parametrize(
    ("keys", "field"),
    [
        ({"p256dh": b64url(b"\x04" + b"\x00" * 63)}, "p256dh"),  # 64 bytes
        ({"p256dh": b64url(b"\x04" + b"\x00" * 65)}, "p256dh"),  # 66 bytes
        ({"p256dh": b64url(b"\x02" + b"\x11" * 32)}, "p256dh"),  # a compressed point
        ({"p256dh": b64url(b"\x05" + b"\x11" * 64)}, "p256dh"),  # 65 bytes, wrong prefix
        ({"p256dh": off_curve_point()}, "p256dh"),
        ({"p256dh": "BAAA+/AA"}, "p256dh"),  # base64, not base64url
        ({"p256dh": "B"}, "p256dh"),  # not decodable at all
        ({"p256dh": ""}, "p256dh"),
        ({"auth": b64url(os.urandom(15))}, "auth"),
        ({"auth": b64url(os.urandom(17))}, "auth"),
        ({"auth": "not base64url!"}, "auth"),
    ],
)
def test_bad_keys_are_a_400_naming_the_key(world: World, keys: dict[str, str], field: str) -> None:
    response = world.client().post(
        URL, json=subscription(**keys), headers=world.device_headers("maria")
    )
    assert bad_fields(response) == [["keys", field]]
    assert stored(world) == []


def test_a_body_of_the_wrong_shape_is_a_400(world: World) -> None:
    client, headers = world.client(), world.device_headers("maria")
    assert bad_fields(client.post(URL, json={"endpoint": ENDPOINT}, headers=headers)) == [["keys"]]
    extra = {**subscription(), "shopper_id": 1}
    assert bad_fields(client.post(URL, json=extra, headers=headers)) == [["shopper_id"]]
    malformed = client.post(URL, data="{", content_type="application/json", headers=headers)
    assert malformed.status_code == 400
    assert malformed.get_json()["error"]["code"] == "malformed_json"


def test_without_a_device_token_it_is_a_401(world: World) -> None:
    client = world.client()
    for headers in ({}, {"Authorization": "Bearer not-a-device"}):
        assert client.post(URL, json=subscription(), headers=headers).status_code == 401
        deleted = client.delete(URL, json={"endpoint": ENDPOINT}, headers=headers)
        assert deleted.status_code == 401
    assert stored(world) == []


def test_unsubscribing_is_idempotent_and_only_touches_my_own(world: World) -> None:
    client = world.client()
    maria, leo = world.device_headers("maria"), world.device_headers("leo")
    assert client.post(URL, json=subscription(), headers=maria).status_code == 201
    # Leo cannot remove Maria's browser by knowing its endpoint.
    not_his = client.delete(URL, json={"endpoint": ENDPOINT}, headers=leo)
    assert (not_his.status_code, not_his.get_json()) == (200, {"removed": False})
    assert len(stored(world)) == 1
    first = client.delete(URL, json={"endpoint": ENDPOINT}, headers=maria)
    assert (first.status_code, first.get_json()) == (200, {"removed": True})
    again = client.delete(URL, json={"endpoint": ENDPOINT}, headers=maria)
    assert (again.status_code, again.get_json()) == (200, {"removed": False})
    assert stored(world) == []
    assert bad_fields(client.delete(URL, json={}, headers=maria)) == [["endpoint"]]


def test_erasure_removes_my_subscriptions(world: World) -> None:
    client = world.client()
    maria, leo = world.device_headers("maria"), world.device_headers("leo")
    client.post(URL, json=subscription(), headers=maria)
    client.post(URL, json=subscription(ENDPOINT + "-tablet"), headers=maria)
    client.post(URL, json=subscription(ENDPOINT + "-leo"), headers=leo)
    exported = client.get("/api/v1/me/export", headers=maria).get_json()
    assert len(exported["push_subscriptions"]) == 2  # the shopper's own data, in the export
    assert client.delete("/api/v1/me", headers=maria).status_code == 200
    assert [row[1] for row in stored(world)] == [ENDPOINT + "-leo"]


def test_only_the_most_recently_sent_subscriptions_of_a_shopper_are_kept(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticks = itertools.count(1_700_000_000.0)
    world.clock.now = lambda: next(ticks)  # one second per request
    client, headers = world.client(), world.device_headers("maria")
    for n in range(MAX_SUBSCRIPTIONS_PER_SHOPPER):
        response = client.post(URL, json=subscription(f"{ENDPOINT}-{n}"), headers=headers)
        assert response.status_code == 201
    # The page re-sends its subscription on every visit: a browser in use is never dropped.
    assert client.post(URL, json=subscription(f"{ENDPOINT}-0"), headers=headers).status_code == 200
    for n in range(MAX_SUBSCRIPTIONS_PER_SHOPPER, MAX_SUBSCRIPTIONS_PER_SHOPPER + 2):
        response = client.post(URL, json=subscription(f"{ENDPOINT}-{n}"), headers=headers)
        assert response.status_code == 201
    endpoints = {row[1] for row in stored(world)}
    kept = {0, *range(3, MAX_SUBSCRIPTIONS_PER_SHOPPER + 2)}
    assert endpoints == {f"{ENDPOINT}-{n}" for n in kept}


def test_logs_never_name_the_endpoint_or_keys(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client, headers = world.client(), world.device_headers("maria")
    body = subscription()
    client.post(URL, json=body, headers=headers)
    client.post(URL, json=subscription(ENDPOINT + "/bad", auth="xx"), headers=headers)
    client.delete(URL, json={"endpoint": ENDPOINT}, headers=headers)
    assert "event=push_subscribed" in caplog.text and "event=push_unsubscribed" in caplog.text
    for secret in (ENDPOINT, "push.example.net", body["keys"]["p256dh"], body["keys"]["auth"]):
        assert secret not in caplog.text


json_values = json_strategies.json_values()
# Bodies that look almost right reach the decoding and the URL checks.
near_subscriptions = st.fixed_dictionaries(
    {
        "endpoint": st.text(max_size=40).map(lambda s: "https://" + s) | st.text(max_size=40),
        "keys": st.fixed_dictionaries(
            {
                "p256dh": st.binary(max_size=70).map(b64url) | st.text(max_size=90),
                "auth": st.binary(max_size=20).map(b64url) | st.text(max_size=30),
            }
        ),
    }
)


@seed(20261125)
@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=json_values | near_subscriptions, raw=st.binary(max_size=64))
def test_push_endpoints_never_fail_with_500(world: World, body: Any, raw: bytes) -> None:
    client, headers = world.client(), world.device_headers("maria")
    for data in (json.dumps(body), raw):
        for method in (client.post, client.delete):
            response = method(URL, data=data, content_type="application/json", headers=headers)
            assert response.status_code in (200, 201, 400), response.get_data(as_text=True)
            if response.status_code == 400:
                assert set(response.get_json()["error"]) == {"code", "message", "details"}
