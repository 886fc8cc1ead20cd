"""Gateway ingest: observations per second and CPU per batch, against a bare endpoint.

    python -m bench ingest [--devices 1000 100000 1000000] [--observations 0 10000000]
        [--database postgresql|sqlite] [--processes 1|2] [--gateways 4] [--seconds 10] [--json]
        [--in-process 400]

One store with `--devices` registered, consenting shoppers (one phone each) and
`--observations` stored readings spread over the retention period, seeded with bulk SQL. Each
size is served by the real server (`store-server run`, `--processes` of them on one database;
`STORE_SERVER_WORKER` picks the worker class for both servers) and measured the same way:

- **throughput**: `--gateways` threads post batches of 500 observations back to back for
  `--seconds` (the same 500 phones heard once each, from the pavement: stored and fused, no
  arrival) over keep-alive connections; accepted observations per second, request p50/p99;
  the CPU milliseconds per batch of the servers, of the PostgreSQL backends serving the
  bench's database and of this process (the load generator), and `cpu_ceiling_obs_per_s`:
  what all the machine's cores would store at that cost if they did nothing else (on a
  machine shared with other work the measured rate falls short of it; the CPU per batch does
  not depend on the neighbours as much);
- **one-observation batches** posted one after another (100, or 20 s worth): the servers'
  CPU per batch and p50;
- **first batch**: one batch of a phone this server has never heard (its fusion state
  restored from the database): p50 and p99 over 20 phones;
- **warm-up**: from start until a batch is accepted and the servers are idle (the EID tables
  of the four windows built);
- **memory**: each server's resident set at the end (gunicorn and its worker), which holds
  the EID tables of four windows.

With `--in-process N`, no server is started: N batches of the same shape go through the
store app in this process (Flask's test client, no HTTP, no gevent, one at a time, the app's
clock set to each batch's time, so that a run under valgrind measures the same work), and the
figure is this process's CPU per batch, median and lowest of blocks of 20: the server's own
Python per batch (with the served worker's garbage collector policy), without the
database's share and less exposed to the neighbours' load than the servers' figures (two
versions of the code compare best run side by side). The app logs each batch to stderr, as
the server does: `2>/dev/null`.

The bare endpoint (bench/ingest_bare.py: parse, COPY the rows into the same table, commit) is
then served the same way and measured with the same throughput run: `bare_over_store` is its
observations per second over the store's. On PostgreSQL, `copy_ceiling` is the floor of any
server's cost: the same threads COPY batches of 500 rows and commit, with no HTTP at all.
Sizes run devices first (at the fewest observations), then observations (at the most
devices); the figures are flat when they do not grow along either. PostgreSQL: a private
database on the machine's server (127.0.0.1:5432), dropped at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import sqlite3
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import urlopen

import psycopg

from bench.fanout import gunicorn_args
from bench.stack import BIN, START_TIMEOUT_S, Stack, free_port
from store_server.accounts.auth import token_digest
from store_server.presence.identity import eddystone_eid
from store_server.reporting.analytics import percentile

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
STORE_ID = 1
BATCH = 500
# The phones heard, devices 1..500, each once in every batch: a gateway's tracker reports a
# device at most every 0.8 s (gateway/tracking.py REPORT_MIN_INTERVAL_S) and the gateway sends
# every 0.5 s, so a batch of 500 names 500 phones, each reading newer than the phone's last
# from that gateway (fusion takes every one; a reading repeated from an earlier batch would be
# refused as out of order at next to no cost, which flattered the figures before).
PHONES = 500
PHONES_PER_BATCH = 500
FIRST_BATCH_PHONES = 20  # phones never heard before, per size
FIRST_BATCH_FROM = 600  # ... taken from device 600 on
FAR_RSSI_DBM = -88  # heard from the pavement: stored and fused, never an arrival
ROTATION_EXPONENT = 10
RETENTION_S = 3 * 86400
ONE_OBSERVATION_BATCHES = 100  # or as many as fit in ONE_OBSERVATION_S
ONE_OBSERVATION_S = 20.0
# The first batch of a server builds its EID tables: 1M devices take a while.
WARM_UP_TIMEOUT_S = 900.0
SEED_CHUNK = 1_000_000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def phone_key(device_id: int) -> bytes:
    """The identity key the bench seeds for a device (md5 of its id, as the SQL computes)."""
    return hashlib.md5(str(device_id).encode()).digest()  # noqa: S324 - a seed, not a secret


class Database:
    """The bench's database: create, migrate, seed in bulk, drop."""

    def __init__(self, engine: str, workdir: Path) -> None:
        self.engine = engine
        self.devices = 0
        self.observations = 0
        if engine == "postgresql":
            self.name = f"bench_ingest_{os.getpid()}"
            with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}"')
                conn.execute(f'CREATE DATABASE "{self.name}"')
            self.url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.name}"
        else:
            self.path = workdir / "store.db"
            self.url = f"sqlite:///{self.path}"
        env = {**os.environ, "STORE_DATABASE_URL": self.url}
        subprocess.run(  # noqa: S603 - our own console script
            [str(BIN / "store-server"), "migrate"],
            env=env,
            check=True,
            capture_output=True,
        )
        self.has_shopper_column = "shopper_id" in self._columns("observations")
        self.tokens = {f"gw-{n}": uuid.uuid4().hex for n in range(1, 5)}
        now = time.time()
        # A store of a chain where the schema has chains (migration 0016), alone where it has
        # none (the bench also measures older code).
        chained = "chain_id" in self._columns("stores")
        store: list[tuple[str, dict[str, Any]]] = (
            [
                ("INSERT INTO chains (id, name) VALUES (1, 'Bench')", {}),
                (
                    "INSERT INTO stores (id, chain_id, name, timezone)"
                    " VALUES (1, 1, 'Bench', 'UTC')",
                    {},
                ),
            ]
            if chained
            else [("INSERT INTO stores (id, name, timezone) VALUES (1, 'Bench', 'UTC')", {})]
        )
        self._run(
            [
                *store,
                (
                    "INSERT INTO zones (id, store_id, name, kind, label)"
                    " VALUES (1, 1, 'entrance', 'entrance', 'Entrance')",
                    {},
                ),
                *(
                    (
                        "INSERT INTO gateways (id, store_id, zone_id, token_sha256, rssi_offset_db)"
                        " VALUES (%s, 1, 1, %s, 0)",
                        {"values": (gateway, token_digest(token))},
                    )
                    for gateway, token in self.tokens.items()
                ),
            ]
        )
        self.seed_devices(PHONES, now)

    def _columns(self, table: str) -> list[str]:
        if self.engine == "postgresql":
            with psycopg.connect(self._libpq()) as conn:
                rows = conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = %s",
                    (table,),
                ).fetchall()
            return [r[0] for r in rows]
        with sqlite3.connect(self.path) as conn:
            return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]

    def _libpq(self) -> str:
        return self.url.replace("postgresql+psycopg://", "postgresql://")

    def _run(self, statements: list[tuple[str, dict[str, Any]]]) -> None:
        if self.engine == "postgresql":
            with psycopg.connect(self._libpq()) as conn:
                for sql, params in statements:
                    conn.execute(sql, params.get("values"))
            return
        lite = sqlite3.connect(self.path)
        lite.create_function("md5", 1, lambda g: hashlib.md5(str(g).encode()).digest())  # noqa: S324
        with lite:
            for sql, params in statements:
                lite.execute(sql.replace("%s", "?"), params.get("values", ()))
        lite.close()

    def _series(self, first: int, last: int) -> str:
        """A FROM clause yielding g from first to last."""
        if self.engine == "postgresql":
            return f"FROM generate_series({first}, {last}) AS s(g)"
        return (
            f"FROM (WITH RECURSIVE s(g) AS (SELECT {first} UNION ALL SELECT g + 1 FROM s"  # noqa: S608
            f" WHERE g < {last}) SELECT g FROM s)"
        )

    def seed_devices(self, count: int, now: float) -> None:
        """Shoppers, their arrival consent at the store and one phone each, up to `count`."""
        key = "decode(md5(g::text), 'hex')" if self.engine == "postgresql" else "md5(g)"
        chained = "chain_id" in self._columns("shoppers")
        chain_column, chain_value = ("chain_id, ", "1, ") if chained else ("", "")
        for first in range(self.devices + 1, count + 1, SEED_CHUNK):
            last = min(count, first + SEED_CHUNK - 1)
            series = self._series(first, last)
            self._run(
                [
                    (
                        f"INSERT INTO shoppers (id, {chain_column}first_name, timezone,"
                        f" created_at) SELECT g, {chain_value}'Bench', 'UTC', {now} {series}",
                        {},
                    ),
                    (
                        "INSERT INTO consents (shopper_id, store_id, purpose, channel, granted_at)"
                        f" SELECT g, 1, 'arrival', 'app', {now} {series}",
                        {},
                    ),
                    (
                        "INSERT INTO devices (id, shopper_id, identity_key, rotation_exponent,"
                        f" created_at) SELECT g, g, {key}, {ROTATION_EXPONENT}, {now} {series}",
                        {},
                    ),
                ]
            )
        self.devices = max(self.devices, count)

    def seed_observations(self, count: int, now: float) -> None:
        """Readings of the first 1,000 phones spread over the retention period, up to `count`
        (none in the last hour: the phones' recent readings are the bench's own)."""
        if count <= self.observations:
            return
        shopper = ("shopper_id, ", "1 + g % 1000, ") if self.has_shopper_column else ("", "")
        series = self._series(self.observations + 1, count)
        rows = (
            f"INSERT INTO observations (store_id, gateway_id, {shopper[0]}device_id, rssi,"
            f" seen_at) SELECT 1, 'gw-1', {shopper[1]}1 + g % 1000, -70,"
            f" {now - 3600} - (g % {RETENTION_S - 7200}) {series}"
        )
        if self.engine == "postgresql":
            # Indexes built after the rows, foreign keys not checked (the rows name seeded
            # devices): minutes instead of an hour for 10M rows.
            with psycopg.connect(self._libpq(), autocommit=True) as conn:
                indexes = conn.execute(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'observations'"
                    " AND indexname LIKE 'ix_%'"
                ).fetchall()
                for name, _ in indexes:
                    conn.execute(f'DROP INDEX "{name}"')
                conn.execute("SET session_replication_role = replica")
                conn.execute(rows)
                conn.execute("SET session_replication_role = DEFAULT")
                conn.execute("SET maintenance_work_mem = '256MB'")
                for _, definition in indexes:
                    conn.execute(definition)
                conn.execute("VACUUM ANALYZE observations")
        else:
            self._run([(rows, {})])
        self.observations = count

    def backend_pids(self) -> list[int]:
        """The PostgreSQL backends connected to this database (none on SQLite)."""
        if self.engine != "postgresql":
            return []
        with psycopg.connect(POSTGRES_ADMIN) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.name,)
            ).fetchall()
        return [r[0] for r in rows]

    def drop(self) -> None:
        """Drop a PostgreSQL database (a SQLite file goes with its directory)."""
        if self.engine == "postgresql":
            with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def batch_body(phones: list[int], readings: int, now: float, eids: dict[int, bytes]) -> bytes:
    """A gateway batch: each phone heard `readings` times over the last seconds (the JSON
    written directly: the load generator shares the machine with the server it measures)."""
    observations = ",".join(
        OBSERVATION_JSON % (now - r * 0.5, eids[p].hex()) for p in phones for r in range(readings)
    )
    return BATCH_JSON.format(uuid.uuid4().hex, repr(now), observations).encode()


