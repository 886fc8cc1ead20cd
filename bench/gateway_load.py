"""CPU and memory of the real gateway process under a stream of adverts.

    python -m bench.gateway_load --rate 1000 --seconds 20 [--json]

The bench process runs the simulator's radio link (``firmware_sim.radio_link``) and publishes
synthetic bleak-shaped adverts at ``--rate`` per second: about 30 % Eddystone-EID from 200
phones, 10 % registered iBeacons, the rest unregistered junk (Apple Nearby frames, unregistered
iBeacons, random manufacturer data). A tiny threaded HTTP server stands in for the store server
(202 for batches and heartbeats, a config with the registered ids). ``beacon-gateway run``
(``python -m gateway run``) scans the link through ``firmware_sim.bleak_backend``. The gateway's
CPU is read from /proc/PID/stat (utime + stime) over the measured window, after a warm-up, as a
share of one core; its RSS is VmRSS at the end. Goals at 1,000 adverts/s: under 10 % of a core
and under 80 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from firmware_sim.radio_link import RadioLinkServer
from firmware_sim.wire import AdvertJson

GATEWAY_ID = "gw-bench"
EDDYSTONE = "0000feaa-0000-1000-8000-00805f9b34fb"
PHONES = 200
REGISTERED_UUID = "fda50693a4e24fb1afcfc6eb07647825"
REGISTERED_MINORS = range(1, 6)
# Shares of the advert mix (the rest is junk).
EID_SHARE = 0.30
REGISTERED_SHARE = 0.10
# Publish in ticks of this length: smooth enough for the gateway, cheap for the bench.
TICK_S = 0.01
# The gateway imports, opens its outbox and starts scanning in well under this.
READY_TIMEOUT_S = 30.0
# Let the gateway reach its steady state (every phone tracked) before measuring.
WARM_UP_S = 3.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class StoreStandIn:
    """A threaded HTTP server answering like the store server, counting what it receives."""

    def __init__(self) -> None:
        self.batches = 0
        self.observations = 0
        self.heartbeats = 0
        self._lock = threading.Lock()
        config = {
            "gateway_id": GATEWAY_ID,
            "store_id": 1,
            "refresh_s": 300,
            "registered": [
                {"kind": "ibeacon", "id": f"{_uuid(REGISTERED_UUID)}:1:{minor}"}
                for minor in REGISTERED_MINORS
            ],
        }
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self._answer(200, config)

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path.endswith("/heartbeat"):
                    with stand_in._lock:
                        stand_in.heartbeats += 1
                    self._answer(202, {"received": True})
                    return
                with stand_in._lock:
                    stand_in.batches += 1
                    stand_in.observations += len(body["observations"])
                accepted = len(body["observations"])
                self._answer(202, {"batch_id": body["batch_id"], "accepted": accepted})

            def _answer(self, status: int, document: object) -> None:
                payload = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def close(self) -> None:
        """Stop serving."""
        self._httpd.shutdown()
        self._httpd.server_close()


def _uuid(h: str) -> str:
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _advert(
    address: str, rssi: int, manufacturer: dict[str, str], service: dict[str, str]
) -> AdvertJson:
    return {
        "address": address,
        "rssi": rssi,
        "local_name": None,
        "tx_power": None,
        "manufacturer_data": manufacturer,
        "service_data": service,
        "service_uuids": list(service),
    }


def advert_mix(rng: random.Random) -> AdvertJson:
    """One advert of the synthetic store's air."""
    draw = rng.random()
    rssi = rng.randint(-95, -45)
    if draw < EID_SHARE:
        phone = rng.randrange(PHONES)
        return _advert(
            f"5A:00:00:00:{phone >> 8:02X}:{phone & 0xFF:02X}",
            rssi,
            {},
            {EDDYSTONE: f"30ec{phone:016x}"},
        )
    if draw < EID_SHARE + REGISTERED_SHARE:
        minor = rng.choice(REGISTERED_MINORS)
        payload = f"0215{REGISTERED_UUID}0001{minor:04x}c5"
        return _advert(f"C0:00:00:00:00:{minor:02X}", rssi, {"76": payload}, {})
    address = ":".join(f"{rng.randrange(256):02X}" for _ in range(6))
    kind = rng.randrange(3)
    if kind == 0:  # Apple Nearby / Continuity: not a beacon
        return _advert(address, rssi, {"76": "1005" + os.urandom(6).hex()}, {})
    if kind == 1:  # somebody else's iBeacon
        payload = "0215" + os.urandom(16).hex() + os.urandom(4).hex() + "c5"
        return _advert(address, rssi, {"76": payload}, {})
    return _advert(address, rssi, {str(rng.randrange(65536)): os.urandom(10).hex()}, {})


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mb(pid: int) -> float:
    """VmRSS of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _wait_ready(process: asyncio.subprocess.Process) -> None:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), READY_TIMEOUT_S)
    if b"scanning" not in line:
        raise RuntimeError(f"gateway did not start: {line!r}")


async def measure(rate: int, seconds: float) -> dict[str, Any]:
    """Run the gateway under ``rate`` adverts/s for ``seconds``; return the figures."""
    store = StoreStandIn()
    link = RadioLinkServer()
    host, port = await link.start("127.0.0.1", 0)
    state_dir = tempfile.mkdtemp(prefix="gateway-bench-")
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")},
        "GATEWAY_ID": GATEWAY_ID,
        "GATEWAY_TOKEN": "bench-token",
        "GATEWAY_SERVER_URL": store.url,
        "GATEWAY_SCANNER_BACKEND": "firmware_sim.bleak_backend:SimBleakScanner",
        "GATEWAY_STATE_DIR": state_dir,
        "GATEWAY_METRICS_PORT": "0",
        "SIM_RADIO_URL": f"tcp://{host}:{port}/{GATEWAY_ID}",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway",
        "run",
        env=environ,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    rng = random.Random(1)
    try:
        await _wait_ready(process)
        published = 0
        started = time.monotonic()
        cpu_start = rss_start = 0.0
        measured_from = started + WARM_UP_S
        end = measured_from + seconds
        measuring = False
        while (now := time.monotonic()) < end:
            if not measuring and now >= measured_from:
                measuring, cpu_start, measured_from = True, cpu_seconds(process.pid), now
                rss_start = rss_mb(process.pid)
            due = int((now - started) * rate)
            for _ in range(due - published):
                link.publish(GATEWAY_ID, advert_mix(rng))
            published = due
            await asyncio.sleep(TICK_S)
        elapsed = time.monotonic() - measured_from
        cpu = cpu_seconds(process.pid) - cpu_start
        rss = rss_mb(process.pid)
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()
        await link.close()
        store.close()
    return {
        "rate": rate,
        "seconds": round(elapsed, 1),
        "cpu_share_of_core": round(cpu / elapsed, 4),
        "rss_mb": round(rss, 1),
        "rss_mb_after_warm_up": round(rss_start, 1),
        "adverts_published": published,
        "adverts_dropped_by_link": link.counters.dropped_slow_client,
        "batches": store.batches,
        "observations": store.observations,
        "heartbeats": store.heartbeats,
    }


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, measure, print."""
    parser = argparse.ArgumentParser(prog="python -m bench.gateway_load", description=__doc__)
    parser.add_argument("--rate", type=int, default=1000, help="adverts per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args(argv)
    result = asyncio.run(measure(args.rate, args.seconds))
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['rate']} adverts/s for {result['seconds']} s: "
            f"gateway CPU {result['cpu_share_of_core'] * 100:.1f} % of a core, "
            f"RSS {result['rss_mb']} MB; {result['observations']} observations in "
            f"{result['batches']} batches; link dropped {result['adverts_dropped_by_link']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
