"""Who a frame belongs to: Eddystone-EID resolution from precomputed window tables.

The EID of a device changes every 2^K seconds. For every registered device the resolver
precomputes the EIDs of the current window and its neighbours, so one dict lookup resolves a
frame even when the phone's or the gateway's clock is off by up to one window.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# Neighbouring windows resolved on each side of the current one: tolerates clock skew of up
# to one rotation period between phone and gateway.
NEIGHBOUR_WINDOWS = 1
EID_LENGTH = 8


def _aes128(key: bytes, block: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 - spec'd
    return encryptor.update(block) + encryptor.finalize()


def eddystone_eid(identity_key: bytes, rotation_exponent: int, time_counter: int) -> bytes:
    """The 8-byte EID of an identity key at a time counter (Eddystone spec, eid-computation)."""
    temporary_key = _aes128(
        identity_key,
        bytes(11) + b"\xff" + bytes(2) + struct.pack(">H", (time_counter >> 16) & 0xFFFF),
    )
    quantised = (time_counter >> rotation_exponent) << rotation_exponent
    block = bytes(11) + bytes([rotation_exponent]) + struct.pack(">I", quantised & 0xFFFFFFFF)
    return _aes128(temporary_key, block)[:EID_LENGTH]


@dataclass(frozen=True)
class DeviceKey:
    """What the resolver needs of a registered device."""

    device_id: int
    identity_key: bytes
    rotation_exponent: int


@dataclass(frozen=True)
class EidTable:
    """EID to device id for a span of time; rebuild once `now` reaches `valid_until`."""

    by_eid: dict[bytes, int]
    valid_from: float
    valid_until: float


def build_eid_table(devices: Iterable[DeviceKey], now: float) -> EidTable:
    """Precompute every device's EIDs for the window holding `now` and its neighbours."""
    by_eid: dict[bytes, int] = {}
    valid_from = float("-inf")
    valid_until = float("inf")
    ts = int(now)
    for device in devices:
        period = 1 << device.rotation_exponent
        window_start = (ts >> device.rotation_exponent) << device.rotation_exponent
        for offset in range(-NEIGHBOUR_WINDOWS, NEIGHBOUR_WINDOWS + 1):
            counter = window_start + offset * period
            if counter >= 0:
                by_eid[eddystone_eid(device.identity_key, device.rotation_exponent, counter)] = (
                    device.device_id
                )
        valid_from = max(valid_from, window_start)
        valid_until = min(valid_until, window_start + period)
    return EidTable(by_eid, valid_from, valid_until)


class EidResolver:
    """Resolves EIDs in O(1), rebuilding its table when a window rolls or keys change."""

    def __init__(self, load_devices: Callable[[], list[DeviceKey]]) -> None:
        self._load_devices = load_devices
        self._table: EidTable | None = None

    def invalidate(self) -> None:
        """Forget the table: a key was issued or revoked."""
        self._table = None

    def resolve(self, eid: bytes, now: float) -> int | None:
        """The device id that advertises `eid` around `now`, or None."""
        table = self._table
        if table is None or not table.valid_from <= now < table.valid_until:
            table = self._table = build_eid_table(self._load_devices(), now)
        return table.by_eid.get(eid)
