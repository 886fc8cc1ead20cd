"""Per-device tracking: first sighting, change threshold, rate bound, keep-alive, lost, median."""

from __future__ import annotations

import random

import pytest

from gateway.tracking import (
    ReportReason,
    Tracker,
    TrackingParams,
    estimate_distance_m,
    median,
    rssi_at_1m,
)

PARAMS = TrackingParams(
    window=7, window_s=5.0, change_db=3.0, min_interval_s=1.0, keepalive_s=10.0, forget_after_s=60.0
)


def test_first_heard_reports_at_once() -> None:
    tracker = Tracker(PARAMS)
    assert tracker.observe("eid:a", -60, now=0.0) is ReportReason.FIRST_HEARD
    assert tracker.observe("eid:b", -70, now=0.0) is ReportReason.FIRST_HEARD
    assert len(tracker) == 2


def test_stationary_device_with_fading_noise_does_not_report_every_advert() -> None:
    rng = random.Random(7)  # seeded: 4 dB shadowing plus the odd 15 dB deep fade
    tracker = Tracker(PARAMS)
    reports = []
    adverts = 600  # ten adverts a second for a minute
    for n in range(adverts):
        rssi = round(-65 + rng.gauss(0, 4)) - (15 if rng.random() < 0.05 else 0)
        reason = tracker.observe("eid:a", rssi, now=n * 0.1)
        if reason is not None:
            reports.append(reason)
    assert reports[0] is ReportReason.FIRST_HEARD
    assert len(reports) <= 60  # the rate bound: at most one a second
    assert len(reports) < adverts / 10


def test_rate_bound_holds_even_when_the_reading_jumps() -> None:
    tracker = Tracker(PARAMS)
    tracker.observe("eid:a", -80, now=0.0)
    reasons = [tracker.observe("eid:a", -40, now=0.1 * n) for n in range(1, 10)]
    assert reasons == [None] * 9  # within the first second: nothing, however large the change
    assert tracker.observe("eid:a", -40, now=1.0) is ReportReason.CHANGED


def test_change_threshold() -> None:
    tracker = Tracker(PARAMS)
    tracker.observe("eid:a", -60, now=0.0)
    assert tracker.observe("eid:a", -61, now=1.0) is None  # median -60.5: under 3 dB
    assert tracker.observe("eid:a", -66, now=1.1) is None  # median -61: under 3 dB
    assert tracker.observe("eid:a", -66, now=1.2) is ReportReason.CHANGED  # median -63.5


def test_keepalive_for_a_steady_device() -> None:
    tracker = Tracker(PARAMS)
    tracker.observe("eid:a", -60, now=0.0)
    reasons = [tracker.observe("eid:a", -60, now=float(t)) for t in range(1, 11)]
    assert reasons == [None] * 9 + [ReportReason.KEEPALIVE]


def test_lost_after_the_forget_timeout_then_new_again() -> None:
    tracker = Tracker(PARAMS)
    tracker.observe("eid:a", -60, now=0.0)
    tracker.observe("eid:b", -60, now=30.0)
    assert tracker.expire(now=59.9) == []
    assert tracker.expire(now=60.0) == ["eid:a"]
    assert len(tracker) == 1
    assert tracker.observe("eid:a", -60, now=61.0) is ReportReason.FIRST_HEARD


def test_median_resists_a_single_outlier() -> None:
    tracker = Tracker(PARAMS)
    tracker.observe("eid:a", -60, now=0.0)
    for n in range(1, 6):
        tracker.observe("eid:a", -60, now=n * 0.1)
    assert tracker.observe("eid:a", -95, now=1.0) is None  # a deep fade does not move it
    track = tracker.get("eid:a")
    assert track is not None
    assert track.smoothed() == -60.0


def test_old_readings_leave_the_window() -> None:
    tracker = Tracker(PARAMS)
    tracker.observe("eid:a", -60, now=0.0)
    tracker.observe("eid:a", -60, now=0.5)
    assert tracker.observe("eid:a", -75, now=6.0) is ReportReason.CHANGED


