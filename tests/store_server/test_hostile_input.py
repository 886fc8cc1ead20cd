"""Input anyone can send never gets a 500: each probe that once did, against the real app.

Run on SQLite by default and on PostgreSQL with STORE_TEST_DATABASE_URL (where an id above
the column type, a NUL in text and a broken foreign key are errors of the database itself).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import Any

import pytest
from sqlalchemy import delete, event, select
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from store_server.db.models import ROW_ID_MAX, Gateway, Zone
from store_server.web.errors import ApiError
from store_server.web.input_limits import MAX_JSON_DEPTH, MAX_JSON_INTEGER, strict_loads
from tests.store_server.conftest import World

MANAGER = "morgan@demo.store"


def error_code(response: Any, status: int) -> str:
    """The answer's error code, after checking its status and the one error shape."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    code: str = body["error"]["code"]
    return code


def json_post(world: World, url: str, text: str, headers: dict[str, str] | None = None) -> Any:
    """POST a raw JSON text (json= would refuse to write NaN or deep nesting for us)."""
    return world.client().post(
        url, data=text, content_type="application/json", headers=headers or {}
    )


def nested(depth: int) -> str:
    """`depth` arrays inside each other: depth 1 is `[]`."""
    return "[" * depth + "]" * depth


def json_operations(world: World) -> list[tuple[str, str]]:
    """(method, URL) of every operation that takes a JSON body, path ids filled in."""
    found: list[tuple[str, str]] = []
    for rule in world.app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.rule == "/api/v1/sms/inbound":
            continue
        url = re.sub(r"<[^>]+>", "x", re.sub(r"<int:[^>]+>", "1", rule.rule))
        found.extend(
            (method, url) for method in sorted(rule.methods or ()) if method in {"POST", "PUT"}
        )
    return found


# --- path ids beyond the column type ---------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "/api/v1/stores/99999999999999999999/arrivals"),
        ("GET", f"/api/v1/stores/{ROW_ID_MAX + 1}/info"),
        ("GET", "/api/v1/stores/0/info"),
        ("DELETE", "/api/v1/me/tags/9223372036854775808"),
        ("POST", f"/api/v1/me/surveys/{2**63}"),
        ("PUT", f"/api/v1/stores/1/zones/{ROW_ID_MAX + 1}"),
        ("GET", "/api/v1/stores/" + "9" * 5000 + "/info"),
    ],
)
def test_an_id_beyond_the_column_range_is_a_json_404(world: World, method: str, url: str) -> None:
    response = world.client().open(url, method=method, headers=world.device_headers("maria"))
    assert error_code(response, 404) == "not_found"


def test_the_largest_id_reaches_the_view_and_finds_nothing(world: World) -> None:
    headers = world.staff_headers(MANAGER)
    url = f"/api/v1/stores/{world.seed.store_id}/zones/{ROW_ID_MAX}"
    response = world.client().put(
        url, json={"name": "x", "kind": "zone", "label": "x"}, headers=headers
    )
    assert error_code(response, 404) == "unknown_zone"
    response = world.client().get(f"/api/v1/stores/{ROW_ID_MAX}/info")
    assert error_code(response, 404) == "unknown_store"


def test_an_id_in_a_body_beyond_the_column_range_is_a_400(world: World) -> None:
    body = {"store_id": ROW_ID_MAX + 1, "consents": []}
    response = world.client().put(
        "/api/v1/me/consents", json=body, headers=world.device_headers("maria")
    )
    assert error_code(response, 400) == "invalid_body"
    response = world.client().put(
        f"/api/v1/stores/{world.seed.store_id}/gateways/gw-entrance",
        json={"zone_id": 2**40, "rssi_offset_db": 0},
        headers=world.staff_headers(MANAGER),
    )
    assert error_code(response, 400) == "invalid_body"


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
@pytest.mark.parametrize("beacon_id", ["0", str(ROW_ID_MAX + 1), "01"])
def test_an_id_out_of_range_names_nothing_whatever_the_method(
    world: World, method: str, beacon_id: str
) -> None:
    """Werkzeug answered 405 when the id's converter refused a value its expression matched
    (schemathesis: DELETE /stores/1/beacons/0); the range is in the expression now."""
    url = f"/api/v1/stores/{world.seed.store_id}/beacons/{beacon_id}"
    response = world.client().open(url, method=method, headers=world.staff_headers(MANAGER))
    assert error_code(response, 404) == "not_found"


def test_a_wrong_method_is_a_405_naming_the_allowed_ones(world: World) -> None:
    url = f"/api/v1/stores/{world.seed.store_id}/beacons/1"
    response = world.client().open(url, method="POST", headers=world.staff_headers(MANAGER))
    assert error_code(response, 405) == "method_not_allowed"
    assert set(response.headers["Allow"].split(", ")) == {"DELETE", "OPTIONS", "PUT"}
    assert response.content_type == "application/json"


