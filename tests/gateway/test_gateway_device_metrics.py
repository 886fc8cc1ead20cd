"""Per-device levels in the gateway's /metrics for the calibration walk: the registered beacons
it hears (last and smoothed RSSI, age, advertised 1 m level), bounded, and never an EID."""

from __future__ import annotations

import dataclasses
import urllib.request

from gateway.counters import Counters, LiveStatus
from gateway.decode import EDDYSTONE_SERVICE_UUID
from gateway.metrics import DEVICE_LEVELS_MAX, GatewayCollector, MetricsServer, device_levels
from gateway.registry import Admission
from gateway.service import AdvertHandler
from gateway.tracking import Tracker
from tests.gateway.test_gateway_decode_uplink import (
    APPLE,
    BLUE_CHARM_ID,
    EID_BEACONTOOLS,
    IBEACON_BLUE_CHARM,
    _advert,
)

BLUE_CHARM = f"ibeacon:{BLUE_CHARM_ID}"
# The Blue Charm capture's measured power byte (0xc5): -59 dBm at 1 m.
BLUE_CHARM_AT_1M = -59
EID_HEX = "4549445f74657374"
QUIET_ID = "fda50693-a4e2-4fb1-afcf-c6eb07647825:1:2"


def _walk(readings: list[int]) -> tuple[AdvertHandler, float]:
    """A registered beacon carried toward the gateway, a phone's EID heard alongside."""
    registered = (("ibeacon", BLUE_CHARM_ID), ("ibeacon", QUIET_ID))
    handler = AdvertHandler(Counters(), Admission(registered), Tracker(), lambda o, f: None)
    now = 100.0
    for rssi in readings:
        now += 0.5
        beacon = dataclasses.replace(_advert({APPLE: IBEACON_BLUE_CHARM}, {}), rssi=rssi)
        phone = dataclasses.replace(
            _advert({}, {EDDYSTONE_SERVICE_UUID: EID_BEACONTOOLS}, address="C0:00:00:00:00:07"),
            rssi=rssi - 5,
        )
        handler.process(beacon, now)
        handler.process(phone, now)
    return handler, now


def test_the_levels_of_heard_registered_beacons_and_nothing_of_a_phone() -> None:
    handler, now = _walk([-70, -62, -58, -90, -57])  # one deep fade among them
    assert (
        handler.tracker.get(f"eddystone_eid:{EID_HEX}") is not None
    )  # the phone is tracked, and uploaded...
    [level] = device_levels(handler.tracker, handler.admission.registered, now + 2.0)
    assert level.device == BLUE_CHARM  # ...but only the registered, heard beacon has levels
    assert level.last_rssi_dbm == -57
    assert level.smoothed_rssi_dbm == -62.0  # the median shrugs off the fade
    assert level.heard_seconds_ago == 2.0
    assert level.rssi_at_1m_dbm == BLUE_CHARM_AT_1M


def test_metrics_publish_the_levels_by_registered_id_only() -> None:
    handler, now = _walk([-61, -60, -59])
    levels = device_levels(handler.tracker, handler.admission.registered, now)
    status = LiveStatus("scanning", 2, 0, 0, 2, 1764054000.5, device_levels=levels)
    metrics = MetricsServer("127.0.0.1", 0, GatewayCollector(Counters(), lambda: status))
    metrics.start()
    try:
        url = f"http://127.0.0.1:{metrics.port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
            text = response.read().decode()
    finally:
        metrics.stop()
    label = f'{{device="{BLUE_CHARM}"}}'
    assert f"beacon_gateway_device_last_rssi_dbm{label} -59.0" in text
    assert f"beacon_gateway_device_smoothed_rssi_dbm{label} -60.0" in text
    assert f"beacon_gateway_device_heard_seconds_ago{label} 0.0" in text
    assert f"beacon_gateway_device_rssi_at_1m_dbm{label} -59.0" in text
    assert EID_HEX not in text and "C0:00:00:00:00" not in text
    assert QUIET_ID not in text  # registered but not heard: no stale series


def test_the_series_are_bounded_however_many_beacons_are_registered() -> None:
    tracker = Tracker()
    registered = frozenset(("ibeacon", f"{QUIET_ID[:-3]}{n}:1") for n in range(300))
    for _, beacon_id in registered:
        tracker.observe(f"ibeacon:{beacon_id}", -70, 10.0)
    levels = device_levels(tracker, registered, 10.0)
    assert len(levels) == DEVICE_LEVELS_MAX < len(registered)
    assert [level.device for level in levels] == sorted(level.device for level in levels)
