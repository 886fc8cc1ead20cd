"""Raw readings are kept for STORE_RAW_RETENTION_DAYS, then deleted by the sweep.

Only observations (what a gateway heard) and the batch ids that de-duplicate gateway uploads
go; visits, presence events and every total derived from them stay. Each chunk is its own
transaction that deletes only rows older than the cutoff, so a purge interrupted half-way
(a crash, a restart) has lost nothing else and the next sweep carries on where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select

from store_server.db.database import Database, rows_changed
from store_server.db.models import GatewayBatch, Observation

DAY_S = 86400.0
# 5,000 rows per transaction keeps each DELETE short on SQLite (one writer at a time: ingest
# waits for it) and at most 20 chunks per table per sweep keeps a sweep under a second or so;
# a backlog (retention shortened, a server off for weeks) drains over the next sweeps.
PURGE_CHUNK = 5000
MAX_CHUNKS_PER_SWEEP = 20


@dataclass(frozen=True)
class Purged:
    """What one purge deleted, and whether anything older than the cutoff is left."""

    observations: int
    batches: int
    finished: bool


def purge_raw(
    db: Database,
    now: float,
    retention_days: int,
    chunk: int = PURGE_CHUNK,
    max_chunks: int = MAX_CHUNKS_PER_SWEEP,
) -> Purged:
    """Delete observations and batch ids older than `retention_days` before `now`, in chunks."""
    cutoff = now - retention_days * DAY_S
    counts: list[int] = []
    finished = True
    for table, when in (
        (Observation, Observation.seen_at),
        (GatewayBatch, GatewayBatch.received_at),
    ):
        deleted = 0
        for _ in range(max_chunks):
            oldest = select(table.id).where(when < cutoff).order_by(table.id).limit(chunk)
            with db.transaction() as session:
                done = rows_changed(
                    session.execute(
                        delete(table)
                        .where(table.id.in_(oldest.scalar_subquery()))
                        .execution_options(synchronize_session=False)
                    )
                )
            deleted += done
            if done < chunk:
                break
        else:
            finished = False
        counts.append(deleted)
    return Purged(counts[0], counts[1], finished)
