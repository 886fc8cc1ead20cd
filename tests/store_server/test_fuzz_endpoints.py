"""Seeded fuzzing of every public endpoint: whatever the body, the answer is never a 500."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from store_server.web.input_limits import MAX_JSON_DEPTH
from tests.store_server import json_strategies
from tests.store_server.conftest import World

json_values = json_strategies.json_values()
# Bodies that look almost right reach deeper than random JSON does.
near_batches = st.fixed_dictionaries(
    {
        "batch_id": st.text(max_size=70) | st.integers(),
        "sent_at": st.floats(allow_nan=False) | st.text(max_size=5),
        "observations": st.lists(
            st.fixed_dictionaries(
                {
                    "seen_at": st.floats(allow_nan=False, allow_infinity=False) | st.none(),
                    "rssi": st.integers(-200, 200),
                    "frame": st.fixed_dictionaries(
                        {
                            "kind": st.sampled_from(["eddystone_eid", "ibeacon", ""]),
                            "eid": st.text(alphabet="0123456789abcdefg", max_size=18),
                            "tx_power": st.integers(-300, 300),
                        }
                    ),
                }
            ),
            max_size=4,
        ),
    }
)
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@seed(20261125)
@FUZZ
@given(body=json_values | near_batches, raw=st.binary(max_size=64))
def test_ingest_never_fails_with_500(world: World, body: Any, raw: bytes) -> None:
    client = world.client()
    token = world.seed.gateway_tokens["gw-entrance"]
    headers = {"Authorization": f"Bearer {token}"}
    for data in (json.dumps(body), raw):
        response = client.post(
            "/api/v1/gateways/gw-entrance/batches",
            data=data,
            content_type="application/json",
            headers=headers,
        )
        assert response.status_code in (202, 400, 409, 413), response.get_data(as_text=True)
        if response.status_code != 202:
            assert set(response.get_json()["error"]) == {"code", "message", "details"}


@seed(20261125)
@FUZZ
# Header values are printable ASCII: an HTTP client cannot send anything else.
@given(
    body=json_values,
    path_part=st.text(
        st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=12
    ),
)
def test_auth_and_store_endpoints_never_fail_with_500(
    world: World, body: Any, path_part: str
) -> None:
    client = world.client()
    # 400: the body broke a rule of the strict parse (Infinity: json_values draws it); 429:
    # the address tried too many log-ins (web/limits.py).
    assert client.post("/api/v1/auth/login", json=body).status_code in (400, 401, 429)
    for header in (f"Bearer {path_part}", path_part):
        response = client.get(
            f"/api/v1/stores/{world.seed.store_id}/arrivals", headers={"Authorization": header}
        )
        assert response.status_code == 401
    response = client.post(f"/api/v1/gateways/{quote(path_part, safe='')}/batches", json=body)
    assert response.status_code in (400, 401, 404), response.get_data(as_text=True)
    assert set(response.get_json()["error"]) == {"code", "message", "details"}


# Endpoints of each kind of caller, with their credentials: a hostile body is refused the same
# way before and after authentication.
HOSTILE_TARGETS = [
    ("POST", "/api/v1/optin", None),
    ("POST", "/api/v1/auth/login", None),
    ("POST", "/api/v1/gateways/gw-entrance/batches", "gateway"),
    ("PUT", "/api/v1/me/consents", "device"),
    ("POST", "/api/v1/me/sightings", "device"),
    ("POST", "/api/v1/stores/1/zones", "manager"),
    ("PUT", "/api/v1/stores/1/orders/A-1", "integration"),
    ("POST", "/api/v1/stores/1/redemptions", None),
]


MANAGER_HEADERS: dict[str, dict[str, str]] = {}


@seed(20261204)
@settings(FUZZ, max_examples=120)
@given(
    hostile=json_strategies.hostile_json_texts(MAX_JSON_DEPTH),
    target=st.sampled_from(HOSTILE_TARGETS),
)
def test_hostile_json_gets_its_400_on_every_kind_of_endpoint(
    world: World, hostile: tuple[str, str], target: tuple[str, str, str | None]
) -> None:
    text, expected_code = hostile
    method, url, caller = target
    tokens = {
        "gateway": world.seed.gateway_tokens["gw-entrance"],
        "device": world.seed.device_tokens["maria"],
        "integration": world.seed.integration_token,
    }
    headers = {}
    if caller == "manager":  # one login per test, not per example: argon2 is slow on purpose
        if world.db.url not in MANAGER_HEADERS:
            MANAGER_HEADERS[world.db.url] = world.staff_headers("morgan@demo.store")
        headers = MANAGER_HEADERS[world.db.url]
    elif caller is not None:
        headers = {"Authorization": f"Bearer {tokens[caller]}"}
    response = world.client().open(
        url, method=method, data=text, content_type="application/json", headers=headers
    )
    assert response.status_code == 400, (text[:200], response.get_data(as_text=True))
    assert response.get_json()["error"]["code"] == expected_code, text[:200]
