"""Production serving, gunicorn's gthread worker against its gevent worker (docs/decisions.md).

For each worker class: the fan-out bench (bench/fanout.py) at each tablet count, against a bare
Flask-SocketIO app served the same way in the same run; then gateway batches posted at full
rate by several concurrent gateways (accepted batches and observations per second, request
latency p50/p99), with no tablet connected.

    python -m bench serving [--tablets 1000 4000] [--arrivals 10] [--ingest-seconds 15] [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import requests

from bench import fanout
from bench.latency import seed_store
from bench.stack import Stack
from store_server.presence.identity import eddystone_eid
from store_server.reporting.analytics import percentile
from store_server.settings import SERVER_WORKERS

# Gateways posting at once, each as fast as the server answers.
POSTERS = 4
OBSERVATIONS_PER_BATCH = 100
PHONES = 200
# Heard from the pavement: stored and fused, never an arrival (the bench measures ingest).
FAR_RSSI_DBM = -88


def measure_ingest(worker: str, seconds: float) -> dict[str, Any]:
    """Batches posted back to back by POSTERS threads for `seconds`."""
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp) / "stack", server_settings={"STORE_SERVER_WORKER": worker})
        with stack:
            stack.start_server(seed=seed_store(PHONES))
            token = stack.seed["gateway_tokens"]["gw-entrance"]
            keys = [
                bytes.fromhex(p["identity_key"])
                for p in json.loads((stack.workdir / "phones.json").read_text())["phones"]
            ]
            latencies: list[float] = []
            counts = {"batches": 0, "observations": 0, "failed": 0}
            lock = threading.Lock()
            deadline = time.monotonic() + seconds

            def post(poster: int) -> None:
                session = requests.Session()
                sequence = 0
                while time.monotonic() < deadline:
                    sequence += 1
                    now = time.time()
                    eids = {
                        i: eddystone_eid(keys[i], 10, int(now)).hex()
                        for i in range(poster, len(keys), POSTERS)
                    }
                    body: dict[str, Any] = {
                        "batch_id": f"ingest-{poster}-{sequence}",
                        "sent_at": now,
                        "observations": [
                            {
                                "seen_at": now - j * 0.005,
                                "rssi": FAR_RSSI_DBM,
                                "frame": {
                                    "kind": "eddystone_eid",
                                    "eid": list(eids.values())[j % len(eids)],
                                    "tx_power": -20,
                                },
                            }
                            for j in range(OBSERVATIONS_PER_BATCH)
                        ],
                    }
                    started = time.perf_counter()
                    response = session.post(
                        f"{stack.url}/api/v1/gateways/gw-entrance/batches",
                        json=body,
                        timeout=30,
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    took = time.perf_counter() - started
                    with lock:
                        if response.ok:
                            counts["batches"] += 1
                            counts["observations"] += OBSERVATIONS_PER_BATCH
                            latencies.append(took)
                        else:
                            counts["failed"] += 1

            threads = [threading.Thread(target=post, args=(i,)) for i in range(POSTERS)]
            started = time.monotonic()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    return {
        "worker": worker,
        "posters": POSTERS,
        "observations_per_batch": OBSERVATIONS_PER_BATCH,
        "batches_per_s": round(counts["batches"] / elapsed, 1),
        "observations_per_s": round(counts["observations"] / elapsed),
        "failed": counts["failed"],
        "p50_ms": round((p50 or 0) * 1000, 1),
        "p99_ms": round((p99 or 0) * 1000, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Measure every worker class and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench serving", description=__doc__)
    parser.add_argument("--workers", nargs="+", choices=SERVER_WORKERS, default=SERVER_WORKERS)
    parser.add_argument("--tablets", type=int, nargs="+", default=[1000, 4000])
    parser.add_argument("--arrivals", type=int, default=10)
    parser.add_argument("--ingest-seconds", type=float, default=15.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results: list[dict[str, Any]] = []
    for worker in args.workers:
        runs: list[tuple[str, Callable[[], dict[str, Any]]]] = [
            (f"fanout {tablets}", partial(fanout.measure, worker, tablets, args.arrivals))
            for tablets in args.tablets
        ]
        runs.append(("ingest", partial(measure_ingest, worker, args.ingest_seconds)))
        for name, run in runs:
            try:
                results.append(run())
            except Exception as exc:  # noqa: BLE001 - a run that fails is a figure too
                results.append({"worker": worker, "run": name, "failed": repr(exc)[:300]})
            print(json.dumps(results[-1]), flush=True)
    if not args.json:
        for result in results:
            print(json.dumps(result, indent=2))
    return 0
