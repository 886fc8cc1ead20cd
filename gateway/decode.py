"""Pure decoders from bleak-shaped advertisement fields to beacon frames.

Every decoder checks lengths first and never raises on untrusted bytes: anything it does not
recognise gives ``None`` (one field) or ``[]`` (one advert). Decoders are found by dispatch
tables, so new formats are siblings: Eddystone UID/URL/TLM go into ``_EDDYSTONE_DECODERS`` by
frame type, iBeacon and AltBeacon into ``_MANUFACTURER_DECODERS`` by company id (AltBeacon may
use any company id, so it will also need a fallback entry there).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar, Final, Literal, TypeAlias

# Eddystone's 16-bit service UUID 0xFEAA in the 128-bit form bleak uses as service_data key.
EDDYSTONE_SERVICE_UUID: Final = "0000feaa-0000-1000-8000-00805f9b34fb"
EDDYSTONE_EID_FRAME_TYPE: Final = 0x30
# frame type (1) + tx power (1) + EID (8), per the Eddystone-EID specification.
EDDYSTONE_EID_FRAME_LENGTH: Final = 10
EID_LENGTH: Final = 8


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


# A union as more frame kinds arrive (IBeacon | AltBeacon | EddystoneUid | ...).
Frame: TypeAlias = EddystoneEid
ServiceDataDecoder: TypeAlias = Callable[[bytes], Frame | None]
ManufacturerDataDecoder: TypeAlias = Callable[[bytes], Frame | None]


def decode_eddystone_eid(data: bytes) -> EddystoneEid | None:
    """Decode Eddystone service data ``30 <tx_power i8> <eid 8 bytes>``; None if it is not."""
    if len(data) != EDDYSTONE_EID_FRAME_LENGTH or data[0] != EDDYSTONE_EID_FRAME_TYPE:
        return None
    tx_power = data[1] - 256 if data[1] > 127 else data[1]
    return EddystoneEid(eid=bytes(data[2:]), tx_power=tx_power)


_EDDYSTONE_DECODERS: Final[Mapping[int, ServiceDataDecoder]] = {
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

_MANUFACTURER_DECODERS: Final[Mapping[int, ManufacturerDataDecoder]] = {}


def decode_service_data(uuid: str, data: bytes) -> Frame | None:
    """Decode one service data entry keyed by its 128-bit UUID; None if not recognised."""
    if not isinstance(uuid, str) or not isinstance(data, bytes | bytearray):
        return None
    decoder = _SERVICE_DATA_DECODERS.get(uuid.lower())
    return decoder(bytes(data)) if decoder is not None else None


def decode_manufacturer_data(company_id: int, data: bytes) -> Frame | None:
    """Decode one manufacturer data entry keyed by company id; None if not recognised."""
    if not isinstance(data, bytes | bytearray):
        return None
    decoder = _MANUFACTURER_DECODERS.get(company_id)
    return decoder(bytes(data)) if decoder is not None else None


def decode_advert(
    manufacturer_data: Mapping[int, bytes], service_data: Mapping[str, bytes]
) -> list[Frame]:
    """Every recognised frame in one advertisement (often none, sometimes several)."""
    frames: list[Frame] = []
    for company_id, payload in manufacturer_data.items():
        frame = decode_manufacturer_data(company_id, payload)
        if frame is not None:
            frames.append(frame)
    for uuid, payload in service_data.items():
        frame = decode_service_data(uuid, payload)
        if frame is not None:
            frames.append(frame)
    return frames
