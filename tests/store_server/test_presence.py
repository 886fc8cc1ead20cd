"""The entry rule, table-driven."""

from __future__ import annotations

import pytest

from store_server.presence import Reading, Step, entry_confidence, visit_step

THRESHOLD = -70
TIMEOUT = 600.0
NOW = 10_000.0


def reading(rssi: int, at_arrival_point: bool = True, offset: float = 0.0) -> Reading:
    return Reading(
        gateway_id="gw",
        at_arrival_point=at_arrival_point,
        rssi=rssi,
        rssi_offset_db=offset,
        seen_at=NOW,
    )


@pytest.mark.parametrize(
    ("r", "last_seen", "expected"),
    [
        (reading(-60), None, Step.ENTER),
        (reading(-70), None, Step.ENTER),  # at the threshold counts
        (reading(-71), None, Step.IGNORE),
        (reading(-74, offset=5.0), None, Step.ENTER),  # calibration offset applies
        (reading(-40, at_arrival_point=False), None, Step.IGNORE),  # only entrance gateways admit
        (reading(-90), NOW - 10, Step.EXTEND),  # a live visit goes on
        (reading(-90, at_arrival_point=False), NOW - TIMEOUT, Step.EXTEND),
        (reading(-60), NOW - TIMEOUT - 1, Step.ENTER),  # stale visit: this is a new one
        (reading(-90), NOW - TIMEOUT - 1, Step.IGNORE),
    ],
)
def test_visit_step(r: Reading, last_seen: float | None, expected: Step) -> None:
    assert visit_step(r, last_seen, THRESHOLD, TIMEOUT, NOW) is expected


def test_confidence_rises_with_margin_and_is_capped() -> None:
    assert entry_confidence(reading(-70), THRESHOLD) == 0.5
    assert 0.5 < entry_confidence(reading(-62), THRESHOLD) < 1.0
    assert entry_confidence(reading(-40), THRESHOLD) == 1.0