OBSERVATION_JSON = (
    f'{{"seen_at": %r, "rssi": {FAR_RSSI_DBM}, "frame": {{"kind": "eddystone_eid",'
    ' "eid": "%s", "tx_power": -20}}'
)
BATCH_JSON = '{{"batch_id": "{}", "sent_at": {}, "observations": [{}]}}'


class Eids:
    """The phones' EIDs for the window holding `now` (recomputed when it rolls)."""

    def __init__(self) -> None:
        self._window = -1
        self._eids: dict[int, bytes] = {}
        self._lock = threading.Lock()

    def at(self, now: float, devices: range) -> dict[int, bytes]:
        window = int(now) >> ROTATION_EXPONENT
        with self._lock:
            if window != self._window:
                self._window, self._eids = window, {}
            for d in devices:
                if d not in self._eids:
                    self._eids[d] = eddystone_eid(phone_key(d), ROTATION_EXPONENT, int(now))
            return dict(self._eids)


EIDS = Eids()
PHONE_IDS = range(1, PHONES + 1)


def ms(latencies: list[float], share: float) -> float | None:
    """A percentile of latencies in milliseconds."""
    value = percentile(latencies, share)
    return None if value is None else round(value * 1000, 2)


def cpu_s(group: int) -> float:
    """User and system CPU seconds of every process in a process group (a server's)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group:
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def rss_mb(group: int) -> float:
    """Resident memory of the processes of a process group (a server: gunicorn and its
    worker), in MB."""
    total = 0
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group:
            total += int(fields[21]) * PAGE_BYTES
    return round(total / 1e6, 1)


PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def pid_cpu_s(pid: int) -> float:
    """User and system CPU seconds of one process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class Cpu:
    """CPU seconds spent since `start` by the servers' process groups, the database's
    backends serving this bench's database (PostgreSQL; SQLite runs inside the server) and
    this process (the load generator)."""

    def __init__(self, db: Database, groups: list[int]) -> None:
        self.db = db
        self.groups = groups
        self.start()

    def _backends(self) -> dict[int, float]:
        return {pid: pid_cpu_s(pid) for pid in self.db.backend_pids()}

    def start(self) -> None:
        """Take the starting point."""
        self._server = sum(cpu_s(g) for g in self.groups)
        self._database = self._backends()
        self._client = time.process_time()

    def spent(self) -> dict[str, float]:
        """Seconds per part since `start` (a backend that started since counts whole)."""
        now = self._backends()
        return {
            "server": sum(cpu_s(g) for g in self.groups) - self._server,
            "database": sum(s - self._database.get(pid, 0.0) for pid, s in now.items()),
            "client": time.process_time() - self._client,
        }


