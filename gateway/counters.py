"""What the gateway has done since it started, for the periodic stats line."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(slots=True)
class Counters:
    """Monotonic event counts; mutated only by the gateway's own event loop."""

    adverts_seen: int = 0
    frames_decoded: int = 0
    # Recognised frames the server's protocol v1 does not carry (all but Eddystone-EID).
    frames_not_uploaded: int = 0
    # Adverts with no recognised frame: not ours (or not yet supported), dropped and counted.
    undecodable_dropped: int = 0
    # Batches the server has (202, or 409 duplicate_batch: received earlier).
    batches_sent: int = 0
    # Batches rejected by the server (4xx other than 409 duplicate/429), evicted from a full
    # queue, or still undelivered at shutdown.
    batches_dropped: int = 0
    # Observations lost: in dropped batches, or with an RSSI outside the protocol's range.
    observations_dropped: int = 0
    # Failed upload attempts that will be retried (network error, timeout, 5xx, 429).
    upload_retries: int = 0

    def snapshot(self) -> dict[str, int]:
        """The counts as a plain dict (for logs and tests)."""
        return asdict(self)
