"""Frame encoders: the shared advert vectors byte for byte, and properties of valid inputs."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_sim.eddystone import EDDYSTONE_SERVICE_UUID
from firmware_sim.frames import (
    APPLE_COMPANY_ID,
    altbeacon,
    eddystone_eid,
    eddystone_tlm,
    eddystone_uid,
    eddystone_url,
    encode_frame,
    encode_url,
    ibeacon,
    tlm_temperature,
)

VECTORS_FILE = Path(__file__).parent.parent / "vectors" / "adverts.json"
VECTORS: list[dict[str, Any]] = json.loads(VECTORS_FILE.read_text())["vectors"]
# Vectors with exactly one frame: every such encoding in the file is canonical.
SINGLE_FRAME = [v for v in VECTORS if len(v["frames"]) == 1]

int8 = st.integers(-128, 127)
uint16 = st.integers(0, 0xFFFF)
uuids = st.uuids().map(str)


@pytest.mark.parametrize("vector", SINGLE_FRAME, ids=[v["name"] for v in SINGLE_FRAME])
def test_encoding_each_vector_frame_gives_the_vector_bytes(vector: dict[str, Any]) -> None:
    advert = vector["advert"]
    parts = encode_frame(vector["frames"][0])
    assert parts.to_json(advert["address"], advert["rssi"]) == advert


def test_every_frame_kind_in_the_vectors_is_covered() -> None:
    kinds = {v["frames"][0]["kind"] for v in SINGLE_FRAME}
    assert {"ibeacon", "altbeacon", "eddystone_uid", "eddystone_url", "eddystone_tlm"} <= kinds


@pytest.mark.parametrize(
    ("url", "encoded"),
    [
        ("https://github.com/citruz", "03" + b"github".hex() + "00" + b"citruz".hex()),
        ("http://www.example.org", "00" + b"example".hex() + "08"),
        ("https://www.a.com/b.info/", "01" + b"a".hex() + "00" + b"b".hex() + "04"),
        ("http://x.co", "02" + b"x.co".hex()),
    ],
)
def test_url_encoding_is_the_shortest(url: str, encoded: str) -> None:
    assert encode_url(url).hex() == encoded


@pytest.mark.parametrize(
    "url", ["ftp://example.com", "https://" + "a" * 20, "https://ex ample.com", "https://é.com"]
)
def test_urls_a_frame_cannot_carry_are_rejected(url: str) -> None:
    with pytest.raises(ValueError):
        encode_url(url)


def test_tlm_temperature_fixed_point_and_unsupported() -> None:
    assert tlm_temperature(None).hex() == "8000"
    assert tlm_temperature(28.0).hex() == "1c00"
    assert tlm_temperature(-1.5).hex() == "fe80"
    assert tlm_temperature(25.5).hex() == "1980"


@given(uuids, uint16, uint16, int8)
def test_ibeacon_is_25_bytes_under_apple(u: str, major: int, minor: int, power: int) -> None:
    payload = ibeacon(u, major, minor, power).manufacturer_data[APPLE_COMPANY_ID]
    assert len(payload) == 23 and payload[:2] == b"\x02\x15"
    assert payload[2:18] == uuid.UUID(u).bytes
    assert int.from_bytes(payload[18:20], "big") == major
    assert int.from_bytes(payload[22:], "big", signed=True) == power


@given(uint16, uuids, uint16, uint16, int8, st.integers(0, 255))
def test_altbeacon_layout(company: int, id1: str, id2: int, id3: int, ref: int, res: int) -> None:
    parts = altbeacon(company, id1, id2, id3, ref, res)
    payload = parts.manufacturer_data[company]
    assert len(payload) == 24 and payload[:2] == b"\xbe\xac"
    assert payload[-1] == res and int.from_bytes(payload[-2:-1], "big", signed=True) == ref


@given(int8, st.binary(min_size=10, max_size=10), st.binary(min_size=6, max_size=6))
def test_uid_is_20_bytes(tx_power: int, namespace: bytes, instance: bytes) -> None:
    parts = eddystone_uid(tx_power, namespace, instance)
    data = parts.service_data[EDDYSTONE_SERVICE_UUID]
    assert len(data) == 20 and data[0] == 0x00 and data[-2:] == b"\x00\x00"
    assert parts.service_uuids == (EDDYSTONE_SERVICE_UUID,)


@given(
    st.integers(0, 0xFFFF),
    st.one_of(st.none(), st.floats(-127.9, 127.9)),
    st.integers(0, 0xFFFFFFFF),
    st.integers(0, 0xFFFFFFFF),
)
def test_tlm_is_14_bytes(mv: int, temp: float | None, adv: int, sec: int) -> None:
    data = eddystone_tlm(mv, temp, adv, sec).service_data[EDDYSTONE_SERVICE_UUID]
    assert len(data) == 14 and data[:2] == b"\x20\x00"
    assert int.from_bytes(data[2:4], "big") == mv
    assert int.from_bytes(data[6:10], "big") == adv and int.from_bytes(data[10:], "big") == sec


@given(int8, st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-/", min_size=1, max_size=12))
def test_url_frames_round_trip_their_length(tx_power: int, path: str) -> None:
    url = f"https://{path}.com/"
    data = eddystone_url(tx_power, url).service_data[EDDYSTONE_SERVICE_UUID]
    assert data[0] == 0x10 and data[2] == 3 and data[-1] == 0x00
    assert 4 <= len(data) <= 20


@given(int8, st.binary(min_size=8, max_size=8))
def test_eid_is_10_bytes(tx_power: int, eid: bytes) -> None:
    data = eddystone_eid(tx_power, eid).service_data[EDDYSTONE_SERVICE_UUID]
    assert data == bytes([0x30]) + tx_power.to_bytes(1, "big", signed=True) + eid


@pytest.mark.parametrize(
    "call",
    [
        lambda: ibeacon("not-a-uuid", 1, 1, -59),
        lambda: ibeacon(str(uuid.UUID(int=0)), 70000, 1, -59),
        lambda: ibeacon(str(uuid.UUID(int=0)), 1, 1, -200),
        lambda: altbeacon(0x10000, str(uuid.UUID(int=0)), 1, 1, -59),
        lambda: eddystone_uid(0, b"short", bytes(6)),
        lambda: eddystone_tlm(70000, None, 0, 0),
        lambda: eddystone_tlm(3000, 200.0, 0, 0),
        lambda: eddystone_eid(0, bytes(7)),
        lambda: encode_frame({"kind": "nope"}),
    ],
)
def test_values_a_frame_cannot_carry_are_rejected(call: Any) -> None:
    with pytest.raises(ValueError):
        call()