@pytest.mark.parametrize(
    ("kind", "power", "expected"),
    [("eddystone_eid", -20, -61), ("eddystone_uid", -18, -59), ("ibeacon", -59, -59),
     ("altbeacon", -56, -56)],
)  # fmt: skip
def test_calibrated_power_to_rssi_at_1m(kind: str, power: int, expected: int) -> None:
    assert rssi_at_1m(kind, power) == expected


def test_distance_estimate() -> None:
    assert estimate_distance_m(-59, -59, 2.0) == pytest.approx(1.0)
    assert estimate_distance_m(-79, -59, 2.0) == pytest.approx(10.0)
    tracker = Tracker(PARAMS)
    tracker.observe("eid:a", -79, now=0.0, rssi_at_1m=-59)
    track = tracker.get("eid:a")
    assert track is not None
    assert track.distance_m(2.0) == pytest.approx(10.0)


def test_median_of_even_count() -> None:
    assert median([-60, -70]) == -65.0


def test_a_rising_reading_is_reported_before_the_median_catches_up() -> None:
    tracker = Tracker()
    assert tracker.observe("eid:walker", -80, 0.0) is ReportReason.FIRST_HEARD
    for second, rssi in enumerate((-80, -79, -80, -79), start=1):
        assert tracker.observe("eid:walker", rssi, float(second)) is None
    # Two strong readings at the door: the median (of -80, -79, -80, -79, -66) has not moved,
    # but the first one above the last report is news.
    assert tracker.observe("eid:walker", -66, 5.0) is ReportReason.ROSE
    assert tracker.observe("eid:walker", -64, 5.5) is None  # rate bound: at most once a second


def test_a_single_deep_fade_is_not_reported() -> None:
    tracker = Tracker()
    tracker.observe("eid:still", -60, 0.0)
    for second in range(1, 6):
        tracker.observe("eid:still", -60, float(second))
    assert tracker.observe("eid:still", -85, 6.0) is None
    assert tracker.observe("eid:still", -60, 7.0) is None


def test_crossing_the_entry_threshold_is_reported_at_once_even_inside_the_rate_bound() -> None:
    tracker = Tracker()
    tracker.entry_rssi_dbm = -70.0
    tracker.observe("eid:maria", -75, 0.0)
    assert tracker.observe("eid:maria", -71, 0.3) is None  # below the line, inside the bound
    assert tracker.observe("eid:maria", -70, 0.6) is ReportReason.CROSSED
    # Already reported above the line: staying above it is no new crossing.
    assert tracker.observe("eid:maria", -65, 0.9) is None


def test_without_an_entry_threshold_there_is_no_crossing_rule() -> None:
    tracker = Tracker()
    tracker.observe("eid:maria", -72, 0.0)
    assert tracker.observe("eid:maria", -70, 0.5) is None


def test_every_reading_above_the_entry_line_is_reported_within_the_rate_bound() -> None:
    tracker = Tracker()
    tracker.entry_rssi_dbm = -70.0
    tracker.observe("eid:door", -66, 0.0)
    # Steady at the door: no change, no rise, yet each second's reading goes to the server,
    # which needs consecutive readings to tell a shopper walking in from one walking past.
    assert tracker.observe("eid:door", -66, 1.0) is ReportReason.AT_DOOR
    assert tracker.observe("eid:door", -65, 1.5) is None
    assert tracker.observe("eid:door", -66, 2.0) is ReportReason.AT_DOOR
    tracker.entry_rssi_dbm = None  # an in-store gateway: steady readings wait for keepalive
    assert tracker.observe("eid:door", -66, 3.0) is None


def test_a_phone_advertising_once_a_second_with_jitter_is_reported_at_every_advert() -> None:
    tracker = Tracker()
    tracker.entry_rssi_dbm = -70.0
    # Adverts one second apart give or take 0.1 s (advDelay plus the OS's scheduling slack):
    # intervals of 0.9 s must not fall under the rate bound, or the door loses every other one.
    times = [second + (0.1 if second % 2 == 0 else 0.0) for second in range(20)]
    reasons = [tracker.observe("eid:door", -60, now) for now in times]
    assert reasons[0] is ReportReason.FIRST_HEARD
    assert all(reason is ReportReason.AT_DOOR for reason in reasons[1:])
