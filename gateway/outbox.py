"""The on-disk outbox: every closed batch is stored here before it is sent, until delivered.

One SQLite file (stdlib ``sqlite3``) in WAL mode. A batch is one row: its ``batch_id`` (kept
for every retry, across restarts, so the server's 409 ``duplicate_batch`` makes redelivery
harmless) and its observations as the JSON array the server expects. Rows leave only when the
server has the batch (202 or 409 duplicate_batch), rejected it (other 4xx), or when the outbox
is over ``max_observations``: then the oldest batches are dropped and reported, so a long
outage never grows the file without bound. The in-flight batch is never the one dropped.

``synchronous=NORMAL`` with WAL: a commit survives the process being killed (``kill -9``, a
crash, the OOM killer); after a power cut the last commits may be lost but the file is never
corrupt. ``FULL`` would fsync every batch, twice a second, on an SD card.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from gateway.errors import GatewayError

# Wait this long for a lock held by another process (a second gateway on the same file, or
# someone reading the outbox with the sqlite3 shell) before failing.
BUSY_TIMEOUT_MS = 5_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    batch_id TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    reason TEXT NOT NULL,
    observation_count INTEGER NOT NULL,
    observations TEXT NOT NULL
)
"""


class OutboxError(GatewayError):
    """The outbox file cannot be opened or written."""


@dataclass(frozen=True, slots=True)
class PendingBatch:
    """A stored batch waiting for delivery."""

    seq: int
    batch_id: str
    reason: str
    observation_count: int
    observations_json: str


@dataclass(frozen=True, slots=True)
class DroppedBatch:
    """A batch dropped because the outbox was full."""

    batch_id: str
    observation_count: int


class Outbox:
    """A bounded FIFO of batches in one SQLite file; used from one thread (the event loop)."""

    def __init__(self, path: Path, max_observations: int) -> None:
        self.path = path
        self.max_observations = max_observations
        # The batch being posted: never dropped for room, its answer is still to come.
        self.in_flight: str | None = None
        try:
            self._db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
            row = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(observation_count), 0) FROM batches"
            ).fetchone()
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot open the outbox {path}: {exc}") from exc
        # Mirrors of the table's size, so depth is known without a query (metrics thread too).
        self.batches: int = int(row[0])
        self.observations: int = int(row[1])

    def add(
        self, batch_id: str, observations_json: str, observation_count: int, reason: str, now: float
    ) -> list[DroppedBatch]:
        """Store a closed batch (committed on return); drop and return the oldest if over the cap.

        Args:
            now: wall-clock Unix seconds, kept as the batch's creation time.
        """
        with self._db:
            self._db.execute(
                "INSERT INTO batches (batch_id, created_at, reason, observation_count,"
                " observations) VALUES (?, ?, ?, ?, ?)",
                (batch_id, now, reason, observation_count, observations_json),
            )
        self.batches += 1
        self.observations += observation_count
        return self._drop_over_cap(keep=batch_id)

    def oldest(self) -> PendingBatch | None:
        """The oldest stored batch, or None if the outbox is empty."""
        row = self._db.execute(
            "SELECT seq, batch_id, reason, observation_count, observations FROM batches"
            " ORDER BY seq LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        return PendingBatch(int(row[0]), str(row[1]), str(row[2]), int(row[3]), str(row[4]))

    def remove(self, batch_id: str) -> bool:
        """Delete a batch (delivered or rejected); False if it was not there any more."""
        # SELECT then DELETE, not DELETE ... RETURNING: that needs SQLite 3.35, and Raspberry
        # Pi OS Bullseye ships 3.34.
        with self._db:
            row = self._db.execute(
                "SELECT observation_count FROM batches WHERE batch_id = ?", (batch_id,)
            ).fetchone()
            if row is None:
                return False
            self._db.execute("DELETE FROM batches WHERE batch_id = ?", (batch_id,))
        self.batches -= 1
        self.observations -= int(row[0])
        return True

    def close(self) -> None:
        """Checkpoint the WAL into the main file and close."""
        try:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass  # another reader holds the WAL: the next open checkpoints instead
        self._db.close()

    def _drop_over_cap(self, keep: str) -> list[DroppedBatch]:
        dropped: list[DroppedBatch] = []
        while self.observations > self.max_observations:
            row = self._db.execute(
                "SELECT batch_id FROM batches WHERE batch_id NOT IN (?, ?) ORDER BY seq LIMIT 1",
                (keep, self.in_flight or ""),
            ).fetchone()
            if row is None:
                break  # only the newest and the in-flight batch are left: keep them
            before = self.observations
            self.remove(str(row[0]))
            dropped.append(DroppedBatch(str(row[0]), before - self.observations))
        return dropped
