"""Pure decoders from bleak-shaped advertisement fields to beacon frames.

Every decoder checks lengths first and never raises on untrusted bytes: anything it does not
recognise gives ``None`` (one field) or ``[]`` (one advert). Decoders are found by dispatch
tables: Eddystone frames by their frame type byte (``_EDDYSTONE_DECODERS``), manufacturer data
by company id (``_MANUFACTURER_DECODERS``), with AltBeacon as the fallback for every other
company id because an AltBeacon may carry any. Frames keep raw bytes and integers; ``to_wire``
formats them (hex, UUID text) only when asked, which keeps the common path cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from struct import Struct
from typing import ClassVar, Final, Literal, TypeAlias

WireDict: TypeAlias = dict[str, str | int | float | None]

# Eddystone's 16-bit service UUID 0xFEAA in the 128-bit form bleak uses as service_data key.
EDDYSTONE_SERVICE_UUID: Final = "0000feaa-0000-1000-8000-00805f9b34fb"

# Eddystone frame types (first byte of the service data), per the Eddystone specification.
EDDYSTONE_UID_FRAME_TYPE: Final = 0x00
EDDYSTONE_URL_FRAME_TYPE: Final = 0x10
EDDYSTONE_TLM_FRAME_TYPE: Final = 0x20
EDDYSTONE_EID_FRAME_TYPE: Final = 0x30

# frame type (1) + tx power (1) + namespace (10) + instance (6); the spec adds 2 RFU bytes that
# some beacons leave out, so both lengths are accepted and the RFU bytes are ignored.
EDDYSTONE_UID_FRAME_LENGTH_WITHOUT_RFU: Final = 18
EDDYSTONE_UID_FRAME_LENGTH: Final = 20
# frame type (1) + tx power (1) + URL scheme (1) + at most 17 bytes of encoded URL.
EDDYSTONE_URL_MIN_LENGTH: Final = 3
EDDYSTONE_URL_MAX_LENGTH: Final = 20
# frame type (1) + version (1) + battery (2) + temperature (2) + ADV_CNT (4) + SEC_CNT (4).
EDDYSTONE_TLM_FRAME_LENGTH: Final = 14
# frame type (1) + version (1) + encrypted TLM (12) + salt (2) + message integrity check (2).
EDDYSTONE_ETLM_FRAME_LENGTH: Final = 18
TLM_VERSION_PLAIN: Final = 0x00
TLM_VERSION_ENCRYPTED: Final = 0x01
# 0x8000 in the signed 8.8 temperature field means "not supported by this beacon".
TLM_TEMPERATURE_UNSUPPORTED: Final = -0x8000
# 8.8 fixed point: the low byte is 1/256 degrees.
TLM_TEMPERATURE_SCALE: Final = 256
# SEC_CNT counts 0.1 s since power-on or reboot.
TLM_SEC_COUNT_PER_S: Final = 10
# frame type (1) + tx power (1) + EID (8), per the Eddystone-EID specification.
EDDYSTONE_EID_FRAME_LENGTH: Final = 10
EID_LENGTH: Final = 8

# Bluetooth SIG company identifier of Apple, under which iBeacon is defined.
APPLE_COMPANY_ID: Final = 0x004C
# iBeacon type 0x02 and length 0x15 (21 bytes follow), read as one big-endian 16-bit value.
IBEACON_PREFIX: Final = 0x0215
# prefix (2) + proximity UUID (16) + major (2) + minor (2) + measured power (1); the length
# byte fixes it, so longer payloads are not iBeacons.
IBEACON_LENGTH: Final = 23
# The AltBeacon "beacon code" 0xBEAC that follows the company id.
ALTBEACON_CODE: Final = 0xBEAC
# beacon code (2) + id1 (16) + id2 (2) + id3 (2) + reference RSSI (1) + manufacturer
# reserved (1); bleak strips the company id. The specification fixes this length.
ALTBEACON_LENGTH: Final = 24
# Company identifiers are 16-bit (Bluetooth Core Specification, Assigned Numbers).
MAX_COMPANY_ID: Final = 0xFFFF

# Precompiled layouts. "x" skips bytes already checked (frame type, version, prefix).
_IBEACON: Final = Struct(">H16sHHb")
_ALTBEACON: Final = Struct(">H16sHHbB")
_EDDYSTONE_UID: Final = Struct(">xb10s6s")
_EDDYSTONE_URL_HEAD: Final = Struct(">xbB")
_EDDYSTONE_TLM: Final = Struct(">xxHhII")
_EDDYSTONE_ETLM: Final = Struct(">xx12sHH")
_EDDYSTONE_EID: Final = Struct(">xb8s")

# Eddystone-URL scheme prefixes, by code (the byte after tx power).
URL_SCHEMES: Final = ("http://www.", "https://www.", "http://", "https://")
# Eddystone-URL expansion codes 0x00-0x0d, by code.
URL_EXPANSIONS: Final = (
    ".com/", ".org/", ".edu/", ".net/", ".info/", ".biz/", ".gov/",
    ".com", ".org", ".edu", ".net", ".info", ".biz", ".gov",
)  # fmt: skip
# Characters allowed in a URI (RFC 3986: unreserved, reserved and "%"); any other byte is
# either reserved by Eddystone (0x0e-0x20, 0x7f-0xff) or cannot appear in a URL.
_URI_CHARACTERS: Final = (
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%"
)
# bytes.translate deletes these; whatever is left over makes the URL invalid.
_URL_VALID_BYTES: Final = bytes(range(len(URL_EXPANSIONS))) + _URI_CHARACTERS.encode("ascii")
_URL_EXPANSION_TABLE: Final = {code: text for code, text in enumerate(URL_EXPANSIONS)}


def uuid_text(raw: bytes) -> str:
    """16 bytes in the 8-4-4-4-12 hex form of a UUID."""
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(frozen=True, slots=True)
class IBeacon:
    """An Apple iBeacon: proximity UUID, major, minor and measured power at 1 m."""

    uuid: bytes
    major: int
    minor: int
    power: int

    kind: ClassVar[Literal["ibeacon"]] = "ibeacon"

    def to_wire(self) -> WireDict:
        """The frame as a JSON-ready dict."""
        return {
            "kind": self.kind,
            "uuid": uuid_text(self.uuid),
            "major": self.major,
            "minor": self.minor,
            "power": self.power,
        }


@dataclass(frozen=True, slots=True)
class AltBeacon:
    """An AltBeacon: 16-byte id1, 16-bit id2 and id3, reference RSSI at 1 m."""

    company_id: int
    id1: bytes
    id2: int
    id3: int
    ref_rssi: int
    reserved: int

    kind: ClassVar[Literal["altbeacon"]] = "altbeacon"

    def to_wire(self) -> WireDict:
        """The frame as a JSON-ready dict."""
        return {
            "kind": self.kind,
            "company_id": self.company_id,
            "id1": uuid_text(self.id1),
            "id2": self.id2,
            "id3": self.id3,
            "ref_rssi": self.ref_rssi,
            "reserved": self.reserved,
        }


@dataclass(frozen=True, slots=True)
class EddystoneUid:
    """An Eddystone-UID frame: 10-byte namespace, 6-byte instance, power at 0 m."""

    tx_power: int
    namespace: bytes
    instance: bytes

    kind: ClassVar[Literal["eddystone_uid"]] = "eddystone_uid"

    def to_wire(self) -> WireDict:
        """The frame as a JSON-ready dict."""
        return {
            "kind": self.kind,
            "tx_power": self.tx_power,
            "namespace": self.namespace.hex(),
            "instance": self.instance.hex(),
        }


@dataclass(frozen=True, slots=True)
class EddystoneUrl:
    """An Eddystone-URL frame: the expanded URL and power at 0 m."""

    tx_power: int
    url: str

    kind: ClassVar[Literal["eddystone_url"]] = "eddystone_url"

    def to_wire(self) -> WireDict:
        """The frame as a JSON-ready dict."""
        return {"kind": self.kind, "tx_power": self.tx_power, "url": self.url}


@dataclass(frozen=True, slots=True)
class EddystoneTlm:
    """A plain Eddystone-TLM frame; ``temperature_c`` is None if the beacon has no sensor."""

    battery_mv: int
    temperature_c: float | None
    adv_count: int
    uptime_s: float

    kind: ClassVar[Literal["eddystone_tlm"]] = "eddystone_tlm"

    def to_wire(self) -> WireDict:
        """The frame as a JSON-ready dict."""
        return {
            "kind": self.kind,
            "battery_mv": self.battery_mv,
            "temperature_c": self.temperature_c,
            "adv_count": self.adv_count,
            "uptime_s": self.uptime_s,
        }


@dataclass(frozen=True, slots=True)
class EddystoneEncryptedTlm:
    """An encrypted Eddystone-TLM frame, kept opaque: only the EID key holder can read it."""

    etlm: bytes
    salt: int
    mic: int

    kind: ClassVar[Literal["eddystone_etlm"]] = "eddystone_etlm"

    def to_wire(self) -> WireDict:
        """The frame as a JSON-ready dict."""
        return {"kind": self.kind, "etlm": self.etlm.hex(), "salt": self.salt, "mic": self.mic}


@dataclass(frozen=True, slots=True)
class EddystoneEid:
    """An Eddystone ephemeral identifier frame: a rotating 8-byte id and calibrated power."""

    eid: bytes
    tx_power: int

    kind: ClassVar[Literal["eddystone_eid"]] = "eddystone_eid"

    @property
    def identity(self) -> str:
        """What tells two transmitters of this kind apart (here: the EID itself)."""
        return f"{self.kind}:{self.eid.hex()}"

    def to_wire(self) -> dict[str, str | int]:
        """The frame as the server expects it (docs/protocol.md)."""
        return {"kind": self.kind, "eid": self.eid.hex(), "tx_power": self.tx_power}


Frame: TypeAlias = (
    IBeacon | AltBeacon | EddystoneUid | EddystoneUrl | EddystoneTlm | EddystoneEncryptedTlm
    | EddystoneEid
)  # fmt: skip
ServiceDataDecoder: TypeAlias = Callable[[bytes], Frame | None]
ManufacturerDataDecoder: TypeAlias = Callable[[int, bytes], Frame | None]


def decode_ibeacon(data: bytes) -> IBeacon | None:
    """Decode Apple manufacturer data ``02 15 <uuid 16> <major> <minor> <power i8>``."""
    if len(data) != IBEACON_LENGTH:
        return None
    prefix, uuid, major, minor, power = _IBEACON.unpack(data)
    if prefix != IBEACON_PREFIX:
        return None
    return IBeacon(uuid, major, minor, power)


def decode_altbeacon(company_id: int, data: bytes) -> AltBeacon | None:
    """Decode manufacturer data ``be ac <id1 16> <id2> <id3> <ref_rssi i8> <reserved>``."""
    if len(data) != ALTBEACON_LENGTH:
        return None
    code, id1, id2, id3, ref_rssi, reserved = _ALTBEACON.unpack(data)
    if (
        code != ALTBEACON_CODE
        or type(company_id) is not int
        or not 0 <= company_id <= MAX_COMPANY_ID
    ):
        return None
    return AltBeacon(company_id, id1, id2, id3, ref_rssi, reserved)


def _decode_apple(company_id: int, data: bytes) -> Frame | None:
    """Apple's company id carries iBeacons, and (rarely) AltBeacons like any other."""
    frame = decode_ibeacon(data)
    return frame if frame is not None else decode_altbeacon(company_id, data)


