"""What may leave the gateway: the server's config of registered beacons, and the filter.

Pure. Eddystone-EID always goes (ephemeral, unlinkable). iBeacon, AltBeacon and Eddystone-UID
go only if their registered id (docs/protocol.md) is in the config. A plain Eddystone-TLM goes
if the same advert carried a registered frame or its address sent one within
``REGISTERED_ADDRESS_MEMORY_S``. Everything else is dropped and counted by the caller.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gateway.decode import (
    AltBeacon,
    EddystoneEid,
    EddystoneTlm,
    EddystoneUid,
    Frame,
    IBeacon,
    uuid_text,
)
from gateway.tracking import rssi_at_1m

# docs/protocol.md: a TLM frame is uploaded if its address sent a registered frame "in the last
# minute"; beacons interleave TLM with their id frame every few seconds, well inside it.
REGISTERED_ADDRESS_MEMORY_S = 60.0
# Refresh period when the server's config does not say (docs/protocol.md's example: 300 s).
DEFAULT_REFRESH_S = 300.0
# A config asking to be refetched more often than this is a server bug; do not hammer it.
MIN_REFRESH_S = 5.0
REGISTERED_KINDS = frozenset({"ibeacon", "altbeacon", "eddystone_uid"})

RegisteredKey = tuple[str, str]  # (kind, id)


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """The server's answer to ``GET /api/v1/gateways/{id}/config``."""

    gateway_id: str
    store_id: int | None
    refresh_s: float
    registered: frozenset[RegisteredKey]
    # Entrance gateways: readings crossing this upward are reported at once (docs/protocol.md).
    entry_rssi_dbm: float | None = None

    @classmethod
    def empty(cls, gateway_id: str) -> GatewayConfig:
        """No registered beacon: only Eddystone-EID leaves the gateway."""
        return cls(gateway_id, None, DEFAULT_REFRESH_S, frozenset())

    @classmethod
    def parse(cls, document: object) -> GatewayConfig | None:
        """The config in a decoded JSON document; None if it is not one."""
        if not isinstance(document, dict):
            return None
        gateway_id, store_id = document.get("gateway_id"), document.get("store_id")
        refresh_s = document.get("refresh_s", DEFAULT_REFRESH_S)
        entry_rssi_dbm = document.get("entry_rssi_dbm")
        entries = document.get("registered", [])
        if entry_rssi_dbm is not None and (
            type(entry_rssi_dbm) not in (int, float) or not math.isfinite(entry_rssi_dbm)
        ):
            return None
        if not isinstance(gateway_id, str) or not isinstance(entries, list):
            return None
        if store_id is not None and type(store_id) is not int:
            return None
        if type(refresh_s) not in (int, float) or not math.isfinite(refresh_s):
            return None
        registered: set[RegisteredKey] = set()
        for entry in entries:
            if not isinstance(entry, dict):
                return None
            kind, beacon_id = entry.get("kind"), entry.get("id")
            if not isinstance(kind, str) or not isinstance(beacon_id, str):
                return None
            if kind in REGISTERED_KINDS:  # a kind this gateway does not know is ignored
                registered.add((kind, beacon_id.lower()))
        refresh = max(float(refresh_s), MIN_REFRESH_S)
        threshold = None if entry_rssi_dbm is None else float(entry_rssi_dbm)
        return cls(gateway_id, store_id, refresh, frozenset(registered), threshold)

    def to_json(self) -> str:
        """The config as the server's JSON shape (for the on-disk cache)."""
        return json.dumps(
            {
                "gateway_id": self.gateway_id,
                "store_id": self.store_id,
                "refresh_s": self.refresh_s,
                "entry_rssi_dbm": self.entry_rssi_dbm,
                "registered": [
                    {"kind": kind, "id": beacon_id} for kind, beacon_id in sorted(self.registered)
                ],
            }
        )


def registered_key(frame: Frame) -> RegisteredKey | None:
    """The (kind, id) a frame is registered under, None for kinds that are not registered."""
    if isinstance(frame, IBeacon):
        return frame.kind, f"{uuid_text(frame.uuid)}:{frame.major}:{frame.minor}"
    if isinstance(frame, AltBeacon):
        return frame.kind, f"{uuid_text(frame.id1)}:{frame.id2}:{frame.id3}"
    if isinstance(frame, EddystoneUid):
        return frame.kind, f"{frame.namespace.hex()}:{frame.instance.hex()}"
    return None


@dataclass(frozen=True, slots=True)
class Admitted:
    """A frame allowed to leave the gateway, with the device identity it is tracked under."""

    frame: Frame
    identity: str
    rssi_at_1m: int | None
    # For TLM: the registered id of the beacon whose address sent it (docs/protocol.md).
    beacon_id: str | None = None


class Admission:
    """Decides which decoded frames of an advert may be uploaded. Times are passed in."""

    def __init__(self, registered: Iterable[RegisteredKey] = ()) -> None:
        self.registered: frozenset[RegisteredKey] = frozenset(registered)
        # Address -> when it last sent a registered frame, and that frame's registered id; kept
        # in memory only, never logged.
        self._registered_addresses: dict[str, tuple[float, str]] = {}

    def admit(self, address: str, frames: Sequence[Frame], now: float) -> list[Admitted]:
        """The frames of one advert that may leave, in advert order (TLM after its id frame)."""
        admitted: list[Admitted] = []
        telemetry: list[EddystoneTlm] = []
        for frame in frames:
            if isinstance(frame, EddystoneEid):
                power = rssi_at_1m(frame.kind, frame.tx_power)
                admitted.append(Admitted(frame, frame.identity, power))
            elif isinstance(frame, EddystoneTlm):
                telemetry.append(frame)
            else:
                key = registered_key(frame)
                if key is not None and key in self.registered:
                    self._registered_addresses[address] = (now, key[1])
                    admitted.append(Admitted(frame, f"{key[0]}:{key[1]}", _frame_power(frame)))
        if telemetry:
            heard = self._registered_addresses.get(address)
            if heard is not None and now - heard[0] < REGISTERED_ADDRESS_MEMORY_S:
                admitted.extend(
                    Admitted(frame, f"{frame.kind}:{address}", None, beacon_id=heard[1])
                    for frame in telemetry
                )
        return admitted

    def forget_quiet(self, now: float) -> None:
        """Drop addresses that have not sent a registered frame within the memory window."""
        horizon = now - REGISTERED_ADDRESS_MEMORY_S
        self._registered_addresses = {
            address: heard
            for address, heard in self._registered_addresses.items()
            if heard[0] > horizon
        }


def _frame_power(frame: Frame) -> int | None:
    if isinstance(frame, IBeacon):
        return rssi_at_1m(frame.kind, frame.power)
    if isinstance(frame, AltBeacon):
        return rssi_at_1m(frame.kind, frame.ref_rssi)
    if isinstance(frame, EddystoneUid):
        return rssi_at_1m(frame.kind, frame.tx_power)
    return None
