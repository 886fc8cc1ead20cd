"""The ceiling for the ingest bench: a bare Flask + SQLAlchemy endpoint, served like the store
server, that parses a gateway batch and inserts its rows into the same observations table in
one statement (no authentication, no identity, no fusion).

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


@app.post("/api/v1/gateways/<gateway_id>/batches")
def batches(gateway_id: str) -> tuple[Any, int]:
    """Insert the batch's observations."""
    body = request.get_json()
    rows = [
        {"store_id": 1, "gateway_id": gateway_id, "rssi": o["rssi"], "seen_at": o["seen_at"]}
        | NAMED
        for o in body["observations"]
    ]
    with engine.begin() as connection:
        connection.execute(insert(observations), rows)
    return jsonify({"batch_id": body["batch_id"], "accepted": len(rows)}), 202


@app.get("/healthz")
def health() -> tuple[str, int]:
    """Up."""
    return "ok", 200