def per_batch(spent: dict[str, float], batches: int, cores: int) -> dict[str, Any]:
    """CPU milliseconds per batch by part, and the observations per second `cores` would
    store if they did nothing else (the ceiling of this machine for that cost)."""
    ms_each = {part: round(s * 1000 / max(1, batches), 2) for part, s in spent.items()}
    total = sum(ms_each.values())
    return {
        "cpu_ms_per_batch": {**ms_each, "total": round(total, 2)},
        "cpu_ceiling_obs_per_s": round(cores * 1000 / total * BATCH) if total else None,
    }


class Client:
    """One gateway's keep-alive HTTP connection to a server (http.client: the load generator
    spends as little CPU per request as it can)."""

    def __init__(self, url: str, gateway: str, token: str) -> None:
        self._address = urlsplit(url)
        self._path = f"/api/v1/gateways/{gateway}/batches"
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self._connection: http.client.HTTPConnection | None = None

    def post(self, body: bytes) -> tuple[int, float]:
        """POST a batch; its status and latency."""
        started = time.perf_counter()
        if self._connection is None:
            self._connection = http.client.HTTPConnection(
                self._address.hostname or "127.0.0.1",
                self._address.port,
                timeout=WARM_UP_TIMEOUT_S,
            )
        try:
            self._connection.request("POST", self._path, body, self._headers)
            response = self._connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            self._connection.close()
            self._connection = None
            raise
        return response.status, time.perf_counter() - started


