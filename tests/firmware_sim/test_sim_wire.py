"""The radio link's line format: vectors parse, garbage gives None, URLs are checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_sim.wire import (
    advert_line,
    hello_line,
    parse_advert_line,
    parse_hello_line,
    parse_radio_url,
)

ADVERTS_FILE = Path(__file__).parent.parent / "vectors" / "adverts.json"


def _advert_vectors() -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads(ADVERTS_FILE.read_text())["vectors"]
    return [v["advert"] for v in vectors]


@pytest.mark.parametrize("advert", _advert_vectors(), ids=lambda a: a["address"])
def test_every_vector_advert_parses(advert: dict[str, Any]) -> None:
    parsed = parse_advert_line(json.dumps(advert).encode())
    assert parsed is not None
    assert parsed.rssi == advert["rssi"]
    assert parsed.manufacturer_data == {
        int(k): bytes.fromhex(v) for k, v in advert["manufacturer_data"].items()
    }
    assert parsed.service_data == {k: bytes.fromhex(v) for k, v in advert["service_data"].items()}


def test_advert_line_round_trips() -> None:
    advert = _advert_vectors()[0]
    line = advert_line(advert)  # type: ignore[arg-type]
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line) == advert


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'{"address": 1, "rssi": -50}',
        b'{"address": "AA", "rssi": true}',
        b'{"address": "AA", "rssi": -50, "manufacturer_data": {"76": "zz"}}',
        b'{"address": "AA", "rssi": -50, "manufacturer_data": {"70000": "00"}}',
        b'{"address": "AA", "rssi": -50, "manufacturer_data": {"x": "00"}}',
        b'{"address": "AA", "rssi": -50, "service_data": {"u": 5}}',
        b'{"address": "AA", "rssi": -50, "service_uuids": [1]}',
        b'{"address": "AA", "rssi": -50, "tx_power": "high"}',
        b'{"address": "AA", "rssi": -50, "local_name": 3}',
        b"\xff\xfe",
    ],
)
def test_malformed_advert_lines_give_none(line: bytes) -> None:
    assert parse_advert_line(line) is None


def test_minimal_advert_line_parses_with_defaults() -> None:
    parsed = parse_advert_line(b'{"address": "AA", "rssi": -50}')
    assert parsed is not None
    assert (parsed.manufacturer_data, parsed.service_data, parsed.service_uuids) == ({}, {}, [])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_parse_advert_line_never_raises_on_bytes(line: bytes) -> None:
    parse_advert_line(line)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            key: _json_values
            for key in (
                "address",
                "rssi",
                "local_name",
                "tx_power",
                "manufacturer_data",
                "service_data",
                "service_uuids",
            )
        },
    )
)
def test_parse_advert_line_never_raises_on_json(document: dict[str, Any]) -> None:
    parse_advert_line(json.dumps(document).encode())


def test_hello_round_trip_and_rejects() -> None:
    assert parse_hello_line(hello_line("gw-entrance")) == "gw-entrance"
    for line in (b"hello", b"{}", b'{"gateway": ""}', b'{"gateway": 3}', b"[]"):
        assert parse_hello_line(line) is None


def test_radio_url() -> None:
    url = parse_radio_url("tcp://127.0.0.1:4567/gw-entrance")
    assert (url.host, url.port, url.gateway) == ("127.0.0.1", 4567, "gw-entrance")
    assert parse_radio_url("tcp://[::1]:80/gw").host == "::1"


@pytest.mark.parametrize(
    "url",
    [
        "",
        "http://127.0.0.1:1/gw",
        "tcp://127.0.0.1/gw",
        "tcp://127.0.0.1:99999/gw",
        "tcp://127.0.0.1:1/",
        "tcp://127.0.0.1:1/a/b",
        "tcp://:1/gw",
    ],
)
def test_bad_radio_urls(url: str) -> None:
    with pytest.raises(ValueError):
        parse_radio_url(url)
