"""EID computation against the Eddystone spec's values, and the resolver's window tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from store_server.presence.identity import DeviceKey, EidResolver, build_eid_table, eddystone_eid

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "eid.json").read_text())["vectors"]
KEY_A = bytes(range(16))
KEY_B = bytes(range(16, 32))


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: str(v["time_counter"]))
def test_eid_matches_published_vectors(vector: dict[str, object]) -> None:
    eid = eddystone_eid(
        bytes.fromhex(str(vector["identity_key"])),
        int(str(vector["rotation_exponent"])),
        int(str(vector["time_counter"])),
    )
    assert eid.hex() == vector["eid"]


def test_eid_is_constant_within_a_window_and_changes_across() -> None:
    start = 1024 * 1_000_000
    assert eddystone_eid(KEY_A, 10, start) == eddystone_eid(KEY_A, 10, start + 1023)
    assert eddystone_eid(KEY_A, 10, start) != eddystone_eid(KEY_A, 10, start + 1024)


def test_table_covers_current_and_neighbouring_windows() -> None:
    now = 1024 * 1_000_000 + 500
    table = build_eid_table([DeviceKey(1, KEY_A, 10), DeviceKey(2, KEY_B, 12)], now)
    for offset in (-1024, 0, 1024):
        assert table.by_eid[eddystone_eid(KEY_A, 10, int(now) + offset)] == 1
    assert table.by_eid.get(eddystone_eid(KEY_A, 10, int(now) + 2048)) is None
    assert table.by_eid[eddystone_eid(KEY_B, 12, int(now))] == 2
    assert table.valid_until == 1024 * 1_000_001  # the shortest window ends first


def test_resolver_rebuilds_when_the_window_rolls_and_when_invalidated() -> None:
    devices = [DeviceKey(1, KEY_A, 10)]
    loads: list[int] = []

    def load() -> list[DeviceKey]:
        loads.append(1)
        return list(devices)

    resolver = EidResolver(load)
    now = 1024 * 1_000_000 + 10
    assert resolver.resolve(eddystone_eid(KEY_A, 10, int(now)), now) == 1
    assert resolver.resolve(eddystone_eid(KEY_A, 10, int(now)), now + 5) == 1
    assert len(loads) == 1  # served from the table
    rolled = now + 3 * 1024
    assert resolver.resolve(eddystone_eid(KEY_A, 10, int(rolled)), rolled) == 1
    assert len(loads) == 2
    devices.append(DeviceKey(2, KEY_B, 10))
    assert resolver.resolve(eddystone_eid(KEY_B, 10, int(rolled)), rolled) is None
    resolver.invalidate()  # a key was issued
    assert resolver.resolve(eddystone_eid(KEY_B, 10, int(rolled)), rolled) == 2
    devices.clear()
    resolver.invalidate()  # consent revoked: the key is gone
    assert resolver.resolve(eddystone_eid(KEY_A, 10, int(rolled)), rolled) is None
