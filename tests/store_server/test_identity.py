"""EID computation against the Eddystone spec's values, and the resolver's window tables."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from store_server.presence.identity import DeviceKey, EidResolver, eddystone_eid, window_eids

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "eid.json").read_text())["vectors"]
KEY_A = bytes(range(16))
KEY_B = bytes(range(16, 32))
WINDOW = 1024  # 2^10 s
START = WINDOW * 1_000_000


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: str(v["time_counter"]))
def test_eid_matches_published_vectors(vector: dict[str, object]) -> None:
    eid = eddystone_eid(
        bytes.fromhex(str(vector["identity_key"])),
        int(str(vector["rotation_exponent"])),
        int(str(vector["time_counter"])),
    )
    assert eid.hex() == vector["eid"]


def test_eid_is_constant_within_a_window_and_changes_across() -> None:
    assert eddystone_eid(KEY_A, 10, START) == eddystone_eid(KEY_A, 10, START + 1023)
    assert eddystone_eid(KEY_A, 10, START) != eddystone_eid(KEY_A, 10, START + 1024)


def test_a_window_table_holds_the_devices_of_its_exponent() -> None:
    table = window_eids([DeviceKey(1, KEY_A, 10), DeviceKey(2, KEY_B, 12)], 10, START)
    assert table.get(eddystone_eid(KEY_A, 10, START)) == 1
    assert table.get(eddystone_eid(KEY_B, 10, START)) is None  # device 2 rotates every 2^12 s
    assert len(table) == 1
    assert table.upto == 2  # every device up to id 2 was considered


def test_a_window_table_finds_each_of_many_devices_and_no_other_eid() -> None:
    keys = [bytes([n % 256, n // 256]) * 8 for n in range(1, 3001)]
    table = window_eids([DeviceKey(n, key, 10) for n, key in enumerate(keys, 1)], 10, START)
    assert len(table) == len(keys)
    assert all(table.get(eddystone_eid(key, 10, START)) == n for n, key in enumerate(keys, 1))
    assert table.get(eddystone_eid(KEY_A, 10, START)) is None
    assert table.get(bytes(8)) is None and table.get(b"\xff" * 8) is None  # below and above all


class Registry:
    """The registered devices, counting how often the resolver reads them."""

    def __init__(self, *devices: DeviceKey) -> None:
        self.devices = list(devices)
        self.loads: list[int] = []  # the `after` of each load

    def load(self, after: int) -> list[DeviceKey]:
        self.loads.append(after)
        return [d for d in self.devices if d.device_id > after]

    def exponents(self) -> set[int]:
        return {d.rotation_exponent for d in self.devices}

    def resolver(self) -> EidResolver:
        return EidResolver(self.load, self.exponents)


def eid_at(key: bytes, ts: float) -> bytes:
    return eddystone_eid(key, 10, int(ts))


def test_a_reading_in_a_neighbouring_window_resolves() -> None:
    resolver = Registry(DeviceKey(1, KEY_A, 10)).resolver()
    now = START + 10
    # The phone's clock a window behind, then a window ahead of the gateway's; two off: no.
    frames = [
        (eid_at(KEY_A, now), now),
        (eid_at(KEY_A, now - WINDOW), now),
        (eid_at(KEY_A, now + WINDOW), now),
        (eid_at(KEY_A, now - 2 * WINDOW), now),
    ]
    assert resolver.resolve_all(frames, now) == [1, 1, 1, None]


def test_each_window_is_built_once_and_ahead_of_its_time() -> None:
    registry = Registry(DeviceKey(1, KEY_A, 10))
    resolver = registry.resolver()
    now = START + 10
    resolver.prepare(now)  # the presence clock: the window before, this one, the next two
    assert resolver.builds == 4
    for ts in (now, now + 500, now + WINDOW + 5):  # the next window was built ahead
        assert resolver.resolve_all([(eid_at(KEY_A, ts), ts)], ts) == [1]
    assert resolver.builds == 4
    resolver.prepare(now + WINDOW + 5)  # one window later: only the new one after next
    assert resolver.builds == 5


def test_a_reading_stamped_far_off_builds_nothing() -> None:
    resolver = Registry(DeviceKey(1, KEY_A, 10)).resolver()
    now = START + 10
    resolver.prepare(now)
    far = now - 50 * WINDOW
    assert resolver.resolve_all([(eid_at(KEY_A, far), far)], now) == [None]
    assert resolver.builds == 4


def test_a_device_registered_later_resolves_without_a_rebuild() -> None:
    registry = Registry(DeviceKey(1, KEY_A, 10))
    resolver = registry.resolver()
    now = START + 10
    resolver.prepare(now)
    registry.devices.append(DeviceKey(2, KEY_B, 10))  # here or by another process
    assert resolver.resolve_all([(eid_at(KEY_B, now), now)], now) == [2]
    assert resolver.builds == 4
    assert registry.loads[-1] == 1  # only the devices after the ones the tables hold
    later = now + WINDOW
    assert resolver.resolve_all([(eid_at(KEY_B, later), later)], later) == [2]


def test_the_first_device_registered_resolves() -> None:
    registry = Registry()
    resolver = registry.resolver()
    now = START + 10
    assert resolver.resolve_all([(eid_at(KEY_A, now), now)], now) == [None]
    registry.devices.append(DeviceKey(1, KEY_A, 10))
    assert resolver.resolve_all([(eid_at(KEY_A, now), now)], now) == [1]


def test_concurrent_requests_build_each_window_once() -> None:
    registry = Registry(*(DeviceKey(i, bytes([i]) * 16, 10) for i in range(1, 201)))
    resolver = registry.resolver()
    now = START + 10
    frames = [(eid_at(bytes([i]) * 16, now), now) for i in range(1, 201)]
    start = threading.Barrier(8)
    answers: list[list[int | None]] = []

    def request() -> None:
        start.wait()
        answers.append(resolver.resolve_all(frames, now))

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [list(range(1, 201))] * 8
    # This window only: every frame resolved there (its neighbours were never needed).
    assert resolver.builds == 1
    assert registry.loads == [0]
