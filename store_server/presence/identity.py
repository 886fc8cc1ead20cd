"""Who a frame belongs to: Eddystone-EID resolution from precomputed window tables.

The EID of a device changes every 2^K seconds. The resolver keeps one table per window
(EID -> device id, every registered device), for the windows around the present: a frame
resolves in a few dict look-ups even when the phone's or the gateway's clock is off by up to
one window. Each window's table is built once, under a lock, by the presence clock ahead of
the window change (`prepare`), so no request pays for it; a request builds it only when the
clock has not yet (at start-up), and concurrent requests wait for that one build. Devices
registered since a table was built (here or by another process) are added to it when a frame
does not resolve; a revoked device's EIDs stay in the tables until they expire, and ingest
ignores them (its device has no consent any more).
"""

from __future__ import annotations

import struct
import threading
import time
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

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


@dataclass(frozen=True, slots=True)
class DeviceKey:
    """What the resolver needs of a registered device."""

    device_id: int
    identity_key: bytes
    rotation_exponent: int


# Windows kept on each side of the present: the neighbours a skewed clock reaches, and the
# next but one, built ahead of the change.
WINDOWS_BEHIND = 1
WINDOWS_AHEAD = 2
# A build yields to other threads or greenlets after this many devices (gevent workers run
# the presence clock in the request loop).
BUILD_CHUNK = 2000


@dataclass
class EidTable:
    """One window's EIDs -> device ids, for every device with an id up to `upto`.

    The EIDs of the build are two sorted arrays (the EIDs as 64-bit integers, their devices
    alongside), 16 bytes a device where a dict of bytes took about 130: a million devices
    fill four windows at every process. A look-up is a binary search; devices added since the
    build (`_catch_up`) go to a dict.
    """

    eids: array[int]  # sorted
    devices: array[int]
    upto: int
    added: dict[int, int] = field(default_factory=dict)

    def get(self, eid: bytes) -> int | None:
        """The device advertising this EID in the window, or None."""
        key = int.from_bytes(eid, "big")
        device = self.added.get(key)
        if device is not None:
            return device
        at = bisect_left(self.eids, key)
        if at < len(self.eids) and self.eids[at] == key:
            return self.devices[at]
        return None

    def __len__(self) -> int:
        return len(self.eids) + len(self.added)


def window_start(ts: float, rotation_exponent: int) -> int:
    """The start of the EID window holding `ts`."""
    return (int(ts) >> rotation_exponent) << rotation_exponent


def window_eids(devices: Iterable[DeviceKey], rotation_exponent: int, start: int) -> EidTable:
    """The EIDs that devices of this rotation exponent advertise in the window at `start`."""
    eids = array("Q")
    owners = array("q")
    upto = 0
    for n, device in enumerate(devices, 1):
        upto = max(upto, device.device_id)
        if device.rotation_exponent == rotation_exponent and start >= 0:
            eid = eddystone_eid(device.identity_key, rotation_exponent, start)
            eids.append(int.from_bytes(eid, "big"))
            owners.append(device.device_id)
        if n % BUILD_CHUNK == 0:
            time.sleep(0)  # let requests run between chunks
    order = sorted(range(len(eids)), key=eids.__getitem__)
    return EidTable(
        array("Q", [eids[i] for i in order]), array("q", [owners[i] for i in order]), upto
    )