def test_an_unknown_route_is_a_json_404(world: World) -> None:
    assert error_code(world.client().get("/api/v1/nothing-here"), 404) == "not_found"


@pytest.mark.parametrize(
    ("field", "value"), [("rssi", False), ("rssi", "-60"), ("seen_at", True), ("rssi", -60.5)]
)
def test_a_value_of_another_json_type_is_refused_not_coerced(
    world: World, field: str, value: Any
) -> None:
    """`false` is no integer, `"-60"` no number: pydantic's lax mode took them (schemathesis:
    an observation with `"rssi": false` was stored)."""
    sighting = {"beacon": "bcn-1", "rssi": -60, "seen_at": 1.0, field: value}
    body = {"store_id": world.seed.store_id, "sightings": [sighting]}
    response = world.client().post(
        "/api/v1/me/sightings", json=body, headers=world.device_headers("maria")
    )
    assert error_code(response, 400) == "invalid_body"
    assert response.get_json()["error"]["details"]["fields"][0]["loc"][-1] == field


@pytest.mark.parametrize(
    ("url", "body"),
    [("/api/v1/me/pause", "{not json"), ("/api/v1/me/pause", "\x89PNG")],
)
def test_an_optional_body_that_is_not_json_is_refused(world: World, url: str, body: str) -> None:
    """A view whose body is optional took a malformed one for none (schemathesis: random
    bytes paused detection)."""
    response = json_post(world, url, body, world.device_headers("maria"))
    assert error_code(response, 400) == "malformed_json"
    response = world.client().post(url, headers=world.device_headers("maria"))
    assert response.status_code == 200, response.get_json()


# --- JSON bodies -------------------------------------------------------------------------------

OPT_IN = (
    '{"store_id": 1, "first_name": "Ann", "x": %s,'
    ' "consents": [{"purpose": "arrival", "channel": "app"}]}'
)


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999", "-1e400", "9" * 30])
def test_non_finite_and_huge_numbers_are_invalid_json(world: World, number: str) -> None:
    response = json_post(world, "/api/v1/optin", OPT_IN % number)
    assert error_code(response, 400) == "invalid_json"


def test_a_large_finite_number_is_judged_by_the_schema(world: World) -> None:
    response = json_post(world, "/api/v1/optin", OPT_IN % "1e300")
    assert error_code(response, 400) == "invalid_body"  # the unknown field "x"


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 5_000, 200_000])
def test_deep_nesting_is_too_deep_on_every_json_endpoint(world: World, depth: int) -> None:
    operations = json_operations(world)
    assert len(operations) > 20  # the walk found the API, not nothing
    body = nested(depth)
    for method, url in operations:
        response = world.client().open(
            url, method=method, data=body, content_type="application/json"
        )
        assert error_code(response, 400) == "too_deep", (method, url)


def test_nesting_up_to_the_limit_is_parsed(world: World) -> None:
    response = json_post(world, "/api/v1/optin", OPT_IN % nested(MAX_JSON_DEPTH - 1))
    assert error_code(response, 400) == "invalid_body"


@pytest.mark.parametrize(
    "text",
    [
        OPT_IN.replace("Ann", "An\\u0000n") % "1",
        '{"a\\u0000": 1}',
        '[[["\\u0000"]]]',
    ],
)
def test_a_nul_in_any_string_or_key_is_refused(world: World, text: str) -> None:
    for method, url in json_operations(world):
        response = world.client().open(
            url, method=method, data=text, content_type="application/json"
        )
        assert error_code(response, 400) == "nul_character", (method, url)


def test_a_nul_in_a_string_never_reaches_the_database_and_is_located(world: World) -> None:
    text = '{"email": "sam@demo.store", "password": ["ok", "x\\u0000"]}'
    response = json_post(world, "/api/v1/auth/login", text)
    assert error_code(response, 400) == "nul_character"
    assert response.get_json()["error"]["details"]["fields"][0]["loc"] == ["password", 1]


def test_a_lone_surrogate_is_refused_before_the_database(world: World) -> None:
    """`"\\ud800"` decodes to a str no UTF-8 database can store (PostgreSQL's driver fails to
    encode it); the strict validation of the JSON text refuses it."""
    body = {
        "store_id": world.seed.store_id,
        "first_name": "Ann\ud800",
        "consents": [{"purpose": "arrival", "channel": "app"}],
    }
    text = json.dumps(body)  # ASCII: the surrogate as its escape
    assert "\\ud800" in text
    response = json_post(world, "/api/v1/optin", text)
    assert error_code(response, 400) == "invalid_body"