def decode_eddystone_uid(data: bytes) -> EddystoneUid | None:
    """Decode Eddystone service data ``00 <tx i8> <namespace 10> <instance 6> [<rfu 2>]``."""
    if (
        len(data) not in (EDDYSTONE_UID_FRAME_LENGTH, EDDYSTONE_UID_FRAME_LENGTH_WITHOUT_RFU)
        or data[0] != EDDYSTONE_UID_FRAME_TYPE
    ):
        return None
    tx_power, namespace, instance = _EDDYSTONE_UID.unpack_from(data)
    return EddystoneUid(tx_power, namespace, instance)


def decode_eddystone_url(data: bytes) -> EddystoneUrl | None:
    """Decode Eddystone service data ``10 <tx i8> <scheme> <encoded URL>``; None if invalid."""
    if (
        not EDDYSTONE_URL_MIN_LENGTH <= len(data) <= EDDYSTONE_URL_MAX_LENGTH
        or data[0] != EDDYSTONE_URL_FRAME_TYPE
    ):
        return None
    tx_power, scheme = _EDDYSTONE_URL_HEAD.unpack_from(data)
    encoded = data[EDDYSTONE_URL_MIN_LENGTH:]
    if scheme >= len(URL_SCHEMES) or encoded.translate(None, _URL_VALID_BYTES):
        return None
    url = URL_SCHEMES[scheme] + encoded.decode("ascii").translate(_URL_EXPANSION_TABLE)
    return EddystoneUrl(tx_power, url)


