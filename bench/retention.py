"""How fast the sweep purges raw readings past their retention, and how long one chunk holds
SQLite's single writer (what ingest waits for at worst).

    python -m bench retention [--old 200000] [--recent 20000] [--json]

A fresh SQLite file (WAL, as the server runs it) is migrated and seeded with the demo store;
`--old` observations and as many batch ids older than three days and `--recent` newer ones are
inserted (not timed). Then `purge_raw` runs one chunk per table at a time until nothing is
left; the figures are the total time, rows per second, how many sweeps (20 chunks a table
each) it takes, and the longest call of one chunk per table (two short transactions).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from store_server.db.database import Database
from store_server.db.migrate import upgrade
from store_server.db.models import Device, Gateway, GatewayBatch, Observation
from store_server.demo import seed_demo
from store_server.presence import retention

DAY_S = 86400.0


def seed(db: Database, now: float, old: int, recent: int) -> None:
    """Insert the readings and batch ids, in large statements (not timed)."""
    with db.transaction() as session:
        gateway = session.scalars(select(Gateway.id)).first()
        phone = session.execute(select(Device.id, Device.shopper_id)).first()
        if phone is None:
            raise RuntimeError("the demo seeded no phone")
        device, shopper = phone
        ages = [4 * DAY_S + i * 0.5 for i in range(old)] + [i * 0.5 for i in range(recent)]
        session.execute(
            insert(Observation),
            [
                {
                    "store_id": 1,
                    "gateway_id": gateway,
                    "shopper_id": shopper,
                    "device_id": device,
                    "rssi": -60,
                    "seen_at": now - age,
                }
                for age in ages
            ],
        )
        session.execute(
            insert(GatewayBatch),
            [
                {
                    "gateway_id": gateway,
                    "batch_id": f"b{i}",
                    "received_at": now - age,
                    "observation_count": 1,
                }
                for i, age in enumerate(ages)
            ],
        )


def measure(old: int, recent: int) -> dict[str, Any]:
    """Purge `old` readings (and batch ids) past retention; what it took."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'store.db'}")
        upgrade(db.engine)
        now = time.time()
        seed_demo(db, now)
        seed(db, now, old, recent)
        # One chunk per table per call: the longest call bounds how long ingest can wait.
        longest_call, calls, deleted = 0.0, 0, 0
        started = time.perf_counter()
        while True:
            calls += 1
            before = time.perf_counter()
            purged = retention.purge_raw(db, now, 3, max_chunks=1)
            longest_call = max(longest_call, time.perf_counter() - before)
            deleted += purged.observations + purged.batches
            if purged.finished:
                break
        total = time.perf_counter() - started
        db.dispose()
    return {
        "old_observations": old,
        "recent_observations": recent,
        "rows_deleted": deleted,
        "sweeps_at_20_chunks": -(-calls // retention.MAX_CHUNKS_PER_SWEEP),
        "total_s": round(total, 3),
        "rows_per_s": round(deleted / total),
        "longest_chunk_pair_ms": round(longest_call * 1000, 1),
        "chunk_rows": retention.PURGE_CHUNK,
        "python": platform.python_version(),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the measurement and print it."""
    parser = argparse.ArgumentParser(prog="python -m bench retention", description=__doc__)
    parser.add_argument("--old", type=int, default=200_000)
    parser.add_argument("--recent", type=int, default=20_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = measure(args.old, args.recent)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>20}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
