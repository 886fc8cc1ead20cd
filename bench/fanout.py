"""Pickup alert fan-out: from the ingest request that completes an arrival to the Socket.IO event
at every connected staff tablet, against a bare Flask-SocketIO app emitting the same payload.

Both servers run on loopback in the same run, served the same way (gunicorn, one worker of the
given class, hence the same async mode), and the same number of python-socketio clients receive
the events (asyncio, up to 500 per process: bench/fanout_tablets.py). Each arrival is what a
gateway sends when a phone walks through the door: a batch of three adverts getting stronger
over a second (the entry rule adds up their evidence; one reading at the threshold no longer
opens a visit). Both are measured in the same steady state: from one ping interval after the
last tablet connected (every tablet pinging), after one unmeasured warm-up event.

    python -m bench fanout [--worker gevent|gthread] [--tablets 50] [--arrivals 20] [--json]
                           [--processes 2 --queue redis://127.0.0.1:6379/0]
                           [--repeat 3] [--gc]

With `--processes 2` both the store server and the bare app run as two processes sharing the
Redis queue (each with a channel of its own run), the tablets split evenly between them, and
every event is raised on the first: half the tablets hear it through Redis.

One run's ratio says little on a shared two-core machine (the bare app's own median moved
fivefold between two runs of the same command), so `--repeat N` measures N pairs, the first
product then bare, the next bare then product, and so on (a load that rises or falls through
the invocation favours neither), and reports each pair's ratios with the load average when each
half started, then the median of the ratios and their range. `--gc` adds, for each half, the
garbage collections of the server's workers while the arrivals were measured (bench/gc_probe).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from bench.latency import STAFF, person_name, seed_store
from bench.stack import BIN, Stack, free_port
from store_server.presence.identity import eddystone_eid
from store_server.reporting.analytics import percentile
from store_server.serving import GEVENT_CONNECTIONS, GRACEFUL_TIMEOUT_S, GTHREAD_THREADS
from store_server.settings import SERVER_WORKERS

# Arrivals are spaced so one fan-out is over before the next starts: we measure latency, not
# throughput.
SPACING_S = 0.3
DEADLINE_S = 30.0
# A phone carried through the door, as the entrance gateway hears it within one batch:
# (seconds before the batch, RSSI in dBm).
ARRIVAL_READINGS = ((1.0, -64), (0.5, -59), (0.0, -55))
# One asyncio loop receives about this many clients' events before it is the bottleneck.
TABLETS_PER_PROCESS = 500
START_TIMEOUT_S = 60.0
# Engine.IO's default ping interval, the same in both servers. A tablet's first ping comes this
# long after it connected; from then on every tablet costs a ping and a pong per interval. Both
# servers are measured only once every tablet is past its first ping: the bare app used to be
# measured within it, pong-free, while the product's slower connects (each checks a token in
# the database) had the early tablets' pings running through its fan-out.
PING_INTERVAL_S = 25.0
# Events sent before the measured ones, to both servers: the product's first batch pays its
# process's first-use costs (SQLAlchemy's statement caches, the EID table), once per start.
WARM_UP = 1
# Put first on a server's PYTHONPATH by `--gc`: its sitecustomize logs the workers' collections.
GC_PROBE = Path(__file__).with_name("gc_probe")
# A collection this long or longer stops every greenlet long enough to show in a p99.
GC_LONG_S = 0.020


class Tablets:
    """N live Socket.IO clients spread over processes (bench/fanout_tablets.py), recording when
    each `event` (an `arrival`) reaches them."""

    def __init__(
        self, url: str, count: int, auth: dict[str, str] | None, event: str = "arrival"
    ) -> None:
        self.count = count
        self.retries = 0  # connection attempts that failed and were tried again
        self.dropped = 0  # connected clients the server dropped
        self.received: list[list[float]] = [[]]
        self._lock = threading.Lock()
        self._procs: list[subprocess.Popen[str]] = []
        self._readers: list[threading.Thread] = []
        ready = threading.Semaphore(0)
        shares = [count // client_processes(count)] * client_processes(count)
        shares[0] += count - sum(shares)
        # The token by environment, not argument: arguments show in `ps`.
        env = {**os.environ, "FANOUT_AUTH": json.dumps(auth or {})}
        for share in shares:
            proc = subprocess.Popen(  # noqa: S603 - our own module
                [sys.executable, "-m", "bench.fanout_tablets", url, str(share), event],
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            self._procs.append(proc)
            reader = threading.Thread(target=self._read, args=(proc, ready), daemon=True)
            reader.start()
            self._readers.append(reader)
        deadline = time.monotonic() + START_TIMEOUT_S * 10
        waiting = len(self._procs)
        while waiting:
            if ready.acquire(timeout=1.0):
                waiting -= 1
            elif self.dropped or time.monotonic() > deadline or self._any_exited():
                # No goodbyes to a server that is already failing: they took minutes.
                self.close(wait_s=1.0)
                raise RuntimeError(
                    f"the tablets did not all connect: {self.dropped} dropped by the server, "
                    f"{self.retries} connection attempts retried"
                )

    def _any_exited(self) -> bool:
        return any(proc.poll() is not None for proc in self._procs)

    def _read(self, proc: subprocess.Popen[str], ready: threading.Semaphore) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("ready"):
                with self._lock:
                    self.retries += int(line.split()[1])
                ready.release()
                continue
            if line.startswith("dropped"):
                with self._lock:
                    self.dropped += 1
                continue
            with self._lock:
                self.received[-1].append(float(line))

    def expect_one(self) -> None:
        """Start collecting receive times for the next event."""
        with self._lock:
            self.received.append([])

    def wait_all(self) -> list[float]:
        """Poll until every tablet got the current event (or the deadline passes)."""
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received[-1]) >= self.count - self.dropped:
                    return list(self.received[-1])
            time.sleep(0.002)
        with self._lock:
            return list(self.received[-1])

    def check_none_dropped(self) -> None:
        """Stop the run once the server dropped a tablet: the rest would measure fewer."""
        with self._lock:
            dropped = self.dropped
        if dropped:
            self.close(wait_s=1.0)
            raise RuntimeError(f"{dropped} of {self.count} tablets were dropped by the server")

    def close(self, wait_s: float = 120.0) -> None:
        """Disconnect every client (their processes end when stdin closes); a process not done
        within `wait_s` is killed."""
        for proc in self._procs:
            if proc.stdin is not None:
                proc.stdin.close()
        for proc in self._procs:
            try:
                proc.wait(timeout=wait_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def client_processes(count: int) -> int:
    """Processes of TABLETS_PER_PROCESS clients at most (one asyncio loop each)."""
    return max(1, -(-count // TABLETS_PER_PROCESS))


def summary(latencies: list[float], expected: int, retries: int = 0) -> dict[str, Any]:
    """p50/p99 in milliseconds, how many deliveries were missing, and how many connection
    attempts had to be tried again."""
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    if p50 is None or p99 is None:
        raise RuntimeError("no tablet received any event")
    return {
        "p50_ms": round(p50 * 1000, 2),
        "p99_ms": round(p99 * 1000, 2),
        "deliveries": len(latencies),
        "missing": expected - len(latencies),
        "connect_retries": retries,
    }


class Steps:
    """Where each measured arrival's time went: until the request was answered (the product's
    ingest, the bare app's emit call), and until the first tablet heard it (when the fan-out
    had begun)."""

    def __init__(self) -> None:
        self.answered: list[float] = []
        self.first_heard: list[float] = []

    def add(self, started: float, answered: float, heard: list[float]) -> None:
        """One arrival: when it was sent, answered, and heard by each tablet."""
        self.answered.append(answered - started)
        if heard:
            self.first_heard.append(min(heard) - started)

    def figures(self) -> dict[str, float]:
        """Medians over the measured arrivals, in milliseconds."""
        return {
            "answered_p50_ms": round(statistics.median(self.answered) * 1000, 1),
            "first_heard_p50_ms": round(statistics.median(self.first_heard) * 1000, 1),
        }


class GcLog:
    """Where a server's workers log their collections (`--gc`), or nowhere."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)

    def env(self) -> dict[str, str]:
        """The server's environment variables that load the probe."""
        if self.directory is None:
            return {}
        path = os.pathsep.join(p for p in (str(GC_PROBE), os.environ.get("PYTHONPATH")) if p)
        return {"PYTHONPATH": path, "FANOUT_GC_LOG": str(self.directory)}

    def during(self, start: float, end: float) -> dict[str, Any] | None:
        """The collections that started between `start` and `end` (perf_counter), all workers
        together: how many per generation, their total and longest wall time."""
        if self.directory is None:
            return None
        took: list[tuple[int, float]] = []
        for log in self.directory.glob("gc-*.log"):
            for line in log.read_text().splitlines():
                generation, began, seconds = line.split()
                if start <= float(began) <= end:
                    took.append((int(generation), float(seconds)))
        return gc_figures(took)