@pytest.mark.parametrize(
    "body",
    [
        '{"a": ["x\\u0000"]}'.encode("utf-16"),  # no escape to find in the bytes as UTF-8
        '{"a": ["x\\u0000"]}'.encode("utf-32"),
        b'{"a\\u0000": 1}',
    ],
)
def test_a_nul_is_found_whatever_the_encoding(body: bytes) -> None:
    """Text without the escape skips the NUL walk: bytes in UTF-16 or UTF-32 must not."""
    with pytest.raises(ApiError) as refused:
        strict_loads(body)
    assert refused.value.code == "nul_character"


def test_a_text_without_nul_is_still_checked_for_depth() -> None:
    assert strict_loads(nested(MAX_JSON_DEPTH)) is not None
    for text in (nested(MAX_JSON_DEPTH + 1), f'{{"a": {nested(MAX_JSON_DEPTH)}}}'):
        with pytest.raises(ApiError) as refused:
            strict_loads(text)
        assert refused.value.code == "too_deep"


def test_integers_are_bounded_at_64_bits_however_long_their_text() -> None:
    assert strict_loads(f"[{MAX_JSON_INTEGER}, -{MAX_JSON_INTEGER}, -999999999999999999]") == [
        MAX_JSON_INTEGER,
        -MAX_JSON_INTEGER,
        -999999999999999999,
    ]
    for text in (str(MAX_JSON_INTEGER + 1), f"-{MAX_JSON_INTEGER + 2}"):
        with pytest.raises(ApiError) as refused:
            strict_loads(text)
        assert refused.value.code == "invalid_json"


@pytest.mark.parametrize(
    "text",
    [
        "1e999",  # the whole body
        '[1.5, {"a": [-1e400]}]',  # deep in it
        '{"id": "1234567890123456789012", "x": 1e999}',  # a long run of digits in a string
    ],
)
def test_an_infinite_float_is_refused_wherever_it_is(text: str) -> None:
    with pytest.raises(ApiError) as refused:
        strict_loads(text)
    assert refused.value.code == "invalid_json"


def test_finite_floats_whose_sum_overflows_are_kept() -> None:
    """The floats are checked by their sum: one that overflows is decided number by number."""
    assert strict_loads('{"a": [1e308, 1e308], "b": -1.5}') == {"a": [1e308, 1e308], "b": -1.5}


def test_malformed_json_keeps_its_code(world: World) -> None:
    response = json_post(world, "/api/v1/optin", '{"store_id": ')
    assert error_code(response, 400) == "malformed_json"


# --- NUL in paths, query strings and forms -----------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("POST", "/api/v1/gateways/gw-entrance%00/batches"),
        ("GET", "/api/v1/gateways/%00/config"),
        ("POST", "/api/v1/messages/%00/seen"),
        ("GET", "/u/abc%00def"),
        ("POST", "/u/abc%00def"),
        ("GET", "/r/AB%00CD"),
        ("PUT", "/api/v1/stores/1/orders/A%00B"),
        ("PUT", "/api/v1/stores/1/gateways/gw%00"),
        ("GET", "/app?store=1%00"),
        ("GET", "/api/v1/stores/1/info?x%00=1"),
    ],
)
def test_a_nul_in_the_path_or_query_is_a_400(world: World, method: str, url: str) -> None:
    response = world.client().open(url, method=method, headers=world.staff_headers(MANAGER))
    assert error_code(response, 400) == "nul_character"


def test_a_nul_in_a_form_field_is_a_400(world: World) -> None:
    response = world.client().post("/u/abc", data={"List-Unsubscribe": "One-Click\x00"})
    assert error_code(response, 400) == "nul_character"


# --- unknown stores ----------------------------------------------------------------------------


def test_opt_in_at_an_unknown_store_is_unknown_store(world: World) -> None:
    body = {
        "store_id": 999_999,
        "first_name": "Ann",
        "consents": [{"purpose": "arrival", "channel": "app"}],
    }
    response = world.client().post("/api/v1/optin", json=body)
    assert error_code(response, 404) == "unknown_store"


def test_consents_for_an_unknown_store_are_unknown_store(world: World) -> None:
    body = {"store_id": 999_999, "consents": [{"purpose": "arrival", "channel": "app"}]}
    headers = world.device_headers("maria")
    response = world.client().put("/api/v1/me/consents", json=body, headers=headers)
    assert error_code(response, 404) == "unknown_store"
    # Withdrawing nothing at a store that does not exist is the same refusal, not a 200.
    response = world.client().put(
        "/api/v1/me/consents", json={"store_id": 999_999, "consents": []}, headers=headers
    )
    assert error_code(response, 404) == "unknown_store"