def decode_eddystone_tlm(data: bytes) -> EddystoneTlm | EddystoneEncryptedTlm | None:
    """Decode Eddystone-TLM service data, plain (version 0) or encrypted (version 1)."""
    length = len(data)
    if length < 2 or data[0] != EDDYSTONE_TLM_FRAME_TYPE:
        return None
    version = data[1]
    if version == TLM_VERSION_PLAIN and length == EDDYSTONE_TLM_FRAME_LENGTH:
        battery_mv, temperature, adv_count, sec_count = _EDDYSTONE_TLM.unpack(data)
        return EddystoneTlm(
            battery_mv,
            None
            if temperature == TLM_TEMPERATURE_UNSUPPORTED
            else temperature / TLM_TEMPERATURE_SCALE,
            adv_count,
            sec_count / TLM_SEC_COUNT_PER_S,
        )
    if version == TLM_VERSION_ENCRYPTED and length == EDDYSTONE_ETLM_FRAME_LENGTH:
        etlm, salt, mic = _EDDYSTONE_ETLM.unpack(data)
        return EddystoneEncryptedTlm(etlm, salt, mic)
    return None


def decode_eddystone_eid(data: bytes) -> EddystoneEid | None:
    """Decode Eddystone service data ``30 <tx_power i8> <eid 8 bytes>``; None if it is not."""
    if len(data) != EDDYSTONE_EID_FRAME_LENGTH or data[0] != EDDYSTONE_EID_FRAME_TYPE:
        return None
    tx_power, eid = _EDDYSTONE_EID.unpack(data)
    return EddystoneEid(eid, tx_power)


