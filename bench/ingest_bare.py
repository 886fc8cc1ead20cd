"""The ceiling for the ingest bench: a bare Flask + SQLAlchemy endpoint, served like the store
server, that parses a gateway batch and stores its rows in the same observations table, the
fastest way each database takes them (COPY on PostgreSQL, one executemany INSERT on SQLite),
and commits: no authentication, validation, identity, fusion nor dedupe.

    BENCH_DATABASE_URL=... gunicorn -k gevent -w 1 -b 127.0.0.1:N bench.ingest_bare:app
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, jsonify, request
from sqlalchemy import MetaData, Table, create_engine, insert

app = Flask(__name__)
engine = create_engine(os.environ["BENCH_DATABASE_URL"])
observations = Table("observations", MetaData(), autoload_with=engine)
# The device and shopper every row names (seeded by the bench; any existing ones would do).
NAMED = {"device_id": 1, **({"shopper_id": 1} if "shopper_id" in observations.c else {})}
COLUMNS = ["store_id", "gateway_id", *NAMED, "rssi", "seen_at"]
COPY = f"COPY observations ({', '.join(COLUMNS)}) FROM STDIN"


@app.post("/api/v1/gateways/<gateway_id>/batches")
def batches(gateway_id: str) -> tuple[Any, int]:
    """Store the batch's observations."""
    body = request.get_json()
    named = list(NAMED.values())
    rows = [[1, gateway_id, *named, o["rssi"], o["seen_at"]] for o in body["observations"]]
    if engine.dialect.name == "postgresql":
        connection: Any = engine.raw_connection()  # psycopg's, for its COPY
        try:
            with connection.cursor() as cursor, cursor.copy(COPY) as copy:
                for row in rows:
                    copy.write_row(row)
            connection.commit()
        finally:
            connection.close()
    else:
        with engine.begin() as connection:
            connection.execute(
                insert(observations), [dict(zip(COLUMNS, r, strict=True)) for r in rows]
            )
    return jsonify({"batch_id": body["batch_id"], "accepted": len(rows)}), 202


@app.get("/healthz")
def health() -> tuple[str, int]:
    """Up."""
    return "ok", 200
