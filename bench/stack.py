"""The whole system as real processes on loopback: store server, simulated store, gateways.

The demo, the end-to-end and browser tests and the latency bench all start the stack this way,
so what they exercise is what an operator runs: the console scripts, configured by environment
variables, talking HTTP, Socket.IO and the sim's radio link.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.error import URLError
from urllib.request import urlopen

from store_server.serving import listening_line

BIN = Path(sys.executable).parent
SIM_BACKEND = "firmware_sim.bleak_backend:SimBleakScanner"
# Start-up budget per process: a cold Python start with Flask, SQLAlchemy and bleak imports
# takes 1 to 3 s on this kind of machine; 30 s absorbs a busy CI neighbour.
START_TIMEOUT_S = 30.0
# Starts of a server whose port, chosen by free_port(), another process took in the meantime.
PORT_ATTEMPTS = 3
STOP_TIMEOUT_S = 10.0


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Proc:
    """A child process whose output is copied to a log file and kept for `wait_for_line`."""

    name: str
    popen: subprocess.Popen[str]
    log_path: Path
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def start_reader(self) -> None:
        """Copy output to the log in a thread, keeping the lines."""

        def pump() -> None:
            assert self.popen.stdout is not None  # noqa: S101 - set by Stack._spawn
            with self.log_path.open("a") as log:
                for line in self.popen.stdout:
                    self.lines.append(line.rstrip("\n"))
                    log.write(line)
                    log.flush()

        self.reader = threading.Thread(target=pump, name=f"{self.name}-output", daemon=True)
        self.reader.start()

    def close(self) -> None:
        """After the process ended: finish copying its output and close the pipe."""
        if self.reader is not None:
            self.reader.join(timeout=STOP_TIMEOUT_S)
        if self.popen.stdout is not None:
            self.popen.stdout.close()

    def wait_for_line(
        self, prefix: str, timeout_s: float = START_TIMEOUT_S, suffix: str = ""
    ) -> str:
        """The first output line with `prefix` (and `suffix`); fails if the process dies or
        times out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if line.startswith(prefix) and line.endswith(suffix):
                    return line
            if self.popen.poll() is not None:
                break
            time.sleep(0.05)
        tail = "\n".join(self.lines[-30:])
        raise RuntimeError(
            f"{self.name} did not print {prefix!r} (exit {self.popen.poll()}):\n{tail}"
        )


# How the simulator reaches the gateways: "bluez" (a virtual BlueZ adapter on a private D-Bus,
# scanned by bleak's real BlueZ backend, unchanged) or "link" (the simulator's own bleak
# backend fed over a local TCP radio link; no D-Bus needed).
FEEDS = ("bluez", "link")


def _sqlite_files(db_file: Path) -> tuple[Path, Path, Path]:
    """A SQLite database and its write-ahead log and shared-memory files."""
    return db_file, db_file.with_suffix(".db-wal"), db_file.with_suffix(".db-shm")


