"""Pickup alert fan-out: from the ingest request that completes an arrival to the Socket.IO event
at every connected staff tablet, against a bare Flask-SocketIO app emitting the same payload.

Both servers run as processes on loopback in the same run (threading mode, Werkzeug), and the
same 50 python-socketio clients per server receive the events in this process.

    python -m bench fanout [--tablets 50] [--arrivals 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
import socketio

from bench.latency import STAFF, person_name, seed_store
from bench.stack import Stack, free_port
from store_server.presence.identity import eddystone_eid
from store_server.reporting.analytics import percentile

# Arrivals are spaced so one fan-out is over before the next starts: we measure latency, not
# throughput.
SPACING_S = 0.3
DEADLINE_S = 10.0


class Tablets:
    """N live Socket.IO clients recording when each `event` (an `arrival`) reaches them."""

    def __init__(
        self, url: str, count: int, auth: dict[str, str] | None, event: str = "arrival"
    ) -> None:
        self.received: list[list[float]] = []
        self._lock = threading.Lock()
        self.clients = []
        for _ in range(count):
            client = socketio.Client(reconnection=False)
            client.on(event, self._recorder())
            client.connect(url, auth=auth, transports=["websocket"], wait_timeout=10)
            self.clients.append(client)

    def _recorder(self) -> Callable[[Any], None]:
        def record(_payload: Any) -> None:
            now = time.perf_counter()
            with self._lock:
                self.received[-1].append(now)

        return record

    def expect_one(self) -> None:
        """Start collecting receive times for the next event."""
        with self._lock:
            self.received.append([])

    def wait_all(self) -> list[float]:
        """Poll until every tablet got the current event (or the deadline passes)."""
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received[-1]) >= len(self.clients):
                    return list(self.received[-1])
            time.sleep(0.002)
        with self._lock:
            return list(self.received[-1])

    def close(self) -> None:
        """Disconnect every client."""
        for client in self.clients:
            client.disconnect()


def summary(latencies: list[float], expected: int) -> dict[str, Any]:
    """p50/p99 in milliseconds and how many deliveries were missing."""
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    if p50 is None or p99 is None:
        raise RuntimeError("no tablet received any event")
    return {
        "p50_ms": round(p50 * 1000, 2),
        "p99_ms": round(p99 * 1000, 2),
        "deliveries": len(latencies),
        "missing": expected - len(latencies),
    }


def measure_product(
    tablets: int, arrivals: int, workdir: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Arrivals through the real ingest endpoint; returns the summary and a sample payload."""
    with Stack(workdir / "stack") as stack:
        stack.start_server(seed=seed_store(arrivals))
        token = requests.post(
            f"{stack.url}/api/v1/auth/login",
            json={"email": STAFF[0], "password": STAFF[1]},
            timeout=10,
        ).json()["token"]
        gateway_token = json.loads((stack.workdir / "seed.json").read_text())["gateway_tokens"][
            "gw-entrance"
        ]
        keys = {
            p["person"]: bytes.fromhex(p["identity_key"])
            for p in json.loads((stack.workdir / "phones.json").read_text())["phones"]
        }
        clients = Tablets(stack.url, tablets, {"token": token})
        latencies: list[float] = []
        payload: dict[str, Any] = {}
        session = requests.Session()
        try:
            for index in range(1, arrivals + 1):
                now = time.time()
                eid = eddystone_eid(keys[person_name(index)], 10, int(now)).hex()
                body: dict[str, Any] = {
                    "batch_id": f"fanout-{index}",
                    "sent_at": now,
                    "observations": [
                        {
                            "seen_at": now,
                            "rssi": -55,
                            "frame": {"kind": "eddystone_eid", "eid": eid, "tx_power": -20},
                        }
                    ],
                }
                clients.expect_one()
                started = time.perf_counter()
                response = session.post(
                    f"{stack.url}/api/v1/gateways/gw-entrance/batches",
                    json=body,
                    timeout=10,
                    headers={"Authorization": f"Bearer {gateway_token}"},
                )
                response.raise_for_status()
                latencies.extend(t - started for t in clients.wait_all())
                time.sleep(SPACING_S)
            payload = requests.get(
                f"{stack.url}/api/v1/stores/1/arrivals",
                timeout=10,
                headers={"Authorization": f"Bearer {token}"},
            ).json()["arrivals"][0]
        finally:
            clients.close()
    return summary(latencies, tablets * arrivals), payload


def measure_bare(tablets: int, arrivals: int, payload: dict[str, Any]) -> dict[str, Any]:
    """The same payload emitted by a bare Flask-SocketIO app."""
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603 - our own module
        [sys.executable, "-m", "bench.fanout_bare", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.05)
        clients = Tablets(url, tablets, None)
        latencies: list[float] = []
        session = requests.Session()
        try:
            for _ in range(arrivals):
                clients.expect_one()
                started = time.perf_counter()
                session.post(f"{url}/emit", json=payload, timeout=10).raise_for_status()
                latencies.extend(t - started for t in clients.wait_all())
                time.sleep(SPACING_S)
        finally:
            clients.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return summary(latencies, tablets * arrivals)


def main(argv: list[str] | None = None) -> int:
    """Measure both and print them side by side."""
    parser = argparse.ArgumentParser(prog="python -m bench fanout", description=__doc__)
    parser.add_argument("--tablets", type=int, default=50)
    parser.add_argument("--arrivals", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        product, payload = measure_product(args.tablets, args.arrivals, Path(tmp))
    bare = measure_bare(args.tablets, args.arrivals, payload)
    result = {
        "tablets": args.tablets,
        "arrivals": args.arrivals,
        "store_server": product,
        "bare_flask_socketio": bare,
        "ratio_p50": round(product["p50_ms"] / bare["p50_ms"], 2),
        "ratio_p99": round(product["p99_ms"] / bare["p99_ms"], 2),
    }
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0