class EidResolver:
    """Resolves EIDs through per-window tables, each built once.

    Args:
        load_devices: the registered devices with an id above the given one.
        load_exponents: the rotation exponents of the registered devices.
    """

    def __init__(
        self,
        load_devices: Callable[[int], list[DeviceKey]],
        load_exponents: Callable[[], set[int]],
    ) -> None:
        self._load_devices = load_devices
        self._load_exponents = load_exponents
        self._tables: dict[tuple[int, int], EidTable] = {}
        self._exponents: frozenset[int] | None = None
        self._build_lock = threading.Lock()  # one build at a time; the others wait for it
        self._catch_up_lock = threading.Lock()
        self.builds = 0  # windows built by this process (tests count them)

    def prepare(self, now: float) -> None:
        """Build the tables around `now` that are missing and drop the expired ones."""
        for exponent in self._known_exponents():
            current = window_start(now, exponent)
            # The present first: requests at start-up wait for it alone.
            for offset in sorted(range(-WINDOWS_BEHIND, WINDOWS_AHEAD + 1), key=abs):
                self._table(exponent, current + (offset << exponent))
            oldest = current - (WINDOWS_BEHIND << exponent)
            for key in [k for k in self._tables if k[0] == exponent and k[1] < oldest]:
                self._tables.pop(key, None)

    def resolve_all(self, frames: Sequence[tuple[bytes, float]], now: float) -> list[int | None]:
        """The device id advertising each (EID, seen at) frame, or None.

        A frame resolves in the windows next to its own time that lie around `now`: a
        reading stamped far off the server's clock never makes the resolver build a table.
        """
        # A phone is heard many times a batch: one look-up per EID and shortest window (the
        # longer windows are aligned on it). The windows a frame's time reaches are worked
        # out once per window of the batch, not per frame (a batch of 500 phones spans one or
        # two windows).
        exponents = self._known_exponents()
        shortest = min(exponents, default=0)
        reach: dict[int, list[tuple[int, int]]] = {}  # int(seen_at) >> shortest -> windows
        seen: dict[tuple[bytes, int], int | None] = {}
        found = []
        for eid, seen_at in frames:
            slot = int(seen_at) >> shortest
            key = (eid, slot)
            if key not in seen:
                windows = reach.get(slot)
                if windows is None:
                    windows = reach[slot] = self._windows(exponents, seen_at, now)
                seen[key] = self._lookup(eid, windows)
            found.append(seen[key])
        if None in found and self._catch_up():
            exponents = self._known_exponents()
            found = [
                device
                if device is not None
                else self._lookup(eid, self._windows(exponents, seen_at, now))
                for device, (eid, seen_at) in zip(found, frames, strict=True)
            ]
        return found

    @staticmethod
    def _windows(exponents: frozenset[int], seen_at: float, now: float) -> list[tuple[int, int]]:
        """The (exponent, window start) tables a frame seen at `seen_at` resolves in, in the
        order they are tried: its own window, then the one before and the one after, of those
        around `now`."""
        windows = []
        for exponent in exponents:
            period = 1 << exponent
            current = window_start(now, exponent)
            lowest = current - WINDOWS_BEHIND * period
            highest = current + WINDOWS_AHEAD * period
            own = window_start(seen_at, exponent)
            for start in (own, own - period, own + period):
                if lowest <= start <= highest:
                    windows.append((exponent, start))
        return windows

    def _lookup(self, eid: bytes, windows: list[tuple[int, int]]) -> int | None:
        for exponent, start in windows:
            device = self._table(exponent, start).get(eid)
            if device is not None:
                return device
        return None

    def _known_exponents(self) -> frozenset[int]:
        exponents = self._exponents
        if exponents is None:
            with self._build_lock:
                if self._exponents is None:
                    self._exponents = frozenset(self._load_exponents())
                exponents = self._exponents
        return exponents

    def _table(self, exponent: int, start: int) -> EidTable:
        table = self._tables.get((exponent, start))
        if table is not None:
            return table
        with self._build_lock:
            table = self._tables.get((exponent, start))
            if table is None:
                table = window_eids(self._load_devices(0), exponent, start)
                self.builds += 1
                self._tables[(exponent, start)] = table
        return table

    def _catch_up(self) -> bool:
        """Add the devices registered since the tables were built; True if there were any."""
        with self._catch_up_lock:
            tables = list(self._tables.items())
            if not tables:  # no device yet when the exponents were read: read them again
                self._exponents = None
                return bool(self._known_exponents())
            newer = self._load_devices(min(table.upto for _, table in tables))
            if not newer:
                return False
            exponents = {d.rotation_exponent for d in newer}
            if not exponents <= (self._exponents or frozenset()):
                self._exponents = (self._exponents or frozenset()) | exponents
            for (exponent, start), table in tables:
                fresh = [d for d in newer if d.device_id > table.upto]
                added = window_eids(fresh, exponent, start)
                table.added.update(zip(added.eids, added.devices, strict=True))
                table.upto = max(table.upto, *(d.device_id for d in fresh), 0)
            return True
