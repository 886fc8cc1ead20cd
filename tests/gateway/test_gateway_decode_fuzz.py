"""Seeded fuzz: no decoder raises on any bytes or keys, and what decodes round-trips."""

from __future__ import annotations

import struct
from typing import Any

from hypothesis import given, seed, settings
from hypothesis import strategies as st

from gateway.decode import (
    EDDYSTONE_SERVICE_UUID,
    AltBeacon,
    EddystoneEid,
    EddystoneEncryptedTlm,
    EddystoneTlm,
    EddystoneUid,
    EddystoneUrl,
    IBeacon,
    decode_advert,
    decode_altbeacon,
    decode_eddystone,
    decode_eddystone_eid,
    decode_eddystone_tlm,
    decode_eddystone_uid,
    decode_eddystone_url,
    decode_ibeacon,
    decode_manufacturer_data,
    decode_service_data,
)

FUZZ_SEED = 20240611
APPLE = 0x004C
FRAME_CLASSES = (
    IBeacon,
    AltBeacon,
    EddystoneUid,
    EddystoneUrl,
    EddystoneTlm,
    EddystoneEncryptedTlm,
    EddystoneEid,
)
# Bytes that look like the start of a frame, so the fuzz reaches past the first checks.
FRAME_STARTS = [b"\x02\x15", b"\xbe\xac", b"\x00", b"\x10", b"\x20\x00", b"\x20\x01", b"\x30"]
URL_CHARACTERS = "ABCXYZabcxyz0189-._~:/?#[]@!$&'()*+,;=%"

payloads = st.binary(max_size=32) | st.builds(
    bytes.__add__, st.sampled_from(FRAME_STARTS), st.binary(max_size=24)
)
any_keys = (
    st.integers(-(2**70), 2**70)
    | st.sampled_from([0, APPLE, 0xFFFF, 0x10000])
    | st.text(max_size=40)
    | st.just(EDDYSTONE_SERVICE_UUID)
    | st.none()
    | st.booleans()
    | st.floats(allow_nan=False)
)
any_values = (
    payloads | st.text(max_size=8) | st.none() | st.integers() | st.builds(bytearray, payloads)
)


@seed(FUZZ_SEED)
@settings(derandomize=True, max_examples=500)
@given(data=payloads, company_id=st.integers(-(2**70), 2**70) | st.sampled_from([APPLE, 0xFFFF]))
def test_fuzz_format_decoders_never_raise(data: bytes, company_id: int) -> None:
    results = [
        decode_ibeacon(data),
        decode_altbeacon(company_id, data),
        decode_eddystone(data),
        decode_eddystone_uid(data),
        decode_eddystone_url(data),
        decode_eddystone_tlm(data),
        decode_eddystone_eid(data),
    ]
    for frame in results:
        if frame is not None:
            assert isinstance(frame, FRAME_CLASSES)
            assert frame.to_wire()["kind"] == frame.kind


@seed(FUZZ_SEED)
@settings(derandomize=True, max_examples=500)
@given(key=any_keys, data=any_values)
def test_fuzz_entry_decoders_never_raise_on_any_key_or_value(key: Any, data: Any) -> None:
    for frame in (decode_manufacturer_data(key, data), decode_service_data(key, data)):
        if frame is not None:
            assert isinstance(frame, FRAME_CLASSES)
            assert isinstance(data, bytes | bytearray)


@seed(FUZZ_SEED)
@settings(derandomize=True, max_examples=300)
@given(
    manufacturer=st.dictionaries(any_keys, any_values, max_size=4),
    service=st.dictionaries(any_keys, any_values, max_size=4),
)
def test_fuzz_advert_never_raises(manufacturer: dict[Any, Any], service: dict[Any, Any]) -> None:
    frames = decode_advert(manufacturer, service)
    assert len(frames) <= len(manufacturer) + len(service)
    assert all(isinstance(frame, FRAME_CLASSES) for frame in frames)


@seed(FUZZ_SEED)
@settings(derandomize=True, max_examples=300)
@given(
    uuid=st.binary(min_size=16, max_size=16),
    major=st.integers(0, 0xFFFF),
    minor=st.integers(0, 0xFFFF),
    power=st.integers(-128, 127),
)
def test_fuzz_ibeacon_round_trips(uuid: bytes, major: int, minor: int, power: int) -> None:
    data = b"\x02\x15" + uuid + struct.pack(">HHb", major, minor, power)
    assert decode_manufacturer_data(APPLE, data) == IBeacon(uuid, major, minor, power)


@seed(FUZZ_SEED)
@settings(derandomize=True, max_examples=300)
@given(
    tx_power=st.integers(-128, 127),
    scheme=st.integers(0, 3),
    encoded=st.lists(
        st.sampled_from(URL_CHARACTERS).map(ord) | st.integers(0, 13), max_size=17
    ).map(bytes),
    bad_byte=st.integers(14, 32) | st.integers(127, 255) | st.sampled_from(b'"<>\\^`{|}'),
    bad_at=st.integers(0, 16),
)
def test_fuzz_url_decodes_exactly_when_every_byte_is_valid(
    tx_power: int, scheme: int, encoded: bytes, bad_byte: int, bad_at: int
) -> None:
    head = bytes([0x10, tx_power & 0xFF, scheme])
    frame = decode_eddystone_url(head + encoded)
    assert frame is not None and frame.tx_power == tx_power
    corrupted = bytearray(encoded[:16])
    corrupted.insert(min(bad_at, len(corrupted)), bad_byte)
    assert decode_eddystone_url(head + bytes(corrupted)) is None


@seed(FUZZ_SEED)
@settings(derandomize=True, max_examples=300)
@given(tail=st.binary(max_size=24))
def test_fuzz_eddystone_lengths_are_exact(tail: bytes) -> None:
    assert (decode_eddystone(b"\x30" + tail) is not None) == (len(tail) == 9)
    assert (decode_eddystone(b"\x00" + tail) is not None) == (len(tail) in (17, 19))
    assert (decode_eddystone(b"\x20\x00" + tail) is not None) == (len(tail) == 12)
    assert (decode_eddystone(b"\x20\x01" + tail) is not None) == (len(tail) == 16)
    assert decode_service_data(EDDYSTONE_SERVICE_UUID, b"\x40" + tail) is None
