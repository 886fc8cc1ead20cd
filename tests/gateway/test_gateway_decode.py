"""Decoders: named vectors, negative cases, and a seeded fuzz that nothing ever raises."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.decode import (
    EDDYSTONE_SERVICE_UUID,
    EddystoneEid,
    decode_advert,
    decode_eddystone_eid,
    decode_manufacturer_data,
    decode_service_data,
)

VECTORS_FILE = Path(__file__).resolve().parents[1] / "vectors" / "adverts.json"

# Hand-computed: frame type 0x30, tx power 0xEC = -20 dBm, EID 01 02 .. 08.
EID_FRAME_TX_MINUS_20 = bytes.fromhex("30ec0102030405060708")
# A 16-bit UUID in bleak's 128-bit form, but not Eddystone's (0xFEAB).
OTHER_SERVICE_UUID = "0000feab-0000-1000-8000-00805f9b34fb"
# Apple's company id with an iBeacon payload: not decoded yet (a later issue), so no frame.
IBEACON_COMPANY_ID = 0x004C
IBEACON_PAYLOAD = bytes.fromhex("0215426c7565436861726d426561636f6e730efe1355c5")


def _load_vectors() -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads(VECTORS_FILE.read_text())["vectors"]
    return vectors


def _decode_vector(advert: dict[str, Any]) -> list[dict[str, Any]]:
    manufacturer = {int(k): bytes.fromhex(v) for k, v in advert["manufacturer_data"].items()}
    service = {k: bytes.fromhex(v) for k, v in advert["service_data"].items()}
    return [frame.to_wire() for frame in decode_advert(manufacturer, service)]


def test_hand_computed_eid_frame() -> None:
    frame = decode_service_data(EDDYSTONE_SERVICE_UUID, EID_FRAME_TX_MINUS_20)
    assert frame == EddystoneEid(eid=bytes(range(1, 9)), tx_power=-20)
    assert frame is not None
    assert frame.to_wire() == {
        "kind": "eddystone_eid",
        "eid": "0102030405060708",
        "tx_power": -20,
    }
    assert frame.identity == "eddystone_eid:0102030405060708"


@pytest.mark.parametrize(("byte", "dbm"), [(0x00, 0), (0x7F, 127), (0x80, -128), (0xFF, -1)])
def test_tx_power_is_signed(byte: int, dbm: int) -> None:
    frame = decode_eddystone_eid(bytes([0x30, byte]) + bytes(8))
    assert frame is not None
    assert frame.tx_power == dbm


def test_service_uuid_key_is_case_insensitive() -> None:
    assert decode_service_data(EDDYSTONE_SERVICE_UUID.upper(), EID_FRAME_TX_MINUS_20) is not None


def test_shared_eid_vector_decodes_exactly() -> None:
    (vector,) = [v for v in _load_vectors() if v["name"] == "eid"]
    assert _decode_vector(vector["advert"]) == vector["frames"]


@pytest.mark.parametrize("vector", _load_vectors(), ids=lambda v: v["name"])
def test_shared_vectors_never_decode_to_a_wrong_frame(vector: dict[str, Any]) -> None:
    """Formats without a decoder yet give nothing; whatever is decoded must be expected."""
    decoded = _decode_vector(vector["advert"])
    assert all(frame in vector["frames"] for frame in decoded)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\x30", id="type-only"),
        pytest.param(EID_FRAME_TX_MINUS_20[:-1], id="one-short"),
        pytest.param(EID_FRAME_TX_MINUS_20 + b"\x00", id="one-long"),
        pytest.param(b"\x00" + EID_FRAME_TX_MINUS_20[1:], id="uid-type"),
        pytest.param(b"\x10" + EID_FRAME_TX_MINUS_20[1:], id="url-type"),
        pytest.param(b"\x20" + EID_FRAME_TX_MINUS_20[1:], id="tlm-type"),
        pytest.param(b"\x31" + EID_FRAME_TX_MINUS_20[1:], id="unknown-type"),
    ],
)
def test_not_an_eid_frame_gives_nothing(data: bytes) -> None:
    assert decode_service_data(EDDYSTONE_SERVICE_UUID, data) is None
    assert decode_advert({}, {EDDYSTONE_SERVICE_UUID: data}) == []


def test_eid_bytes_under_another_uuid_give_nothing() -> None:
    assert decode_service_data(OTHER_SERVICE_UUID, EID_FRAME_TX_MINUS_20) is None


def test_unsupported_manufacturer_data_gives_nothing() -> None:
    assert decode_manufacturer_data(IBEACON_COMPANY_ID, IBEACON_PAYLOAD) is None


def test_advert_with_several_entries_yields_each_frame() -> None:
    other_eid = bytes.fromhex("30e3") + b"EID_test"
    frames = decode_advert(
        {IBEACON_COMPANY_ID: IBEACON_PAYLOAD},
        {EDDYSTONE_SERVICE_UUID: EID_FRAME_TX_MINUS_20, OTHER_SERVICE_UUID: other_eid},
    )
    assert frames == [EddystoneEid(eid=bytes(range(1, 9)), tx_power=-20)]


@settings(derandomize=True, max_examples=400)
@given(uuid=st.text(max_size=40) | st.just(EDDYSTONE_SERVICE_UUID), data=st.binary(max_size=32))
def test_fuzz_service_data_never_raises(uuid: str, data: bytes) -> None:
    frame = decode_service_data(uuid, data)
    if frame is not None:
        assert len(frame.eid) == 8
        assert -128 <= frame.tx_power <= 127
        assert frame.to_wire()["eid"] == data[2:].hex()


@settings(derandomize=True, max_examples=400)
@given(tail=st.binary(max_size=16))
def test_fuzz_eid_type_byte_decodes_only_at_exact_length(tail: bytes) -> None:
    frame = decode_service_data(EDDYSTONE_SERVICE_UUID, b"\x30" + tail)
    assert (frame is not None) == (len(tail) == 9)


@settings(derandomize=True, max_examples=300)
@given(
    manufacturer=st.dictionaries(st.integers(-(2**70), 2**70), st.binary(max_size=32), max_size=4),
    service=st.dictionaries(
        st.text(max_size=40) | st.just(EDDYSTONE_SERVICE_UUID), st.binary(max_size=32), max_size=4
    ),
)
def test_fuzz_advert_never_raises(
    manufacturer: dict[int, bytes], service: dict[str, bytes]
) -> None:
    frames = decode_advert(manufacturer, service)
    assert len(frames) <= len(service)
    assert all(isinstance(frame, EddystoneEid) for frame in frames)
