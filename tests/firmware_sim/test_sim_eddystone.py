"""Eddystone-EID against the shared vectors and the spec's rotation rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.eddystone import compute_eid, eid_service_data, temporary_key

VECTORS_FILE = Path(__file__).parent.parent / "vectors" / "eid.json"
SPEC_KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f")


def _vectors() -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads(VECTORS_FILE.read_text())["vectors"]
    return vectors


@pytest.mark.parametrize("vector", _vectors(), ids=lambda v: str(v["time_counter"]))
def test_compute_eid_matches_vector(vector: dict[str, Any]) -> None:
    eid = compute_eid(
        bytes.fromhex(vector["identity_key"]), vector["rotation_exponent"], vector["time_counter"]
    )
    assert eid.hex() == vector["eid"]


def test_eid_is_constant_within_a_window_and_changes_across() -> None:
    window_start = 305419896 >> 10 << 10
    first = compute_eid(SPEC_KEY, 10, window_start)
    assert compute_eid(SPEC_KEY, 10, window_start + 1023) == first
    assert compute_eid(SPEC_KEY, 10, window_start + 1024) != first


def test_temporary_key_changes_every_2_16_seconds() -> None:
    assert temporary_key(SPEC_KEY, 0x10000) == temporary_key(SPEC_KEY, 0x1FFFF)
    assert temporary_key(SPEC_KEY, 0x10000) != temporary_key(SPEC_KEY, 0x20000)
    assert len(temporary_key(SPEC_KEY, 0)) == 16


def test_service_data_layout() -> None:
    eid = bytes.fromhex("dbb4dc143e0cf3f3")
    assert eid_service_data(-20, eid) == bytes.fromhex("30ec") + eid


@pytest.mark.parametrize(("key", "exponent"), [(bytes(15), 10), (SPEC_KEY, 16), (SPEC_KEY, -1)])
def test_compute_eid_rejects_bad_inputs(key: bytes, exponent: int) -> None:
    with pytest.raises(ValueError):
        compute_eid(key, exponent, 0)


def test_service_data_rejects_short_eid() -> None:
    with pytest.raises(ValueError):
        eid_service_data(-20, bytes(7))