def gc_figures(took: list[tuple[int, float]]) -> dict[str, Any]:
    """(generation, seconds) of each collection -> counts, total and longest, in ms."""
    return {
        "collections": [sum(1 for g, _ in took if g == gen) for gen in (0, 1, 2)],
        "total_ms": round(sum(t for _, t in took) * 1000, 1),
        "longest_ms": round(max((t for _, t in took), default=0.0) * 1000, 1),
        f"over_{GC_LONG_S * 1000:.0f}ms": sum(1 for _, t in took if t >= GC_LONG_S),
    }


def arrival_batch(batch_id: str, identity_key: bytes, now: float) -> dict[str, Any]:
    """The batch an entrance gateway sends as the phone with this key walks in at `now`."""
    return {
        "batch_id": batch_id,
        "sent_at": now,
        "observations": [
            {
                "seen_at": now - before_s,
                "rssi": rssi,
                "frame": {
                    "kind": "eddystone_eid",
                    "eid": eddystone_eid(identity_key, 10, int(now - before_s)).hex(),
                    "tx_power": -20,
                },
            }
            for before_s, rssi in ARRIVAL_READINGS
        ],
    }


def split(count: int, parts: int) -> list[int]:
    """`count` tablets over `parts` servers, as evenly as they go."""
    return [count // parts + (1 if i < count % parts else 0) for i in range(parts)]


def measure_product(
    worker: str,
    tablets: int,
    arrivals: int,
    workdir: Path,
    queue: str | None = None,
    gc_log: bool = False,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Arrivals through the real ingest endpoint; returns the summary and a sample payload.

    Args:
        queue: a Redis URL: serve with two processes sharing it (the second without the sweep).
        gc_log: add the workers' collections during the measured arrivals to the summary.
    """
    load = os.getloadavg()[0]
    gcs = GcLog(workdir / "gc" if gc_log else None)
    settings = {"STORE_SERVER_WORKER": worker, **gcs.env()}
    if queue:
        settings["STORE_SOCKETIO_MESSAGE_QUEUE"] = queue
    second = Stack(workdir / "second", server_settings={**settings, "STORE_RUN_SCHEDULER": "0"})
    with Stack(workdir / "stack", server_settings=settings) as stack, second:
        stack.start_server(seed=seed_store(WARM_UP + arrivals))
        servers = [stack]
        if queue:
            second.serve_database_of(stack)
            servers.append(second)
        token = requests.post(
            f"{stack.url}/api/v1/auth/login",
            json={"email": STAFF[0], "password": STAFF[1]},
            timeout=10,
        ).json()["token"]
        gateway_token = stack.seed["gateway_tokens"]["gw-entrance"]
        keys = {
            p["person"]: bytes.fromhex(p["identity_key"])
            for p in json.loads((stack.workdir / "phones.json").read_text())["phones"]
        }
        groups = [
            Tablets(server.url, share, {"token": token})
            for server, share in zip(servers, split(tablets, len(servers)), strict=True)
        ]
        time.sleep(PING_INTERVAL_S)
        latencies: list[float] = []
        steps = Steps()
        window = [0.0, 0.0]
        session = requests.Session()
        try:
            for index in range(1, WARM_UP + arrivals + 1):
                body = arrival_batch(f"fanout-{index}", keys[person_name(index)], time.time())
                for group in groups:
                    group.expect_one()
                started = time.perf_counter()
                if index == WARM_UP + 1:
                    window[0] = started
                response = session.post(
                    f"{stack.url}/api/v1/gateways/gw-entrance/batches",
                    json=body,
                    timeout=30,
                    headers={"Authorization": f"Bearer {gateway_token}"},
                )
                response.raise_for_status()
                answered = time.perf_counter()
                heard = []
                for group in groups:
                    heard.extend(group.wait_all())
                    group.check_none_dropped()
                if index > WARM_UP:
                    latencies.extend(t - started for t in heard)
                    steps.add(started, answered, heard)
                window[1] = time.perf_counter()
                time.sleep(SPACING_S)
            arrivals_now = requests.get(
                f"{stack.url}/api/v1/stores/1/arrivals",
                timeout=30,
                headers={"Authorization": f"Bearer {token}"},
            ).json()["arrivals"]
        finally:
            for group in groups:
                group.close()
    if not arrivals_now:
        raise RuntimeError("no arrival was raised: the bench's batches open no visit")
    result = summary(latencies, tablets * arrivals, sum(group.retries for group in groups))
    return {**result, **steps.figures(), **_extra(load, gcs, window)}, arrivals_now[0]


def _extra(load: float, gcs: GcLog, window: list[float]) -> dict[str, Any]:
    gc_figures = gcs.during(*window)
    return {"load_1m": round(load, 2), **({"gc": gc_figures} if gc_figures else {})}


def gunicorn_args(worker: str, port: int, wsgi_app: str) -> list[str]:
    """A gunicorn command line serving like `store-server run` (store_server/serving.py)."""
    capacity = (
        ["--threads", str(GTHREAD_THREADS), "--worker-connections", str(GTHREAD_THREADS)]
        if worker == "gthread"
        else ["--worker-connections", str(GEVENT_CONNECTIONS)]
    )
    return [
        str(BIN / "gunicorn"),
        "-k",
        worker,
        "-w",
        "1",
        *capacity,
        "--timeout",
        "0" if worker == "gthread" else "30",
        "--graceful-timeout",
        str(GRACEFUL_TIMEOUT_S),
        "--no-control-socket",
        "-b",
        f"127.0.0.1:{port}",
        wsgi_app,
    ]


def measure_bare(
    worker: str,
    tablets: int,
    arrivals: int,
    payload: dict[str, Any],
    queue: str | None = None,
    gc_dir: Path | None = None,
) -> dict[str, Any]:
    """The same payload emitted by a bare Flask-SocketIO app served the same way (two
    processes on the queue if one is given); with `gc_dir`, its workers' collections during
    the measured arrivals, logged there."""
    load = os.getloadavg()[0]
    gcs = GcLog(gc_dir)
    env = {
        **os.environ,
        "FANOUT_QUEUE": queue or "",
        "FANOUT_CHANNEL": f"bare-{uuid.uuid4()}",
        **gcs.env(),
    }
    ports = [free_port() for _ in range(2 if queue else 1)]
    procs = [
        subprocess.Popen(  # noqa: S603 - our own module
            gunicorn_args(worker, port, "bench.fanout_bare:app"),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for url in urls:
            deadline = time.monotonic() + START_TIMEOUT_S
            while time.monotonic() < deadline:
                try:
                    if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except requests.RequestException:  # listening, the worker still booting
                    time.sleep(0.05)
        groups = [
            Tablets(url, share, None)
            for url, share in zip(urls, split(tablets, len(urls)), strict=True)
        ]
        time.sleep(PING_INTERVAL_S)
        latencies: list[float] = []
        steps = Steps()
        window = [0.0, 0.0]
        session = requests.Session()
        try:
            for index in range(1, WARM_UP + arrivals + 1):
                for group in groups:
                    group.expect_one()
                started = time.perf_counter()
                if index == WARM_UP + 1:
                    window[0] = started
                session.post(f"{urls[0]}/emit", json=payload, timeout=30).raise_for_status()
                answered = time.perf_counter()
                heard = []
                for group in groups:
                    heard.extend(group.wait_all())
                    group.check_none_dropped()
                if index > WARM_UP:
                    latencies.extend(t - started for t in heard)
                    steps.add(started, answered, heard)
                window[1] = time.perf_counter()
                time.sleep(SPACING_S)
        finally:
            for group in groups:
                group.close()
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    result = summary(latencies, tablets * arrivals, sum(group.retries for group in groups))
    return {**result, **steps.figures(), **_extra(load, gcs, window)}


def measure(
    worker: str,
    tablets: int,
    arrivals: int,
    queue: str | None = None,
    repeat: int = 1,
    gc_log: bool = False,
) -> dict[str, Any]:
    """`repeat` pairs of product and bare app with the same worker class (and, with a queue,
    two processes each), alternating which goes first; each pair's ratios, then their median
    and range."""
    runs: list[dict[str, Any]] = []
    payload: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(repeat):
            workdir = Path(tmp) / f"run-{round_}"
            bare_first = payload is not None and round_ % 2 == 1
            bare: dict[str, Any] | None = None
            if bare_first:
                assert payload is not None
                bare = measure_bare(worker, tablets, arrivals, payload, queue, _gc(workdir, gc_log))
            product, payload = measure_product(worker, tablets, arrivals, workdir, queue, gc_log)
            if bare is None:
                bare = measure_bare(worker, tablets, arrivals, payload, queue, _gc(workdir, gc_log))
            runs.append(
                {
                    "first": "bare" if bare_first else "store_server",
                    "store_server": product,
                    "bare_flask_socketio": bare,
                    "ratio_p50": round(product["p50_ms"] / bare["p50_ms"], 2),
                    "ratio_p99": round(product["p99_ms"] / bare["p99_ms"], 2),
                }
            )
    return {
        "worker": worker,
        "processes": 2 if queue else 1,
        "tablets": tablets,
        "arrivals": arrivals,
        "runs": runs,
        **{
            f"{key}_{stat}": value
            for key in ("ratio_p50", "ratio_p99")
            for stat, value in spread([run[key] for run in runs]).items()
        },
    }


def _gc(workdir: Path, gc_log: bool) -> Path | None:
    return workdir / "gc-bare" if gc_log else None


def spread(ratios: list[float]) -> dict[str, float]:
    """The median of the runs' ratios, and the lowest and highest."""
    return {
        "median": round(statistics.median(ratios), 2),
        "min": min(ratios),
        "max": max(ratios),
    }


def main(argv: list[str] | None = None) -> int:
    """Measure both and print them side by side."""
    parser = argparse.ArgumentParser(prog="python -m bench fanout", description=__doc__)
    parser.add_argument("--worker", choices=SERVER_WORKERS, default=SERVER_WORKERS[0])
    parser.add_argument("--tablets", type=int, default=50)
    parser.add_argument("--arrivals", type=int, default=20)
    parser.add_argument("--processes", type=int, choices=(1, 2), default=1)
    parser.add_argument("--queue", default="redis://127.0.0.1:6379/0", help="with --processes 2")
    parser.add_argument("--repeat", type=int, default=1, help="pairs of runs, alternating")
    parser.add_argument("--gc", action="store_true", help="the workers' collections too")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    queue = args.queue if args.processes == 2 else None
    result = measure(args.worker, args.tablets, args.arrivals, queue, args.repeat, args.gc)
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0
