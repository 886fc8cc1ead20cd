"""Presence rules, pure: the caller passes the readings and `now`, nothing is read here."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

# Readings this far above the entry threshold are as sure as one gateway can be.
FULL_CONFIDENCE_MARGIN_DB = 15.0
# One strong reading at the door is evidence, not proof: that is where confidence starts.
BASE_CONFIDENCE = 0.5


class Step(Enum):
    """What one reading means for a shopper's visit."""

    ENTER = "enter"  # a new visit starts now
    EXTEND = "extend"  # the open visit goes on
    IGNORE = "ignore"  # not in the store (yet)


@dataclass(frozen=True)
class Reading:
    """The strongest reading of one device in one batch from one gateway."""

    gateway_id: str
    at_arrival_point: bool
    rssi: int
    rssi_offset_db: float
    seen_at: float

    @property
    def calibrated_rssi(self) -> float:
        """RSSI corrected by the gateway's calibration offset."""
        return self.rssi + self.rssi_offset_db


def visit_step(
    reading: Reading,
    open_visit_last_seen: float | None,
    entry_rssi_dbm: float,
    visit_timeout_s: float,
    now: float,
) -> Step:
    """Strong enough at an arrival point (door, curbside bay) = arrived; any reading extends."""
    visit_is_live = (
        open_visit_last_seen is not None and now - open_visit_last_seen <= visit_timeout_s
    )
    if visit_is_live:
        return Step.EXTEND
    if reading.at_arrival_point and reading.calibrated_rssi >= entry_rssi_dbm:
        return Step.ENTER
    return Step.IGNORE


def entry_confidence(reading: Reading, entry_rssi_dbm: float) -> float:
    """0.5 at the threshold, rising to 1.0 at 15 dB above it."""
    margin = max(0.0, reading.calibrated_rssi - entry_rssi_dbm)
    share = min(1.0, margin / FULL_CONFIDENCE_MARGIN_DB)
    return round(BASE_CONFIDENCE + (1 - BASE_CONFIDENCE) * share, 2)
