"""The confidence of a single arrival reading (the pickup alert's)."""

from __future__ import annotations

from store_server.presence.rules import Reading, entry_confidence

THRESHOLD = -70
NOW = 10_000.0


def reading(rssi: int, offset: float = 0.0) -> Reading:
    return Reading(
        gateway_id="gw", at_arrival_point=True, rssi=rssi, rssi_offset_db=offset, seen_at=NOW
    )


def test_confidence_rises_with_margin_and_is_capped() -> None:
    assert entry_confidence(reading(-70), THRESHOLD) == 0.5
    assert 0.5 < entry_confidence(reading(-62), THRESHOLD) < 1.0
    assert entry_confidence(reading(-40), THRESHOLD) == 1.0


def test_calibration_offset_counts() -> None:
    assert entry_confidence(reading(-75, offset=5.0), THRESHOLD) == 0.5