# --- a zone changed while another manager deletes it -------------------------------------------


def delete_before_the_first_flush(world: World, zone_id: int) -> None:
    """The next flush of any session of the app first sees the zone deleted by another
    transaction, committed: the moment a concurrent manager's delete lands."""

    def delete_zone_elsewhere(_session: Session, _context: Any, _instances: Any) -> None:
        with world.db.engine.begin() as connection:
            connection.execute(delete(Zone).where(Zone.id == zone_id))

    event.listen(world.db.sessions, "before_flush", delete_zone_elsewhere, once=True)


def new_zone(world: World, name: str) -> int:
    response = world.client().post(
        f"/api/v1/stores/{world.seed.store_id}/zones",
        json={"name": name, "kind": "zone", "label": name},
        headers=world.staff_headers(MANAGER),
    )
    assert response.status_code == 201, response.get_json()
    zone_id: int = response.get_json()["id"]
    return zone_id


def test_editing_a_zone_deleted_meanwhile_is_unknown_zone(world: World) -> None:
    zone_id = new_zone(world, "racks")
    headers = world.staff_headers(MANAGER)
    delete_before_the_first_flush(world, zone_id)
    response = world.client().put(
        f"/api/v1/stores/{world.seed.store_id}/zones/{zone_id}",
        json={"name": "racks 2", "kind": "zone", "label": "racks"},
        headers=headers,
    )
    assert error_code(response, 404) == "unknown_zone"


def test_placing_a_gateway_in_a_zone_deleted_meanwhile_names_the_zone(world: World) -> None:
    zone_id = new_zone(world, "racks")
    headers = world.staff_headers(MANAGER)
    delete_before_the_first_flush(world, zone_id)
    response = world.client().put(
        f"/api/v1/stores/{world.seed.store_id}/gateways/gw-entrance",
        json={"zone_id": zone_id, "rssi_offset_db": 1.5},
        headers=headers,
    )
    assert error_code(response, 400) == "invalid_body"
    assert response.get_json()["error"]["details"]["fields"][0]["loc"] == ["zone_id"]
    with world.db.sessions() as session:
        gateway = session.get(Gateway, "gw-entrance")
        assert gateway is not None and gateway.rssi_offset_db != 1.5  # rolled back


def test_edits_racing_deletes_get_only_4xx(world: World) -> None:
    headers = world.staff_headers(MANAGER)
    statuses: list[int] = []
    for round_number in range(8):
        zone_id = new_zone(world, f"race {round_number}")
        url = f"/api/v1/stores/{world.seed.store_id}/zones/{zone_id}"
        start = threading.Barrier(2)

        def edit(url: str = url, start: threading.Barrier = start) -> None:
            start.wait(timeout=10)
            body = {"name": "renamed", "kind": "zone", "label": "x"}
            for _ in range(3):
                statuses.append(world.client().put(url, json=body, headers=headers).status_code)

        def remove(url: str = url, start: threading.Barrier = start) -> None:
            start.wait(timeout=10)
            statuses.append(world.client().delete(url, headers=headers).status_code)

        threads = [threading.Thread(target=edit), threading.Thread(target=remove)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        world.client().delete(url, headers=headers)  # the edit may have won: clean up
    assert statuses and set(statuses) <= {200, 404, 409}, statuses


# --- database errors that escape a view ----------------------------------------------------------


def test_an_untranslated_integrity_error_is_a_409_logged_without_parameters(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "maria.secret@example.org"

    @world.app.post("/_probe/integrity")
    def integrity_probe() -> Any:
        with world.db.transaction() as session:
            zone = session.scalars(select(Zone)).first()
            assert zone is not None
            session.add(Zone(store_id=zone.store_id, name=zone.name, kind="floor", label=secret))
        return {}

    with caplog.at_level(logging.WARNING):
        response = world.client().post("/_probe/integrity")
    assert error_code(response, 409) == "conflict"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "event=database_error type=IntegrityError" in logged
    assert secret not in logged
    assert secret not in caplog.text


def test_a_value_the_database_refuses_is_a_400(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "+15550100999"

    @world.app.post("/_probe/data")
    def data_probe() -> Any:
        # What PostgreSQL raises for a value out of its column's range, with its parameter.
        raise DataError("SELECT :phone", {"phone": secret}, ValueError("out of range"))

    with caplog.at_level(logging.WARNING):
        response = world.client().post("/_probe/data")
    assert error_code(response, 400) == "invalid_value"
    assert "event=database_error type=DataError" in caplog.text
    assert secret not in caplog.text
