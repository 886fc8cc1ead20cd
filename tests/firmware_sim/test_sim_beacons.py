"""Beacon firmware: advertising interval with advDelay, counters, battery drain, EID rotation."""

# Seeded random.Random is the simulator's reproducible noise source, not cryptography.

from __future__ import annotations

import random

import pytest

from firmware_sim.beacons import (
    ADV_DELAY_MAX_S,
    CUTOFF_MV,
    BatterySpec,
    BeaconEvent,
    BeaconIds,
    BeaconSpec,
    advertise,
    battery_mv,
    frame_parts,
    initial_state,
)
from firmware_sim.eddystone import EDDYSTONE_SERVICE_UUID, compute_eid
from firmware_sim.frames import APPLE_COMPANY_ID

IDS = BeaconIds(
    uuid="fda50693-a4e2-4fb1-afcf-c6eb07647825",
    namespace="12345678901234678901",
    instance="000000000003",
    identity_key=bytes(range(16)),
    rotation_exponent=4,
)
UNIX_START = 1_764_054_000.0


def _spec(**overrides: object) -> BeaconSpec:
    fields: dict[str, object] = {
        "name": "b",
        "kind": "eddystone",
        "frames": ("uid", "uid", "tlm"),
        "ids": IDS,
        "interval_s": 0.1,
    }
    fields.update(overrides)
    return BeaconSpec(**fields)  # type: ignore[arg-type]


def _run(spec: BeaconSpec, count: int, seed: int = 0) -> list[BeaconEvent]:
    rng = random.Random(seed)
    state, events = initial_state(spec, 0.0), []
    for _ in range(count):
        event, state = advertise(spec, state, rng.uniform(0.0, ADV_DELAY_MAX_S))
        if event is None:
            break
        events.append(event)
    return events


def test_interval_plus_adv_delay_stays_within_bounds() -> None:
    events = _run(_spec(), 2000)
    gaps = [b.t - a.t for a, b in zip(events, events[1:], strict=False)]
    assert all(0.1 - 1e-9 <= gap <= 0.1 + ADV_DELAY_MAX_S + 1e-9 for gap in gaps)
    assert max(gaps) - min(gaps) > ADV_DELAY_MAX_S * 0.9  # the delay really is random


def test_frames_interleave_and_counters_are_monotone() -> None:
    spec = _spec(uptime_s=100.0)
    events = _run(spec, 300)
    assert [e.frame for e in events[:6]] == ["uid", "uid", "tlm"] * 2
    assert all(b.adv_count == a.adv_count + 1 for a, b in zip(events, events[1:], strict=False))
    assert all(b.sec_count >= a.sec_count for a, b in zip(events, events[1:], strict=False))
    assert events[0].adv_count > 900  # ~100 s of 0.1 s adverts before the scenario began
    assert events[0].sec_count == 1000
    tlm = frame_parts(spec, events[2], UNIX_START).service_data[EDDYSTONE_SERVICE_UUID]
    assert int.from_bytes(tlm[6:10], "big") == events[2].adv_count
    assert int.from_bytes(tlm[10:14], "big") == events[2].sec_count


def test_battery_voltage_falls_from_3000_to_cutoff() -> None:
    shares = [1.0, 0.8, 0.5, 0.2, 0.1, 0.05, 0.01, 0.0]
    volts = [battery_mv(s) for s in shares]
    assert volts[0] == 3000 and volts[-1] == CUTOFF_MV
    assert volts == sorted(volts, reverse=True)


def test_a_dying_beacon_stops_and_its_last_tlm_battery_is_low() -> None:
    # 0.001 mAh = 3.6 mC; each event costs 15 uC plus 2 uA of sleep: ~235 events.
    spec = _spec(battery=BatterySpec(remaining_mah=0.001))
    events = _run(spec, 10_000)
    assert 150 < len(events) < 300
    last_tlm = [e for e in events if e.frame == "tlm"][-1]
    data = frame_parts(spec, last_tlm, UNIX_START).service_data[EDDYSTONE_SERVICE_UUID]
    assert int.from_bytes(data[2:4], "big") < 2100
    rng = random.Random(1)
    state = initial_state(spec, 0.0)
    for _ in range(len(events) + 5):
        _, state = advertise(spec, state, rng.uniform(0.0, ADV_DELAY_MAX_S))
    assert state.dead
    assert advertise(spec, state, 0.0)[0] is None


def test_a_full_cell_lasts_more_than_a_year_at_one_second() -> None:
    spec = _spec(interval_s=1.0)
    per_second_c = (spec.battery.advert_charge_uc + spec.battery.sleep_current_ua) * 1e-6
    years = spec.battery.remaining_mah * 3.6 / per_second_c / (365 * 86400)
    assert 1.0 < years < 3.0


def test_eid_frames_rotate_with_the_beacon_clock() -> None:
    spec = _spec(frames=("eid",), ids=IDS)
    event = _run(spec, 1)[0]
    early = frame_parts(spec, event, UNIX_START).service_data[EDDYSTONE_SERVICE_UUID][2:]
    later = frame_parts(spec, event, UNIX_START + 16).service_data[EDDYSTONE_SERVICE_UUID][2:]
    assert early == compute_eid(IDS.identity_key or b"", 4, int(UNIX_START))
    assert early != later
    skewed = _spec(frames=("eid",), ids=BeaconIds(**{**IDS.__dict__, "clock_offset_s": 16.0}))
    assert frame_parts(skewed, event, UNIX_START).service_data[EDDYSTONE_SERVICE_UUID][2:] == later


def test_ibeacon_power_is_the_one_metre_rssi_of_the_tx_power() -> None:
    spec = _spec(kind="ibeacon", frames=("ibeacon",), tx_power_dbm=-4)
    payload = frame_parts(spec, _run(spec, 1)[0], UNIX_START).manufacturer_data[APPLE_COMPANY_ID]
    assert int.from_bytes(payload[-1:], "big", signed=True) == spec.rssi_at_1m_dbm == -63


def test_a_frame_without_identifiers_is_an_error() -> None:
    spec = _spec(frames=("altbeacon",))
    with pytest.raises(ValueError):
        frame_parts(spec, _run(spec, 1)[0], UNIX_START)
