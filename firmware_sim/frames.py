"""Beacon frame encoders: iBeacon, AltBeacon and Eddystone, as bleak-shaped advert parts.

An implementation independent of the gateway's decoders (never import them), so that
round-trip tests between the two mean something. Encoders raise ValueError on values the
frame cannot carry: they run on trusted scenario data, never on bytes from the air.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from firmware_sim.eddystone import EDDYSTONE_SERVICE_UUID, EID_LENGTH, eid_service_data
from firmware_sim.wire import AdvertJson

# Apple's Bluetooth SIG company identifier (0x004C), the only one iBeacon frames use.
APPLE_COMPANY_ID = 76
# iBeacon's type (0x02) and remaining length (0x15 = 21 bytes) after the company id.
IBEACON_PREFIX = b"\x02\x15"
# AltBeacon's beacon code (AltBeacon specification, "beac" in the spec's own words).
ALTBEACON_CODE = b"\xbe\xac"
# Radius Networks' company id (0x0118), the AltBeacon specification's own example.
RADIUS_NETWORKS_COMPANY_ID = 0x0118

# Eddystone frame types (Eddystone protocol specification).
EDDYSTONE_UID = 0x00
EDDYSTONE_URL = 0x10
EDDYSTONE_TLM = 0x20
# TLM versions: 0 is plain telemetry, 1 the encrypted eTLM of EID beacons.
TLM_VERSION_PLAIN = 0x00
TLM_VERSION_ENCRYPTED = 0x01
# TLM temperature "not supported" marker (-128.0 in 8.8 fixed point, per the TLM spec).
TLM_TEMPERATURE_UNSUPPORTED = 0x8000
# 8.8 fixed point: the low byte holds 1/256 degree steps.
TLM_TEMPERATURE_SCALE = 256
# SEC_CNT counts tenths of a second.
TLM_SEC_CNT_PER_S = 10
UID_NAMESPACE_LENGTH = 10
UID_INSTANCE_LENGTH = 6
ETLM_CIPHERTEXT_LENGTH = 12
# A URL frame carries at most 17 bytes of encoded URL (31-byte advert budget).
MAX_URL_BODY_LENGTH = 17

# URL scheme prefixes, one byte each (Eddystone-URL specification).
URL_SCHEMES: tuple[str, ...] = ("http://www.", "https://www.", "http://", "https://")
# URL expansion codes 0x00..0x0d (Eddystone-URL specification).
URL_EXPANSIONS: tuple[str, ...] = (
    ".com/",
    ".org/",
    ".edu/",
    ".net/",
    ".info/",
    ".biz/",
    ".gov/",
    ".com",
    ".org",
    ".edu",
    ".net",
    ".info",
    ".biz",
    ".gov",
)
# Expansion codes are bytes 0x00-0x0d and 0x7f-0xff are reserved: text must be printable ASCII.
MIN_URL_TEXT_BYTE = 0x21
MAX_URL_TEXT_BYTE = 0x7E


@dataclass(frozen=True)
class AdvertParts:
    """The payload half of a bleak AdvertisementData: what a frame puts on the air."""

    manufacturer_data: Mapping[int, bytes] = field(default_factory=dict)
    service_data: Mapping[str, bytes] = field(default_factory=dict)
    service_uuids: tuple[str, ...] = ()

    def to_json(
        self, address: str, rssi: int, local_name: str | None = None, tx_power: int | None = None
    ) -> AdvertJson:
        """The advert as heard at `rssi`, in the JSON shape of tests/vectors/adverts.json."""
        return {
            "address": address,
            "rssi": rssi,
            "local_name": local_name,
            "tx_power": tx_power,
            "manufacturer_data": {str(k): v.hex() for k, v in self.manufacturer_data.items()},
            "service_data": {k: v.hex() for k, v in self.service_data.items()},
            "service_uuids": list(self.service_uuids),
        }


def _int8(value: int, what: str) -> bytes:
    if not -128 <= value <= 127:
        raise ValueError(f"{what} must be -128..127")
    return value.to_bytes(1, "big", signed=True)


def _uint(value: int, size: int, what: str) -> bytes:
    if not 0 <= value < 1 << (8 * size):
        raise ValueError(f"{what} must fit in {size} unsigned bytes")
    return value.to_bytes(size, "big")


def _uuid_bytes(value: str | bytes, what: str) -> bytes:
    if isinstance(value, bytes):
        if len(value) != 16:
            raise ValueError(f"{what} must be 16 bytes")
        return value
    try:
        return uuid.UUID(value).bytes
    except ValueError as exc:
        raise ValueError(f"{what} must be a UUID") from exc


def _fixed_bytes(value: str | bytes, length: int, what: str) -> bytes:
    raw = bytes.fromhex(value) if isinstance(value, str) else value
    if len(raw) != length:
        raise ValueError(f"{what} must be {length} bytes")
    return raw


def _eddystone(service_data: bytes) -> AdvertParts:
    return AdvertParts(
        service_data={EDDYSTONE_SERVICE_UUID: service_data},
        service_uuids=(EDDYSTONE_SERVICE_UUID,),
    )


def ibeacon(proximity_uuid: str | bytes, major: int, minor: int, power: int) -> AdvertParts:
    """An iBeacon frame; `power` is the calibrated RSSI at 1 m (signed)."""
    payload = (
        IBEACON_PREFIX
        + _uuid_bytes(proximity_uuid, "uuid")
        + _uint(major, 2, "major")
        + _uint(minor, 2, "minor")
        + _int8(power, "power")
    )
    return AdvertParts(manufacturer_data={APPLE_COMPANY_ID: payload})


def altbeacon(
    company_id: int, id1: str | bytes, id2: int, id3: int, ref_rssi: int, reserved: int = 0
) -> AdvertParts:
    """An AltBeacon frame: beacon code, 16-byte id1, id2, id3, reference RSSI, reserved byte."""
    payload = (
        ALTBEACON_CODE
        + _uuid_bytes(id1, "id1")
        + _uint(id2, 2, "id2")
        + _uint(id3, 2, "id3")
        + _int8(ref_rssi, "ref_rssi")
        + _uint(reserved, 1, "reserved")
    )
    _uint(company_id, 2, "company_id")
    return AdvertParts(manufacturer_data={company_id: payload})


def eddystone_uid(tx_power: int, namespace: str | bytes, instance: str | bytes) -> AdvertParts:
    """An Eddystone-UID frame; `tx_power` is the calibrated power at 0 m; two RFU zero bytes."""
    data = (
        bytes([EDDYSTONE_UID])
        + _int8(tx_power, "tx_power")
        + _fixed_bytes(namespace, UID_NAMESPACE_LENGTH, "namespace")
        + _fixed_bytes(instance, UID_INSTANCE_LENGTH, "instance")
        + bytes(2)
    )
    return _eddystone(data)


def encode_url(url: str) -> bytes:
    """The shortest Eddystone-URL encoding of `url`: scheme byte, then text and expansion codes."""
    scheme_code = next(
        (code for code, scheme in _longest_first(URL_SCHEMES) if url.startswith(scheme)), None
    )
    if scheme_code is None:
        raise ValueError("url must start with http:// or https://")
    rest = url[len(URL_SCHEMES[scheme_code]) :]
    # Shortest encoding by dynamic programming over positions (greedy can lose: ".com" vs ".co").
    best: list[bytes | None] = [None] * (len(rest) + 1)
    best[len(rest)] = b""
    for start in range(len(rest) - 1, -1, -1):
        options: list[bytes] = []
        char = ord(rest[start])
        tail = best[start + 1]
        if MIN_URL_TEXT_BYTE <= char <= MAX_URL_TEXT_BYTE and tail is not None:
            options.append(bytes([char]) + tail)
        for code, expansion in enumerate(URL_EXPANSIONS):
            after = best[start + len(expansion)] if rest.startswith(expansion, start) else None
            if after is not None:
                options.append(bytes([code]) + after)
        best[start] = min(options, key=len) if options else None
    body = best[0]
    if body is None:
        raise ValueError("url holds characters an Eddystone-URL frame cannot carry")
    if len(body) > MAX_URL_BODY_LENGTH:
        raise ValueError(f"url encodes to {len(body)} bytes, more than {MAX_URL_BODY_LENGTH}")
    return bytes([scheme_code]) + body


def _longest_first(prefixes: tuple[str, ...]) -> list[tuple[int, str]]:
    return sorted(enumerate(prefixes), key=lambda item: -len(item[1]))


def eddystone_url(tx_power: int, url: str) -> AdvertParts:
    """An Eddystone-URL frame with the shortest encoding of `url`."""
    return _eddystone(bytes([EDDYSTONE_URL]) + _int8(tx_power, "tx_power") + encode_url(url))


def tlm_temperature(temperature_c: float | None) -> bytes:
    """A TLM temperature: signed 8.8 fixed point, or 0x8000 when the beacon has no sensor."""
    if temperature_c is None:
        return TLM_TEMPERATURE_UNSUPPORTED.to_bytes(2, "big")
    fixed = math.floor(temperature_c * TLM_TEMPERATURE_SCALE)
    if not -0x8000 < fixed <= 0x7FFF:
        raise ValueError("temperature_c must be in (-128, 128)")
    return fixed.to_bytes(2, "big", signed=True)


def eddystone_tlm(
    battery_mv: int, temperature_c: float | None, adv_count: int, sec_count: int
) -> AdvertParts:
    """A plain (v0) TLM frame; `sec_count` is tenths of a second since boot; 0 mV: no battery."""
    data = (
        bytes([EDDYSTONE_TLM, TLM_VERSION_PLAIN])
        + _uint(battery_mv, 2, "battery_mv")
        + tlm_temperature(temperature_c)
        + _uint(adv_count, 4, "adv_count")
        + _uint(sec_count, 4, "sec_count")
    )
    return _eddystone(data)


def eddystone_etlm(ciphertext: str | bytes, salt: int, mic: int) -> AdvertParts:
    """An encrypted (v1) TLM frame from its 12-byte ciphertext, 16-bit salt and 16-bit MIC."""
    data = (
        bytes([EDDYSTONE_TLM, TLM_VERSION_ENCRYPTED])
        + _fixed_bytes(ciphertext, ETLM_CIPHERTEXT_LENGTH, "etlm")
        + _uint(salt, 2, "salt")
        + _uint(mic, 2, "mic")
    )
    return _eddystone(data)


def eddystone_eid(tx_power: int, eid: str | bytes) -> AdvertParts:
    """An Eddystone-EID frame carrying an 8-byte ephemeral identifier."""
    _int8(tx_power, "tx_power")
    return _eddystone(eid_service_data(tx_power, _fixed_bytes(eid, EID_LENGTH, "eid")))


def encode_frame(frame: Mapping[str, Any]) -> AdvertParts:
    """Encode one frame given as in tests/vectors/adverts.json (`kind` plus its fields)."""
    kind = frame.get("kind")
    if kind == "ibeacon":
        return ibeacon(frame["uuid"], frame["major"], frame["minor"], frame["power"])
    if kind == "altbeacon":
        return altbeacon(
            frame["company_id"],
            frame["id1"],
            frame["id2"],
            frame["id3"],
            frame["ref_rssi"],
            frame.get("reserved", 0),
        )
    if kind == "eddystone_uid":
        return eddystone_uid(frame["tx_power"], frame["namespace"], frame["instance"])
    if kind == "eddystone_url":
        return eddystone_url(frame["tx_power"], frame["url"])
    if kind == "eddystone_tlm":
        sec_count = round(frame["uptime_s"] * TLM_SEC_CNT_PER_S)
        return eddystone_tlm(
            frame["battery_mv"], frame["temperature_c"], frame["adv_count"], sec_count
        )
    if kind == "eddystone_etlm":
        return eddystone_etlm(frame["etlm"], frame["salt"], frame["mic"])
    if kind == "eddystone_eid":
        return eddystone_eid(frame["tx_power"], frame["eid"])
    raise ValueError(f"unknown frame kind {kind!r}")