CORES = os.cpu_count() or 1


def throughput(
    urls: list[str], cpu: Cpu, tokens: dict[str, str], gateways: int, seconds: float
) -> dict[str, Any]:
    """`gateways` threads posting batches of 500 back to back, across the servers."""
    latencies: list[float] = []
    counts = {"batches": 0, "failed": 0}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    cpu.start()

    def poster(n: int) -> None:
        gateway = f"gw-{n % 4 + 1}"
        client = Client(urls[n % len(urls)], gateway, tokens[gateway])
        k = n
        while time.monotonic() < deadline:
            now = time.time()
            first = (k * PHONES_PER_BATCH) % PHONES + 1
            phones = list(range(first, first + PHONES_PER_BATCH))
            body = batch_body(phones, BATCH // PHONES_PER_BATCH, now, EIDS.at(now, PHONE_IDS))
            status, latency = client.post(body)
            with lock:
                if status == 202:
                    counts["batches"] += 1
                    latencies.append(latency)
                else:
                    counts["failed"] += 1
            k += gateways

    started = time.monotonic()
    threads = [threading.Thread(target=poster, args=(n,)) for n in range(gateways)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return {
        "gateways": gateways,
        "observations_per_s": round(counts["batches"] * BATCH / elapsed),
        "batches": counts["batches"],
        "failed": counts["failed"],
        "p50_ms": ms(latencies, 0.5),
        "p99_ms": ms(latencies, 0.99),
        **per_batch(cpu.spent(), counts["batches"], CORES),
    }


def copy_ceiling(db: Database, gateways: int, seconds: float) -> dict[str, Any]:
    """No HTTP at all: `gateways` threads, each on its own connection, COPY batches of 500
    rows into the observations table and commit each, back to back (what PostgreSQL and
    psycopg cost the bare minimum of storing a batch)."""
    batches = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    columns = "store_id, gateway_id, shopper_id, device_id, rssi, seen_at"
    if not db.has_shopper_column:
        columns = columns.replace("shopper_id, ", "")

    def copier(conn: psycopg.Connection[Any], n: int) -> None:
        while time.monotonic() < deadline:
            now = time.time()
            with (
                conn.cursor() as cursor,
                cursor.copy(f"COPY observations ({columns}) FROM STDIN") as copy,
            ):
                for r in range(BATCH):
                    device = 1 + (n + r) % PHONES
                    shopper = (device,) if db.has_shopper_column else ()
                    copy.write_row(
                        (STORE_ID, "gw-1", *shopper, device, FAR_RSSI_DBM, now - r * 0.01)
                    )
            conn.commit()
            with lock:
                batches[0] += 1

    connections = [psycopg.connect(db._libpq()) for _ in range(gateways)]
    try:
        cpu = Cpu(db, [])  # once the connections' backends exist
        started = time.monotonic()
        threads = [
            threading.Thread(target=copier, args=(conn, n)) for n, conn in enumerate(connections)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        spent = cpu.spent()
    finally:
        for conn in connections:
            conn.close()
    return {
        "gateways": gateways,
        "observations_per_s": round(batches[0] * BATCH / elapsed),
        "batches": batches[0],
        **per_batch(spent, batches[0], CORES),
    }


def one_observation_batches(url: str, cpu: Cpu, tokens: dict[str, str]) -> dict[str, Any]:
    """One-observation batches one after another: the servers' CPU per batch."""
    client = Client(url, "gw-1", tokens["gw-1"])
    latencies = []
    cpu.start()
    deadline = time.monotonic() + ONE_OBSERVATION_S
    for n in range(ONE_OBSERVATION_BATCHES):
        if time.monotonic() > deadline:
            break
        now = time.time()
        phone = n % PHONES + 1
        body = batch_body([phone], 1, now, EIDS.at(now, PHONE_IDS))
        status, latency = client.post(body)
        if status != 202:
            raise RuntimeError(f"one-observation batch answered {status}")
        latencies.append(latency)
    return {
        "batches": len(latencies),
        "server_cpu_ms_per_batch": round(cpu.spent()["server"] * 1000 / len(latencies), 2),
        "p50_ms": ms(latencies, 0.5),
    }


def first_batches(url: str, tokens: dict[str, str], phones: range) -> dict[str, Any]:
    """One batch each of phones this server never heard: their state is restored."""
    client = Client(url, "gw-2", tokens["gw-2"])
    latencies = []
    for phone in phones:
        now = time.time()
        body = batch_body([phone], 1, now, EIDS.at(now, phones))
        status, latency = client.post(body)
        if status != 202:
            raise RuntimeError(f"first batch answered {status}")
        latencies.append(latency)
    return {
        "p50_ms": ms(latencies, 0.5),
        "p99_ms": ms(latencies, 0.99),
    }


def warm_up(url: str, tokens: dict[str, str]) -> float:
    """Post until a batch is accepted (the EID tables built); how long it took."""
    started = time.monotonic()
    client = Client(url, "gw-1", tokens["gw-1"])
    while time.monotonic() - started < WARM_UP_TIMEOUT_S:
        now = time.time()
        body = batch_body([1], 1, now, EIDS.at(now, range(1, 2)))
        status, _ = client.post(body)
        if status == 202:
            return time.monotonic() - started
    raise RuntimeError("the server accepted no batch")


def settle(groups: list[int]) -> float:
    """Wait until the servers are idle (the presence clock builds the neighbouring windows'
    EID tables after the first batch: seconds of CPU at 100k devices, minutes at 1M, which
    would count in the figures); how long it took."""
    started = time.monotonic()
    before = sum(cpu_s(g) for g in groups)
    while time.monotonic() - started < WARM_UP_TIMEOUT_S:
        time.sleep(SETTLE_S)
        now = sum(cpu_s(g) for g in groups)
        if now - before < SETTLE_S * IDLE_SHARE:
            break
        before = now
    return time.monotonic() - started


SETTLE_S = 2.0
IDLE_SHARE = 0.05  # of a core: the presence clock's ticks and the scheduler


def measure_store(
    db: Database, workdir: Path, processes: int, gateway_counts: list[int], seconds: float, run: int
) -> dict[str, Any]:
    """The store server(s) on the seeded database."""
    stacks = []
    try:
        for n in range(processes):
            stack = Stack(
                workdir / f"server-{run}-{n}",
                server_settings={"STORE_RUN_SCHEDULER": "1" if n == 0 else "0"},
            )
            stacks.append(stack)
            stack.database_url = db.url
            stack.restart_server()
        urls = [s.url for s in stacks]
        cpu = Cpu(db, [s.server.popen.pid for s in stacks if s.server is not None])
        warm = max(warm_up(url, db.tokens) for url in urls)
        warm += settle(cpu.groups)
        first = range(
            FIRST_BATCH_FROM + run * FIRST_BATCH_PHONES,
            FIRST_BATCH_FROM + (run + 1) * FIRST_BATCH_PHONES,
        )
        result: dict[str, Any] = {"warm_up_s": round(warm, 1)}
        result["first_batch"] = first_batches(urls[0], db.tokens, first)
        result["one_observation"] = one_observation_batches(urls[0], cpu, db.tokens)
        result["throughput"] = [
            throughput(urls, cpu, db.tokens, gateways, seconds) for gateways in gateway_counts
        ]
        result["server_rss_mb"] = [rss_mb(group) for group in cpu.groups]
        return result
    finally:
        for stack in stacks:
            stack.stop()


def measure_bare(
    db: Database, processes: int, gateway_counts: list[int], seconds: float
) -> list[dict[str, Any]]:
    """The bare endpoint, served the same way, measured with the same throughput runs."""
    worker = os.environ.get("STORE_SERVER_WORKER", "gevent")
    procs = []
    urls = []
    try:
        for _ in range(processes):
            port = free_port()
            procs.append(
                subprocess.Popen(  # noqa: S603 - our own module
                    gunicorn_args(worker, port, "bench.ingest_bare:app"),
                    env={**os.environ, "BENCH_DATABASE_URL": db.url},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        for url in urls:
            deadline = time.monotonic() + START_TIMEOUT_S
            while time.monotonic() < deadline:
                try:
                    with urlopen(f"{url}/healthz", timeout=1) as response:  # noqa: S310 - loopback
                        if response.status == 200:
                            break
                except OSError:
                    time.sleep(0.05)
        cpu = Cpu(db, [p.pid for p in procs])
        return [throughput(urls, cpu, db.tokens, gateways, seconds) for gateways in gateway_counts]
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)


IN_PROCESS_WARM_UP = 30  # batches: the EID tables built, the statements prepared
IN_PROCESS_BLOCK = 20  # batches per timed block
IN_PROCESS_STEP_S = 0.25  # between batches: four gateways, each sending once a second
IN_PROCESS_DELAY_S = 0.5  # a batch's arrival after its readings: a gateway's upload period


def in_process(db: Database, workdir: Path, batches: int) -> dict[str, Any]:
    """The store app's CPU per batch of 500 in this process, through Flask's test client."""
    from store_server.app import create_app
    from store_server.serving import worker_gc_policy
    from store_server.settings import StoreSettings

    settings = StoreSettings.from_env(database_url=db.url, var_dir=str(workdir / "var"))
    # The app's clock is each batch's own (set below), not the wall clock: a run slowed down
    # (under valgrind, 1-4 s a batch) still has its readings within fusion's clock skew and
    # measures the same work (docs/decisions.md, "Ingest per batch, second pass").
    clock = [time.time()]
    # Its log lines, a cost of the server's, go to stderr.
    app = create_app(settings, clock=lambda: clock[0])
    # The served worker's collector (start-up frozen, the young generation collected every
    # 50,000 allocations): with the interpreter's default a batch paid 8 ms of collections.
    worker_gc_policy()
    client = app.test_client()

    # Batch k's clock: each of the four gateways (every fourth batch) sends once a second,
    # from a start far enough back that the last batch is still in the past.
    start = time.time() - (IN_PROCESS_WARM_UP + batches) * IN_PROCESS_STEP_S - 30.0

    def body(k: int) -> bytes:
        now = start + k * IN_PROCESS_STEP_S
        first = (k * PHONES_PER_BATCH) % PHONES + 1
        phones = list(range(first, first + PHONES_PER_BATCH))
        return batch_body(phones, BATCH // PHONES_PER_BATCH, now, EIDS.at(now, PHONE_IDS))

    def post(k: int, text: bytes) -> None:
        clock[0] = start + k * IN_PROCESS_STEP_S + IN_PROCESS_DELAY_S
        gateway = f"gw-{k % 4 + 1}"
        response = client.post(
            f"/api/v1/gateways/{gateway}/batches",
            data=text,
            headers={
                "Authorization": f"Bearer {db.tokens[gateway]}",
                "Content-Type": "application/json",
            },
        )
        if response.status_code != 202:
            raise RuntimeError(f"a batch answered {response.status_code}")

    for k in range(IN_PROCESS_WARM_UP):
        post(k, body(k))
    blocks = []
    # The timed batches follow the warm-up's on the clock: a batch repeating a warm-up batch's
    # clock would be refused by fusion as out of order, at next to no cost.
    for first in range(IN_PROCESS_WARM_UP, IN_PROCESS_WARM_UP + batches, IN_PROCESS_BLOCK):
        bodies = [body(k) for k in range(first, first + IN_PROCESS_BLOCK)]  # not timed
        started = time.process_time()
        for k, text in enumerate(bodies, first):
            post(k, text)
        blocks.append((time.process_time() - started) * 1000 / IN_PROCESS_BLOCK)
    return {
        "batches": len(blocks) * IN_PROCESS_BLOCK,
        "server_cpu_ms_per_batch": {
            "median": round(statistics.median(blocks), 2),
            "lowest": round(min(blocks), 2),
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Run the sizes and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench ingest")
    parser.add_argument("--devices", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--observations", type=int, nargs="+", default=[0])
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--processes", type=int, choices=(1, 2), default=1)
    parser.add_argument("--gateways", type=int, nargs="+", default=[4])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--in-process", type=int, metavar="BATCHES")
    args = parser.parse_args(argv)
    fewest = FIRST_BATCH_FROM + FIRST_BATCH_PHONES * (len(args.devices) + len(args.observations))
    if min(args.devices) < fewest:
        parser.error(f"--devices: at least {fewest} (the phones heard and the first-batch phones)")
    if args.in_process:
        with tempfile.TemporaryDirectory() as tmp:
            db = Database(args.database, Path(tmp))
            try:
                db.seed_devices(max(args.devices), time.time())
                found = in_process(db, Path(tmp), args.in_process)
            finally:
                db.drop()
        print(json.dumps({"devices": max(args.devices), "in_process": found}))
        return 0
    devices, observations = sorted(args.devices), sorted(args.observations)
    sizes = [(d, observations[0]) for d in devices] + [(devices[-1], o) for o in observations[1:]]
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(args.database, Path(tmp))
        try:
            for run, (device_count, observation_count) in enumerate(sizes):
                now = time.time()
                db.seed_devices(device_count, now)
                db.seed_observations(observation_count, now)
                store = measure_store(
                    db, Path(tmp), args.processes, args.gateways, args.seconds, run
                )
                bare = measure_bare(db, args.processes, args.gateways, args.seconds)
                ceiling = (
                    [copy_ceiling(db, gateways, args.seconds) for gateways in args.gateways]
                    if args.database == "postgresql"
                    else []
                )
                ratios = [
                    round(b["observations_per_s"] / max(1, s["observations_per_s"]), 2)
                    for b, s in zip(bare, store["throughput"], strict=True)
                ]
                runs.append(
                    {
                        "devices": device_count,
                        "observations": observation_count,
                        "store": store,
                        "bare": bare,
                        "copy_ceiling": ceiling,
                        "bare_over_store": ratios,
                    }
                )
                if not args.json:
                    print(json.dumps(runs[-1]), flush=True)
        finally:
            db.drop()
    result = {"database": args.database, "processes": args.processes, "runs": runs}
    if args.json:
        print(json.dumps(result, indent=2))
    return 0