_EDDYSTONE_DECODERS: Final[Mapping[int, ServiceDataDecoder]] = {
    EDDYSTONE_UID_FRAME_TYPE: decode_eddystone_uid,
    EDDYSTONE_URL_FRAME_TYPE: decode_eddystone_url,
    EDDYSTONE_TLM_FRAME_TYPE: decode_eddystone_tlm,
    EDDYSTONE_EID_FRAME_TYPE: decode_eddystone_eid,
}


def decode_eddystone(data: bytes) -> Frame | None:
    """Decode any supported Eddystone frame, chosen by its first (frame type) byte."""
    if not data:
        return None
    decoder = _EDDYSTONE_DECODERS.get(data[0])
    return decoder(data) if decoder is not None else None


_SERVICE_DATA_DECODERS: Final[Mapping[str, ServiceDataDecoder]] = {
    EDDYSTONE_SERVICE_UUID: decode_eddystone,
}

_MANUFACTURER_DECODERS: Final[Mapping[int, ManufacturerDataDecoder]] = {
    APPLE_COMPANY_ID: _decode_apple,
}
# AltBeacon may use any company id, so every id without its own entry is tried as one.
_ANY_COMPANY_DECODER: Final[ManufacturerDataDecoder] = decode_altbeacon


def decode_service_data(uuid: str, data: bytes) -> Frame | None:
    """Decode one service data entry keyed by its 128-bit UUID; None if not recognised."""
    if type(data) is not bytes:
        if not isinstance(data, bytes | bytearray):
            return None
        data = bytes(data)
    if not isinstance(uuid, str):
        return None
    # bleak gives lower case; only other sources pay for lower().
    decoder = _SERVICE_DATA_DECODERS.get(uuid) or _SERVICE_DATA_DECODERS.get(uuid.lower())
    return decoder(data) if decoder is not None else None


def decode_manufacturer_data(company_id: int, data: bytes) -> Frame | None:
    """Decode one manufacturer data entry keyed by company id; None if not recognised."""
    if type(data) is not bytes:
        if not isinstance(data, bytes | bytearray):
            return None
        data = bytes(data)
    if type(company_id) is not int:
        return None
    return _MANUFACTURER_DECODERS.get(company_id, _ANY_COMPANY_DECODER)(company_id, data)


def decode_advert(
    manufacturer_data: Mapping[int, bytes], service_data: Mapping[str, bytes]
) -> list[Frame]:
    """Every recognised frame in one advertisement (often none, sometimes several)."""
    frames: list[Frame] = []
    if manufacturer_data:
        for company_id, payload in manufacturer_data.items():
            frame = decode_manufacturer_data(company_id, payload)
            if frame is not None:
                frames.append(frame)
    if service_data:
        for uuid, payload in service_data.items():
            frame = decode_service_data(uuid, payload)
            if frame is not None:
                frames.append(frame)
    return frames
