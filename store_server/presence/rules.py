"""Presence rules for a single reading, pure: what a pickup alert's confidence says.

Where a person is, over time and across signals, is decided by `store_server.presence.fusion`.
"""

from __future__ import annotations

from dataclasses import dataclass

from store_server.presence.fusion import entry_confidence as _entry_confidence


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


def entry_confidence(reading: Reading, entry_rssi_dbm: float) -> float:
    """0.5 at the threshold, rising to 1.0 at 15 dB above it."""
    return _entry_confidence(reading.calibrated_rssi, entry_rssi_dbm)
