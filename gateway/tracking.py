"""Per-device tracking: smooth each device's RSSI and decide when it is worth a report.

Pure: nothing here reads a clock; ``now`` (monotonic seconds) is passed in. A *device* is what
the admission filter calls an identity (an EID, a registered beacon id). A *report* is an
observation that goes into a batch: when the device is first heard (the uplink sends it at
once), when its smoothed reading moved by at least ``change_db`` from what was last reported,
when a single reading *rose* that far above it (both at most once per ``min_interval_s``), and
every ``keepalive_s`` otherwise, so the server keeps seeing a device
that stands still. A device not heard for ``forget_after_s`` is *lost* (counted, not uploaded
in protocol v1: the server times visits out itself).

Smoothing is a sliding median of the last ``window`` readings no older than ``window_s``. Why a
median: BLE readings suffer fast fading, i.e. single adverts 10-20 dB below the true level (deep
nulls) and the odd reflection above it. A median ignores up to half the window of such outliers
outright, where an EWMA is dragged by every one and a Kalman filter needs noise variances we
have not measured on real floors; sorting a handful of integers costs next to nothing.

Why a rise in one reading is also reported: the median lags a walking shopper by half its window
(seconds at a phone's 1-3 adverts per second), and an arrival is exactly a rising signal. Fading
makes deep drops, not big rises (constructive interference adds a few dB at most), so a reading
well above the last report is news; a reading well below it waits for the median.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field

# Seven readings: the median then has about half the spread of one reading (sigma * 0.47 for
# Gaussian noise) and shrugs off three outliers; at a phone's 3-10 adverts per second that is
# 1-2 s of history, short enough to follow a walking shopper.
RSSI_WINDOW = 7
# Readings older than this say where the device *was*; drop them even if fewer than the window.
RSSI_WINDOW_S = 5.0
# Below this the change is within the noise of a phone standing still (smoothed spread about
# 2 dB with the simulator's 4 dB per-packet shadowing); a walking shopper crosses it within a
# step or two near the gateway, where distance matters most.
REPORT_CHANGE_DB = 3.0
# No device is reported more often than this (first sighting excepted): bounds upload volume at
# about one observation per device per second however fast the device advertises. A little
# under a second: a phone advertising once a second is heard 1 s apart give or take its
# advDelay and the OS's scheduling slack (firmware_sim's ADVERT_JITTER_S, 0.1 s), and a bound of
# exactly 1 s dropped a third of those adverts, at the door too, where fusion tells entrants
# from passers by consecutive readings (bench accuracy).
REPORT_MIN_INTERVAL_S = 0.8
# A steady device is still reported this often: the server sees it present (its visit timeout
# is minutes) and its RSSI current, at a tenth of the rate bound.
REPORT_KEEPALIVE_S = 10.0
# Not heard for this long: lost. A minute rides out a phone's screen-off advertising gaps and a
# shopper behind a shelf; it also bounds the table, since EIDs rotate every ~17 minutes.
FORGET_AFTER_S = 60.0
# Free-space propagation, as the simulator assumes; indoor retail floors measure 1.8-3.0.
PATH_LOSS_EXPONENT = 2.0
# Eddystone calibrates tx_power at 0 m; the loss from 0 m to 1 m is 41 dB (Eddystone spec).
EDDYSTONE_0M_TO_1M_DB = 41


class ReportReason(enum.StrEnum):
    """Why a reading of a device goes into the next batch."""

    FIRST_HEARD = "first_heard"
    CROSSED = "crossed"
    AT_DOOR = "at_door"
    CHANGED = "changed"
    ROSE = "rose"
    KEEPALIVE = "keepalive"


@dataclass(frozen=True, slots=True)
class TrackingParams:
    """The tunables of the tracker (settings ``GATEWAY_RSSI_WINDOW`` ... override them)."""

    window: int = RSSI_WINDOW
    window_s: float = RSSI_WINDOW_S
    change_db: float = REPORT_CHANGE_DB
    min_interval_s: float = REPORT_MIN_INTERVAL_S
    keepalive_s: float = REPORT_KEEPALIVE_S
    forget_after_s: float = FORGET_AFTER_S
    path_loss_exponent: float = PATH_LOSS_EXPONENT


@dataclass(slots=True)
class Track:
    """What the gateway remembers of one device."""

    first_heard_at: float
    last_heard_at: float
    last_report_at: float
    reported_rssi: float  # the reading last uploaded, i.e. what the server knows
    rssi_at_1m: int | None = None
    readings: deque[tuple[float, int]] = field(default_factory=deque)

    def smoothed(self) -> float:
        """The median of the readings in the window (the latest reading if there is one)."""
        return median([rssi for _, rssi in self.readings])

    def distance_m(self, path_loss_exponent: float = PATH_LOSS_EXPONENT) -> float | None:
        """Estimated distance from the smoothed RSSI; None if the frame carries no power."""
        if self.rssi_at_1m is None:
            return None
        return estimate_distance_m(self.smoothed(), self.rssi_at_1m, path_loss_exponent)


def median(values: list[int]) -> float:
    """The median of a non-empty list (mean of the middle two for an even count)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return (ordered[middle - 1] + ordered[middle]) / 2.0


