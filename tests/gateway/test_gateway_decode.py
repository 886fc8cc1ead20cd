"""Decoders: every shared vector exactly, named real captures, and negative cases per format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest

from gateway.decode import (
    EDDYSTONE_SERVICE_UUID,
    AltBeacon,
    EddystoneEid,
    EddystoneEncryptedTlm,
    EddystoneTlm,
    EddystoneUid,
    EddystoneUrl,
    Frame,
    IBeacon,
    decode_advert,
    decode_altbeacon,
    decode_eddystone_eid,
    decode_eddystone_tlm,
    decode_eddystone_uid,
    decode_eddystone_url,
    decode_ibeacon,
    decode_manufacturer_data,
    decode_service_data,
)

VECTORS_FILE = Path(__file__).resolve().parents[1] / "vectors" / "adverts.json"

APPLE = 0x004C
# The AltBeacon sample's company id (0xFFFF: the SIG's id for tests, not a real company).
ALTBEACON_TEST_COMPANY = 0xFFFF
# A 16-bit UUID in bleak's 128-bit form, but not Eddystone's (0xFEAB).
OTHER_SERVICE_UUID = "0000feab-0000-1000-8000-00805f9b34fb"

# Real captures, written out byte by byte (the same bytes as in tests/vectors/adverts.json).
# ibeacon-ble tests, SERVICE_INFO: a Blue Charm beacon whose UUID is ASCII "BlueCharmBeacons".
IBEACON_BLUE_CHARM = b"\x02\x15BlueCharmBeacons\x0e\xfe\x13\x55\xc5"
# theengs decoder tests: the widespread Chinese default UUID FDA50693-..., power +26.
IBEACON_FDA50693 = (
    b"\x02\x15\xfd\xa5\x06\x93\xa4\xe2\x4f\xb1\xaf\xcf\xc6\xeb\x07\x64\x78\x25\x00\x01\x00\x02\x1a"
)
# ble_monitor tests: an AltBeacon under company 0xFFFF, ref RSSI -60.
ALTBEACON_BLE_MONITOR = (
    b"\xbe\xac\xd3\x16\x2f\x5a\xf3\xee\x49\x47\x99\xdb\x09\x75\x60\x62\xd0\xfc"
    b"\x00\x5a\x00\x05\xc4\x00"
)
# beacontools tests: Eddystone-UID with the 2 RFU bytes present.
UID_BEACONTOOLS = (
    b"\x00\xe3\x12\x34\x56\x78\x90\x12\x34\x67\x89\x01\x00\x00\x00\x00\x00\x01\x00\x00"
)
# beacontools tests: Eddystone-URL "https://" + "github" + ".com/" + "citruz".
URL_BEACONTOOLS = b"\x10\xf8\x03github\x00citruz"
# ibeacon-ble tests fixture: plain TLM, 3070 mV, 28.0 C, 1800 adverts, 1599.6 s.
TLM_IBEACON_BLE = b"\x20\x00\x0b\xfe\x1c\x00\x00\x00\x07\x08\x00\x00\x3e\x7c"
# beacontools tests: encrypted TLM, salt 0xDEAD, MIC 0xBEFF.
ETLM_BEACONTOOLS = b"\x20\x01AAAAAAAAAAAA\xde\xad\xbe\xff"
# beacontools tests: EID "EID_test", tx power -29.
EID_BEACONTOOLS = b"\x30\xe3EID_test"

NAMED_CAPTURES: list[tuple[str, int | str, bytes, Frame]] = [
    (
        "ib1",
        APPLE,
        IBEACON_BLUE_CHARM,
        IBeacon(uuid=b"BlueCharmBeacons", major=3838, minor=4949, power=-59),
    ),
    (
        "ib2",
        APPLE,
        IBEACON_FDA50693,
        IBeacon(uuid=bytes.fromhex("fda50693a4e24fb1afcfc6eb07647825"), major=1, minor=2, power=26),
    ),
    (
        "alt1",
        ALTBEACON_TEST_COMPANY,
        ALTBEACON_BLE_MONITOR,
        AltBeacon(
            company_id=ALTBEACON_TEST_COMPANY,
            id1=bytes.fromhex("d3162f5af3ee494799db09756062d0fc"),
            id2=90,
            id3=5,
            ref_rssi=-60,
            reserved=0,
        ),
    ),
    (
        "uid1",
        EDDYSTONE_SERVICE_UUID,
        UID_BEACONTOOLS,
        EddystoneUid(
            tx_power=-29,
            namespace=bytes.fromhex("12345678901234678901"),
            instance=bytes.fromhex("000000000001"),
        ),
    ),
    (
        "url1",
        EDDYSTONE_SERVICE_UUID,
        URL_BEACONTOOLS,
        EddystoneUrl(tx_power=-8, url="https://github.com/citruz"),
    ),
    (
        "tlm1",
        EDDYSTONE_SERVICE_UUID,
        TLM_IBEACON_BLE,
        EddystoneTlm(battery_mv=3070, temperature_c=28.0, adv_count=1800, uptime_s=1599.6),
    ),
    (
        "etlm",
        EDDYSTONE_SERVICE_UUID,
        ETLM_BEACONTOOLS,
        EddystoneEncryptedTlm(etlm=b"A" * 12, salt=0xDEAD, mic=0xBEFF),
    ),
    ("eid", EDDYSTONE_SERVICE_UUID, EID_BEACONTOOLS, EddystoneEid(eid=b"EID_test", tx_power=-29)),
]


def _load_vectors() -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads(VECTORS_FILE.read_text())["vectors"]
    return vectors


def _bleak_fields(advert: dict[str, Any]) -> tuple[dict[int, bytes], dict[str, bytes]]:
    manufacturer = {int(k): bytes.fromhex(v) for k, v in advert["manufacturer_data"].items()}
    service = {k: bytes.fromhex(v) for k, v in advert["service_data"].items()}
    return manufacturer, service


def _decode(key: int | str, data: bytes) -> Frame | None:
    if isinstance(key, int):
        return decode_manufacturer_data(key, data)
    return decode_service_data(key, data)


def test_vectors_file_covers_every_frame_kind() -> None:
    kinds = {frame["kind"] for v in _load_vectors() for frame in v["frames"]}
    assert kinds == {
        "ibeacon",
        "altbeacon",
        "eddystone_uid",
        "eddystone_url",
        "eddystone_tlm",
        "eddystone_etlm",
        "eddystone_eid",
    }


@pytest.mark.parametrize("vector", _load_vectors(), ids=lambda v: v["name"])
def test_every_vector_decodes_to_exactly_its_frames(vector: dict[str, Any]) -> None:
    frames = decode_advert(*_bleak_fields(vector["advert"]))
    assert [frame.to_wire() for frame in frames] == vector["frames"]


@pytest.mark.parametrize(
    ("name", "key", "data", "expected"), NAMED_CAPTURES, ids=[c[0] for c in NAMED_CAPTURES]
)
def test_named_capture(name: str, key: int | str, data: bytes, expected: Frame) -> None:
    (vector,) = [v for v in _load_vectors() if v["name"] == name]
    field = "manufacturer_data" if isinstance(key, int) else "service_data"
    assert vector["advert"][field] == {str(key): data.hex()}, "capture and vector drifted apart"
    frame = _decode(key, data)
    assert frame == expected
    assert frame is not None
    assert [frame.to_wire()] == vector["frames"]


def test_eid_frame_keeps_its_identity_and_server_shape() -> None:
    frame = decode_service_data(EDDYSTONE_SERVICE_UUID, bytes.fromhex("30ec0102030405060708"))
    assert frame == EddystoneEid(eid=bytes(range(1, 9)), tx_power=-20)
    assert isinstance(frame, EddystoneEid)
    assert frame.identity == "eddystone_eid:0102030405060708"
    assert frame.to_wire() == {"kind": "eddystone_eid", "eid": "0102030405060708", "tx_power": -20}


@pytest.mark.parametrize(("byte", "dbm"), [(0x00, 0), (0x7F, 127), (0x80, -128), (0xFF, -1)])
def test_tx_power_is_signed(byte: int, dbm: int) -> None:
    eid = decode_eddystone_eid(bytes([0x30, byte]) + bytes(8))
    uid = decode_eddystone_uid(bytes([0x00, byte]) + bytes(16))
    url = decode_eddystone_url(bytes([0x10, byte, 0x00]))
    assert eid is not None and uid is not None and url is not None
    assert eid.tx_power == uid.tx_power == url.tx_power == dbm


def test_ibeacon_power_and_altbeacon_ref_rssi_are_signed() -> None:
    ibeacon = decode_ibeacon(IBEACON_BLUE_CHARM[:-1] + b"\x80")
    altbeacon = decode_altbeacon(1, ALTBEACON_BLE_MONITOR[:-2] + b"\x7f\xff")
    assert ibeacon is not None and altbeacon is not None
    assert ibeacon.power == -128
    assert (altbeacon.ref_rssi, altbeacon.reserved) == (127, 255)


def test_altbeacon_under_any_company_id_keeps_it() -> None:
    for company_id in (0, APPLE, 0x0059, 0xFFFF):
        frame = decode_manufacturer_data(company_id, ALTBEACON_BLE_MONITOR)
        assert isinstance(frame, AltBeacon)
        assert frame.to_wire()["company_id"] == company_id


def test_uid_without_rfu_bytes_decodes_the_same() -> None:
    assert decode_eddystone_uid(UID_BEACONTOOLS[:18]) == decode_eddystone_uid(UID_BEACONTOOLS)


SCHEMES = ["http://www.", "https://www.", "http://", "https://"]
# fmt: off
EXPANSIONS = [
    ".com/", ".org/", ".edu/", ".net/", ".info/", ".biz/", ".gov/",
    ".com", ".org", ".edu", ".net", ".info", ".biz", ".gov",
]
# fmt: on


@pytest.mark.parametrize(("code", "prefix"), list(enumerate(SCHEMES)))
def test_url_scheme_codes(code: int, prefix: str) -> None:
    frame = decode_eddystone_url(bytes([0x10, 0x00, code]) + b"shop")
    assert frame == EddystoneUrl(tx_power=0, url=prefix + "shop")


@pytest.mark.parametrize(("code", "text"), list(enumerate(EXPANSIONS)))
def test_url_expansion_codes(code: int, text: str) -> None:
    frame = decode_eddystone_url(bytes([0x10, 0x00, 0x02, ord("a"), code, ord("b")]))
    assert frame == EddystoneUrl(tx_power=0, url=f"http://a{text}b")


def test_url_takes_every_uri_character_and_17_encoded_bytes() -> None:
    assert decode_eddystone_url(b"\x10\x00\x03a-._~:/?#[]@!$&'()*+,;=%") is None  # > 17 bytes
    frame = decode_eddystone_url(b"\x10\x00\x03a-._~:/?#[]@!$&'(")
    assert frame is not None and frame.url == "https://a-._~:/?#[]@!$&'("
    frame = decode_eddystone_url(b"\x10\x00\x03)*+,;=%Zz09")
    assert frame is not None and frame.url == "https://)*+,;=%Zz09"


@pytest.mark.parametrize(
    ("raw", "temperature_c"),
    [
        pytest.param(b"\x80\x00", None, id="0x8000-unsupported"),
        pytest.param(b"\xff\x80", -0.5, id="minus-half"),
        pytest.param(b"\x7f\xff", 127 + 255 / 256, id="max"),
        pytest.param(b"\x80\x01", -128 + 1 / 256, id="min"),
        pytest.param(b"\x00\x00", 0.0, id="zero"),
    ],
)
def test_tlm_temperature_is_signed_8_8(raw: bytes, temperature_c: float | None) -> None:
    frame = decode_eddystone_tlm(TLM_IBEACON_BLE[:4] + raw + TLM_IBEACON_BLE[6:])
    assert isinstance(frame, EddystoneTlm)
    assert frame.temperature_c == temperature_c
    assert frame.to_wire()["temperature_c"] == temperature_c


def test_tlm_counters_are_unsigned_32_bit() -> None:
    frame = decode_eddystone_tlm(b"\x20\x00\xff\xff\x80\x00" + b"\xff" * 8)
    assert frame == EddystoneTlm(
        battery_mv=65535, temperature_c=None, adv_count=2**32 - 1, uptime_s=(2**32 - 1) / 10
    )


NOT_A_FRAME: list[Any] = [
    # iBeacon (Apple company id)
    pytest.param(APPLE, IBEACON_BLUE_CHARM[:-1], id="ibeacon-short"),
    pytest.param(APPLE, IBEACON_BLUE_CHARM + b"\x00", id="ibeacon-long"),
    pytest.param(APPLE, b"\x10\x15" + IBEACON_BLUE_CHARM[2:], id="ibeacon-type-0x10"),
    pytest.param(APPLE, b"\x02\x16" + IBEACON_BLUE_CHARM[2:], id="ibeacon-length-0x16"),
    pytest.param(APPLE, b"\x02\x15\x00", id="ibeacon-prefix-only"),
    pytest.param(0x0015, IBEACON_BLUE_CHARM, id="ibeacon-other-company"),
    # AltBeacon (any company id)
    pytest.param(0xFFFF, ALTBEACON_BLE_MONITOR[:-1], id="altbeacon-short"),
    pytest.param(0xFFFF, ALTBEACON_BLE_MONITOR + b"\x00", id="altbeacon-long"),
    pytest.param(0xFFFF, b"\xbe\xab" + ALTBEACON_BLE_MONITOR[2:], id="altbeacon-code-beab"),
    pytest.param(0xACBE, b"\xac\xbe" + ALTBEACON_BLE_MONITOR[2:], id="altbeacon-code-swapped"),
    pytest.param(0x10000, ALTBEACON_BLE_MONITOR, id="altbeacon-company-17-bit"),
    pytest.param(-1, ALTBEACON_BLE_MONITOR, id="altbeacon-company-negative"),
    pytest.param(True, ALTBEACON_BLE_MONITOR, id="altbeacon-company-bool"),
    pytest.param("65535", ALTBEACON_BLE_MONITOR, id="altbeacon-company-text"),
    pytest.param(0xFFFF, b"", id="manufacturer-empty"),
    pytest.param(APPLE, IBEACON_BLUE_CHARM.hex(), id="manufacturer-hex-text-not-bytes"),
    # Eddystone, any frame type
    pytest.param(EDDYSTONE_SERVICE_UUID, b"", id="eddystone-empty"),
    pytest.param(EDDYSTONE_SERVICE_UUID, b"\x40" + bytes(9), id="eddystone-type-0x40"),
    pytest.param(OTHER_SERVICE_UUID, EID_BEACONTOOLS, id="eid-under-other-uuid"),
    pytest.param(EDDYSTONE_SERVICE_UUID, EID_BEACONTOOLS.hex(), id="eddystone-text-not-bytes"),
    # UID
    pytest.param(EDDYSTONE_SERVICE_UUID, UID_BEACONTOOLS[:17], id="uid-short"),
    pytest.param(EDDYSTONE_SERVICE_UUID, UID_BEACONTOOLS[:19], id="uid-one-rfu-byte"),
    pytest.param(EDDYSTONE_SERVICE_UUID, UID_BEACONTOOLS + b"\x00", id="uid-long"),
    pytest.param(EDDYSTONE_SERVICE_UUID, b"\x01" + UID_BEACONTOOLS[1:], id="uid-type-0x01"),
    # URL
    pytest.param(EDDYSTONE_SERVICE_UUID, b"\x10\xf8", id="url-no-scheme"),
    pytest.param(EDDYSTONE_SERVICE_UUID, b"\x10\xf8\x03" + b"a" * 18, id="url-18-bytes-long"),
    pytest.param(EDDYSTONE_SERVICE_UUID, b"\x10\xf8\x04github", id="url-scheme-4"),
    pytest.param(EDDYSTONE_SERVICE_UUID, b"\x10\xf8\xffgithub", id="url-scheme-ff"),
    pytest.param(EDDYSTONE_SERVICE_UUID, b"\x10\xf8\x03git\x0ehub", id="url-code-0x0e"),
    pytest.param(EDDYSTONE_SERVICE_UUID, b"\x10\xf8\x03git hub", id="url-space-0x20"),
    pytest.param(EDDYSTONE_SERVICE_UUID, b"\x10\xf8\x03git\x7fhub", id="url-del-0x7f"),
    pytest.param(EDDYSTONE_SERVICE_UUID, b"\x10\xf8\x03git\xffhub", id="url-byte-0xff"),
    pytest.param(EDDYSTONE_SERVICE_UUID, b"\x10\xf8\x03git\xc3\xa9", id="url-utf8-not-ascii"),
    pytest.param(EDDYSTONE_SERVICE_UUID, b'\x10\xf8\x03a"b', id="url-quote"),
    pytest.param(EDDYSTONE_SERVICE_UUID, b"\x10\xf8\x03a<b>", id="url-angle-brackets"),
    pytest.param(EDDYSTONE_SERVICE_UUID, b"\x10\xf8\x03a\\b", id="url-backslash"),
    # TLM
    pytest.param(EDDYSTONE_SERVICE_UUID, b"\x20", id="tlm-type-only"),
    pytest.param(EDDYSTONE_SERVICE_UUID, TLM_IBEACON_BLE[:-1], id="tlm-short"),
    pytest.param(EDDYSTONE_SERVICE_UUID, TLM_IBEACON_BLE + b"\x00", id="tlm-long"),
    pytest.param(EDDYSTONE_SERVICE_UUID, b"\x20\x02" + TLM_IBEACON_BLE[2:], id="tlm-version-2"),
    pytest.param(EDDYSTONE_SERVICE_UUID, b"\x20\x01" + TLM_IBEACON_BLE[2:], id="tlm-v1-at-v0-len"),
    # Encrypted TLM
    pytest.param(EDDYSTONE_SERVICE_UUID, ETLM_BEACONTOOLS[:-1], id="etlm-short"),
    pytest.param(EDDYSTONE_SERVICE_UUID, ETLM_BEACONTOOLS + b"\x00", id="etlm-long"),
    pytest.param(EDDYSTONE_SERVICE_UUID, b"\x20\x00" + ETLM_BEACONTOOLS[2:], id="etlm-as-v0"),
    # EID
    pytest.param(EDDYSTONE_SERVICE_UUID, EID_BEACONTOOLS[:-1], id="eid-short"),
    pytest.param(EDDYSTONE_SERVICE_UUID, EID_BEACONTOOLS + b"\x00", id="eid-long"),
    pytest.param(EDDYSTONE_SERVICE_UUID, b"\x31" + EID_BEACONTOOLS[1:], id="eid-type-0x31"),
]


@pytest.mark.parametrize(("key", "data"), NOT_A_FRAME)
def test_not_a_frame_gives_nothing(key: Any, data: Any) -> None:
    assert _decode(key, data) is None
    if isinstance(key, int):
        assert decode_advert({key: data}, {}) == []
    else:
        assert decode_advert({}, {key: data}) == []


@pytest.mark.parametrize(
    ("decoder", "kinds"),
    [
        pytest.param(decode_ibeacon, {"ibeacon"}, id="ibeacon"),
        pytest.param(lambda data: decode_altbeacon(0xFFFF, data), {"altbeacon"}, id="altbeacon"),
        pytest.param(decode_eddystone_uid, {"eddystone_uid"}, id="uid"),
        pytest.param(decode_eddystone_url, {"eddystone_url"}, id="url"),
        pytest.param(decode_eddystone_tlm, {"eddystone_tlm", "eddystone_etlm"}, id="tlm"),
        pytest.param(decode_eddystone_eid, {"eddystone_eid"}, id="eid"),
    ],
)
def test_each_format_decoder_takes_only_its_own_captures(decoder: Any, kinds: set[str]) -> None:
    accepted = {expected.kind for _, _, data, expected in NAMED_CAPTURES if decoder(data)}
    assert accepted == kinds


def test_service_uuid_key_is_case_insensitive() -> None:
    frame = decode_service_data(EDDYSTONE_SERVICE_UUID.upper(), EID_BEACONTOOLS)
    assert frame == EddystoneEid(eid=b"EID_test", tx_power=-29)


def test_bytearray_payloads_decode_like_bytes() -> None:
    # bleak can hand over a bytearray where the decoders declare bytes: cast to reach that path.
    url = cast(bytes, bytearray(URL_BEACONTOOLS))
    ibeacon = cast(bytes, bytearray(IBEACON_BLUE_CHARM))
    assert decode_service_data(EDDYSTONE_SERVICE_UUID, url) == (
        decode_service_data(EDDYSTONE_SERVICE_UUID, URL_BEACONTOOLS)
    )
    assert decode_manufacturer_data(APPLE, ibeacon) == (decode_ibeacon(IBEACON_BLUE_CHARM))


def test_advert_with_several_entries_yields_each_frame_in_order() -> None:
    frames = decode_advert(
        {
            APPLE: IBEACON_BLUE_CHARM,
            0x0015: b"not a beacon",
            ALTBEACON_TEST_COMPANY: (ALTBEACON_BLE_MONITOR),
        },
        {EDDYSTONE_SERVICE_UUID: EID_BEACONTOOLS, OTHER_SERVICE_UUID: EID_BEACONTOOLS},
    )
    assert [frame.kind for frame in frames] == ["ibeacon", "altbeacon", "eddystone_eid"]
