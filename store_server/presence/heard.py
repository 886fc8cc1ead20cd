"""An advert a gateway heard, as presence needs it (the wire's frames are the web layer's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

EDDYSTONE_EID = "eddystone_eid"
EDDYSTONE_TLM = "eddystone_tlm"


@dataclass(frozen=True)
class Telemetry:
    """An Eddystone-TLM frame's readings: battery, temperature, counters."""

    battery_mv: int
    temperature_c: float | None
    adv_count: int
    uptime_s: float


class Heard(NamedTuple):
    """One observation of a batch: when, how strong, and whose frame.

    Exactly one of `eid` (an Eddystone-EID frame), `registered_id` (a registered beacon's or
    tag's frame: iBeacon, AltBeacon, Eddystone-UID) and `telemetry` (Eddystone-TLM, sent by
    `beacon_id`) is set, as `kind` says. A named tuple, not a frozen dataclass: a batch makes
    500 of them, and a tuple is made in a third of the time.
    """

    seen_at: float
    rssi: int
    kind: str
    eid: bytes | None = None
    registered_id: str | None = None
    telemetry: Telemetry | None = None
    beacon_id: str | None = None