def estimate_distance_m(rssi: float, rssi_at_1m: int, path_loss_exponent: float) -> float:
    """Log-distance path loss: ``rssi = rssi_at_1m - 10 n log10(d)`` solved for d (metres)."""
    return float(10.0 ** ((rssi_at_1m - rssi) / (10.0 * path_loss_exponent)))


def rssi_at_1m(kind: str, calibrated_power: int) -> int:
    """The expected RSSI at 1 m from a frame's calibrated power field.

    Args:
        kind: the frame kind; Eddystone frames calibrate at 0 m, iBeacon and AltBeacon at 1 m.
        calibrated_power: ``tx_power``, ``power`` or ``ref_rssi`` of the frame, dBm.
    """
    if kind.startswith("eddystone"):
        return calibrated_power - EDDYSTONE_0M_TO_1M_DB
    return calibrated_power


def add_reading(track: Track, rssi: int, now: float, params: TrackingParams) -> None:
    """Append a reading and drop the ones outside the window (by count and by age)."""
    readings = track.readings
    readings.append((now, rssi))
    while len(readings) > params.window:
        readings.popleft()
    horizon = now - params.window_s
    while len(readings) > 1 and readings[0][0] < horizon:
        readings.popleft()
    track.last_heard_at = now


def report_reason(
    track: Track, rssi: int, now: float, params: TrackingParams, entry_rssi_dbm: float | None
) -> ReportReason | None:
    """Whether the device's latest reading ``rssi`` (already added) is worth a report now.

    Args:
        entry_rssi_dbm: the server's entry threshold for this gateway, if it is an entrance
            one: an upward crossing is reported at once, ignoring the rate bound (it can only
            recur after a lower reading was reported, so it stays rare); above it, every
            reading is reported within the rate bound.
    """
    if entry_rssi_dbm is not None and track.reported_rssi < entry_rssi_dbm <= rssi:
        return ReportReason.CROSSED
    since_report = now - track.last_report_at
    if since_report < params.min_interval_s:
        return None
    if entry_rssi_dbm is not None and rssi >= entry_rssi_dbm:
        # Right at the door the server decides "entered or walking past" from consecutive
        # readings, so none is held back here (still at most one per second).
        return ReportReason.AT_DOOR
    if abs(track.smoothed() - track.reported_rssi) >= params.change_db:
        return ReportReason.CHANGED
    if rssi - track.reported_rssi >= params.change_db:
        return ReportReason.ROSE
    if since_report >= params.keepalive_s:
        return ReportReason.KEEPALIVE
    return None


class Tracker:
    """Every device heard recently; decides reports. All times are passed in."""

    def __init__(self, params: TrackingParams | None = None) -> None:
        self.params = params if params is not None else TrackingParams()
        self._tracks: dict[str, Track] = {}
        # Set from the server's config (entrance gateways only); see ``report_reason``.
        self.entry_rssi_dbm: float | None = None

    def __len__(self) -> int:
        return len(self._tracks)

    def get(self, identity: str) -> Track | None:
        """The track of a device, or None if it is not tracked."""
        return self._tracks.get(identity)

    def observe(
        self, identity: str, rssi: int, now: float, rssi_at_1m: int | None = None
    ) -> ReportReason | None:
        """Record one reading of ``identity``; return why to report it now, or None."""
        track = self._tracks.get(identity)
        if track is None or now - track.last_heard_at >= self.params.forget_after_s:
            self._tracks[identity] = Track(
                first_heard_at=now,
                last_heard_at=now,
                last_report_at=now,
                reported_rssi=float(rssi),
                rssi_at_1m=rssi_at_1m,
                readings=deque([(now, rssi)]),
            )
            return ReportReason.FIRST_HEARD
        add_reading(track, rssi, now, self.params)
        if rssi_at_1m is not None:
            track.rssi_at_1m = rssi_at_1m
        reason = report_reason(track, rssi, now, self.params, self.entry_rssi_dbm)
        if reason is not None:
            track.last_report_at = now
            track.reported_rssi = float(rssi)  # what the server now knows: the uploaded reading
        return reason

    def expire(self, now: float) -> list[str]:
        """Forget and return the devices not heard for ``forget_after_s`` (the lost ones)."""
        horizon = now - self.params.forget_after_s
        lost = [key for key, track in self._tracks.items() if track.last_heard_at <= horizon]
        for key in lost:
            del self._tracks[key]
        return lost