class Stack:
    """Starts and stops the processes of one simulated store."""

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        feed: str = "bluez",
        server_settings: dict[str, str] | None = None,
    ) -> None:
        """Args:
        server_settings: more `STORE_*` variables for the server (a message queue...).
        """
        if feed not in FEEDS:
            raise ValueError(f"feed must be one of {FEEDS}")
        self.feed = feed
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        # free_port() chose it: if another process takes it first, the first start picks again.
        self._port_is_ours = port is None
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = f"sqlite:///{workdir / 'store.db'}"
        self.procs: list[Proc] = []
        self.seed: dict[str, Any] = {}
        self.radio_address = ""
        self.bus_address = ""
        self.sim: Proc | None = None
        self.server: Proc | None = None
        self.server_settings = dict(server_settings or {})

    def _spawn(self, name: str, args: Sequence[str], env: dict[str, str] | None = None) -> Proc:
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        popen = subprocess.Popen(  # noqa: S603 - our own console scripts
            list(args),
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # Ctrl-C in a terminal reaches the launcher only
        )
        proc = Proc(name, popen, self.workdir / f"{name}.log")
        proc.start_reader()
        self.procs.append(proc)
        return proc

    def server_env(self) -> dict[str, str]:
        """The store server's settings for this stack."""
        return {
            "STORE_DATABASE_URL": self.database_url,
            "STORE_PORT": str(self.port),
            "STORE_HOST": "127.0.0.1",
            "STORE_VAR_DIR": str(self.workdir / "var"),
            **self.server_settings,
        }

    def start_server(
        self, seed: Callable[[str, Path], None] | None = None, *, copy_of: Stack | None = None
    ) -> None:
        """Migrate and seed a fresh database, then serve it; returns once /readyz answers.

        Args:
            seed: writes `seed.json` and `phones.json` into the workdir for a database URL;
                the default is `store-server seed-demo`.
            copy_of: serve a copy of that stack's database and seed files instead (it must
                have been prepared with `prepare_database` and not be serving): the tests
                start dozens of stacks of the same store.
        """
        if copy_of is None:
            self.prepare_database(seed)
        else:
            self._copy_database(copy_of)
        self._serve()

    def prepare_database(self, seed: Callable[[str, Path], None] | None = None) -> None:
        """Migrate and seed a fresh database (see `start_server`), without serving it."""
        db_file = self.workdir / "store.db"
        for stale in _sqlite_files(db_file):
            stale.unlink(missing_ok=True)
        env = {**os.environ, **self.server_env()}
        subprocess.run(
            [str(BIN / "store-server"), "migrate"],
            env=env,
            check=True,  # noqa: S603
            capture_output=True,
            text=True,
        )
        if seed is None:
            subprocess.run(
                [str(BIN / "store-server"), "seed-demo", "--out", str(self.workdir)],  # noqa: S603
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
        else:
            seed(self.database_url, self.workdir)
        self.seed = json.loads((self.workdir / "seed.json").read_text())

    def serve_database_of(self, other: Stack) -> None:
        """Serve the database `other` serves, as one more process of its deployment; returns
        once /readyz answers."""
        self.database_url, self.seed = other.database_url, other.seed
        self._serve()

    def _copy_database(self, prepared: Stack) -> None:
        if prepared.server is not None:
            raise RuntimeError("copy a prepared database only while nobody serves it")
        # With every connection closed, SQLite has checkpointed the log into the file itself.
        wal = _sqlite_files(prepared.workdir / "store.db")[1]
        if wal.exists() and wal.stat().st_size:
            raise RuntimeError(f"{wal} is not checkpointed: is the database still open?")
        for stale in _sqlite_files(self.workdir / "store.db"):
            stale.unlink(missing_ok=True)
        for name in ("store.db", "seed.json", "phones.json"):
            shutil.copyfile(prepared.workdir / name, self.workdir / name)
        self.seed = json.loads((self.workdir / "seed.json").read_text())

    def stop_server(self) -> None:
        """Stop the store server (SIGTERM), keeping its database for `restart_server`."""
        if self.server is None:
            raise RuntimeError("the store server is not running")
        self.kill(self.server, signal.SIGTERM)
        self.server = None

    def restart_server(self) -> None:
        """Serve the same database on the same port again; returns once /readyz answers."""
        if self.server is not None:
            raise RuntimeError("the store server is still running")
        self._serve()

    def kill(self, proc: Proc, signum: int = signal.SIGKILL) -> int:
        """Send `signum` to one process, wait for it to end and return its exit status."""
        if proc.popen.poll() is None:
            proc.popen.send_signal(signum)
        try:
            status = proc.popen.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.popen.kill()
            status = proc.popen.wait()
        proc.close()
        if proc in self.procs:
            self.procs.remove(proc)
        return status

    def _serve(self) -> None:
        for _attempt in range(PORT_ATTEMPTS):
            server = self._spawn(
                "store-server", [str(BIN / "store-server"), "run"], self.server_env()
            )
            self.server = server
            try:  # only then is the port its own: before, /readyz may reach another process
                server.wait_for_line(listening_line("127.0.0.1", self.port))
            except RuntimeError:
                taken = any("Connection in use" in line for line in server.lines)
                if not (taken and self._port_is_ours):
                    raise
                self.kill(server)  # another process took the port free_port() chose: pick again
                self.port = free_port()
                self.url = f"http://127.0.0.1:{self.port}"
                continue
            break
        self._port_is_ours = False  # served once: a restart keeps the port the others know
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if server.popen.poll() is not None:
                break
            with contextlib.suppress(URLError, OSError):
                with urlopen(f"{self.url}/readyz", timeout=1) as response:  # noqa: S310 - loopback
                    if response.status == 200:
                        return
            time.sleep(0.05)
        raise RuntimeError("store server did not become ready:\n" + "\n".join(server.lines[-30:]))

    def start_sim(self, scenario: str, *args: str) -> Proc:
        """Run a scenario in real time, feeding the gateways the stack's way."""
        feed_args = ["--bluez"] if self.feed == "bluez" else ["--radio-listen", "127.0.0.1:0"]
        sim = self._spawn(
            "beacon-sim",
            [
                str(BIN / "beacon-sim"),
                "run",
                "--scenario",
                scenario,
                "--phones",
                str(self.workdir / "phones.json"),
                *feed_args,
                *args,
            ],
        )
        self.sim = sim
        if self.feed == "link":
            self.radio_address = sim.wait_for_line("radio link listening on").rsplit(" ", 1)[-1]
        else:
            self.bus_address = sim.wait_for_line("bluez bus at ").removeprefix("bluez bus at ")
        return sim

    def adapter_of(self, gateway_id: str) -> str:
        """The virtual adapter (hciN) the simulator exports for a gateway."""
        if self.sim is None:
            raise RuntimeError("start the simulator before its gateways")
        # The simulator prints one `adapter hciN = <gateway>` line per gateway after the bus.
        line = self.sim.wait_for_line("adapter ", suffix=f" = {gateway_id}")
        return line.split()[1]

    def start_gateway(self, gateway_id: str, *args: str, **settings: str) -> Proc:
        """Start `beacon-gateway run` for a seeded gateway, scanning what the simulator feeds.

        Args:
            args: extra command-line arguments (`--verbose`).
            settings: `GATEWAY_<NAME>` environment variables, e.g. `heartbeat_interval_s="2"`.
        """
        if self.feed == "bluez":
            feed = {
                "DBUS_SYSTEM_BUS_ADDRESS": self.bus_address,
                "GATEWAY_ADAPTER": self.adapter_of(gateway_id),
            }
        else:
            feed = {
                "GATEWAY_SCANNER_BACKEND": SIM_BACKEND,
                "SIM_RADIO_URL": f"tcp://{self.radio_address}/{gateway_id}",
            }
        env = {
            "GATEWAY_ID": gateway_id,
            "GATEWAY_TOKEN": self.seed["gateway_tokens"][gateway_id],
            "GATEWAY_SERVER_URL": self.url,
            **feed,
            # Each run keeps its own outbox and cached config, and no two gateways fight for
            # the metrics port.
            "GATEWAY_STATE_DIR": str(self.workdir / "gateway-state"),
            "GATEWAY_METRICS_PORT": "0",
            **{f"GATEWAY_{k.upper()}": v for k, v in settings.items()},
        }
        gateway = self._spawn(gateway_id, [str(BIN / "beacon-gateway"), "run", *args], env)
        gateway.wait_for_line(f"gateway {gateway_id} scanning")
        return gateway

    def stop(self) -> None:
        """SIGTERM every process (newest first), then SIGKILL what is still running."""
        for proc in reversed(self.procs):
            if proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for proc in reversed(self.procs):
            try:
                proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait()
            proc.close()
        self.procs.clear()
        self.server = None

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
