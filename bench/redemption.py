"""Coupon redemption under load: 50 concurrent tills redeeming distinct codes over HTTP.

The store server runs as a process on loopback; each till is a thread with its own HTTP
session and staff log-in. Every code is redeemed once; a second pass re-presents the same
codes to confirm none succeeds twice.

    python -m bench redemption [--tills 50] [--per-till 40] [--json]
                               [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]

With `--postgres` the server runs on a fresh database made on that server (and dropped after).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from bench.stack import Stack
from store_server.db.database import Database
from store_server.db.models import Shopper
from store_server.engagement.coupons import issue_coupon
from store_server.reporting.analytics import percentile

THANKS_VALID_S = 3600.0


def issue_codes(database_url: str, store_id: int, count: int) -> list[str]:
    """`count` fresh coupons for the demo's shoppers, straight into the database."""
    db = Database(database_url)
    now = time.time()
    with db.transaction() as session:
        shoppers = session.scalars(select(Shopper.id)).all()
        codes = [
            issue_coupon(
                session,
                store_id,
                shoppers[i % len(shoppers)],
                "bench",
                "bench",
                10,
                now,
                THANKS_VALID_S,
            ).code
            for i in range(count)
        ]
    db.dispose()
    return codes


@contextmanager
def database(workdir: Path, postgres: str | None) -> Iterator[str]:
    """A SQLite file in `workdir`, or a fresh database on the PostgreSQL server of `postgres`."""
    if postgres is None:
        yield f"sqlite:///{workdir / 'store.db'}"
        return
    name = f"bench_redemption_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run(tills: int, per_till: int, postgres: str | None = None) -> dict[str, object]:
    """Redeem tills x per_till codes concurrently; then try them all again."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        database(Path(tmp), postgres) as database_url,
        Stack(Path(tmp)) as stack,
    ):
        stack.database_url = database_url
        stack.start_server()
        store_id = stack.seed["store_id"]
        password = stack.seed["accounts"][0]["password"]
        codes = issue_codes(stack.database_url, store_id, tills * per_till)
        url = f"{stack.url}/api/v1/stores/{store_id}/redemptions"
        # One log-in shared by the tills: fifty log-ins of one account from one address in a
        # second are what the log-in limit exists to refuse.
        token = requests.post(
            f"{stack.url}/api/v1/auth/login",
            timeout=30,
            json={"email": "sam@demo.store", "password": password},
        ).json()["token"]
        tokens = [token] * tills
        results: dict[str, list[tuple[int, float]]] = {"first": [], "again": []}
        lock = threading.Lock()

        def till(index: int, label: str, barrier: threading.Barrier) -> None:
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {tokens[index]}"
            mine = codes[index * per_till : (index + 1) * per_till]
            barrier.wait()
            for code in mine:
                started = time.perf_counter()
                status = session.post(url, json={"code": code}, timeout=30).status_code
                with lock:
                    results[label].append((status, time.perf_counter() - started))

        for label in ("first", "again"):
            barrier = threading.Barrier(tills)
            threads = [
                threading.Thread(target=till, args=(i, label, barrier)) for i in range(tills)
            ]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if label == "first":
                elapsed = time.perf_counter() - started
    latencies = [seconds for _, seconds in results["first"]]
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    if p50 is None or p99 is None:
        raise RuntimeError("no redemption was attempted")
    return {
        "database": "postgresql" if postgres else "sqlite",
        "tills": tills,
        "redemptions": len(latencies),
        "succeeded": sum(status == 200 for status, _ in results["first"]),
        "succeeded_again": sum(status == 200 for status, _ in results["again"]),
        "p50_ms": round(p50 * 1000, 1),
        "p99_ms": round(p99 * 1000, 1),
        "per_second": round(len(latencies) / elapsed, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser(prog="python -m bench redemption", description=__doc__)
    parser.add_argument("--tills", type=int, default=50)
    parser.add_argument("--per-till", type=int, default=40)
    parser.add_argument("--postgres", help="an admin URL of a PostgreSQL server")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.tills, args.per_till, args.postgres)
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return (
        0 if result["succeeded"] == result["redemptions"] and not result["succeeded_again"] else 1
    )
