"""What the gateway has done since it started: the stats line, the heartbeat and /metrics."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(slots=True)
class Counters:
    """Monotonic event counts; mutated only by the gateway's own event loop."""

    adverts_seen: int = 0
    frames_decoded: int = 0
    # Adverts with no recognised frame: not ours (or not yet supported), dropped and counted.
    undecodable_dropped: int = 0
    # Adverts with recognised frames none of which may leave (unregistered beacons, URL, eTLM).
    unregistered_dropped: int = 0
    # Admitted readings the tracker did not turn into a report (a steady device, the rate bound).
    readings_coalesced: int = 0
    # Observations put into batches (first sighting, change, keep-alive).
    reports: int = 0
    # Devices not heard for the forget timeout (not uploaded in protocol v1, only counted).
    devices_lost: int = 0
    # Batches the server has (202, or 409 duplicate_batch: received earlier).
    batches_sent: int = 0
    observations_sent: int = 0
    # Batches rejected by the server (400 or 413 about the batch itself) or dropped from a full
    # outbox.
    batches_dropped: int = 0
    # Observations lost: in rejected batches, or with an RSSI outside the protocol's range.
    observations_dropped: int = 0
    # Observations in batches dropped, oldest first, because the outbox was full.
    outbox_full_dropped: int = 0
    # Failed upload attempts that will be retried (network error, timeout, any answer but
    # acceptance or a per-batch rejection: 401, 404, 409 conflict, 429, 5xx...).
    upload_retries: int = 0
    # Times the watchdog restarted the scanner (silence, or a failed start being retried).
    scanner_restarts: int = 0
    heartbeats_sent: int = 0
    heartbeats_failed: int = 0
    config_refreshes: int = 0
    config_failures: int = 0

    def snapshot(self) -> dict[str, int]:
        """The counts as a plain dict (for logs and tests)."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class DeviceLevel:
    """How one registered beacon is heard now, for the calibration walk (/metrics).

    `device` is its registered id (`kind:id` as the server's config names it), never an EID or
    anything a shopper's phone sends.
    """

    device: str
    last_rssi_dbm: int
    smoothed_rssi_dbm: float  # the tracker's sliding median, what reports are decided on
    heard_seconds_ago: float
    rssi_at_1m_dbm: int | None  # the level its frame says it gives at 1 m, if it says


@dataclass(frozen=True, slots=True)
class LiveStatus:
    """The gateway's current levels (not counts): for the heartbeat and /metrics."""

    adapter_state: str
    devices_tracked: int
    outbox_batches: int
    outbox_observations: int
    registered_ids: int
    # Wall-clock Unix seconds of the last advert heard, None before the first.
    last_advert_at: float | None
    # Since when uploads are held back (the server answers but does not take the batches, or
    # does not answer), and the last status it answered; both None while uploads flow.
    uploads_held_since: float | None = None
    upload_held_status: int | None = None
    # The registered beacons heard within the forget timeout (bounded: metrics.device_levels).
    device_levels: tuple[DeviceLevel, ...] = ()
