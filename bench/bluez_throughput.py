"""Advert updates per second from the virtual BlueZ adapter into a real bleak scanner.

    python -m bench.bluez_throughput [--seconds 10] [--devices 500]

The parent starts a private dbus-daemon and the virtual BlueZ, and publishes adverts as fast as
it can (every device's RSSI changes on every advert, so each one is a real update); a child
process runs an unchanged `bleak.BleakScanner` on hci0 and counts its detection callbacks.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any

from firmware_sim.bluez.service import VirtualBluez
from firmware_sim.dbus_daemon import DbusDaemon
from firmware_sim.wire import AdvertJson

GATEWAY = "bench-gateway"
EDDYSTONE_UUID = "0000feaa-0000-1000-8000-00805f9b34fb"
# The child must say it scans within this; bleak's start takes well under a second.
CHILD_READY_TIMEOUT_S = 20.0
# Share of a round of adverts written to the bus before the next round is published.
ROUND_SHARE = 0.9


def advert(device: int, rssi: int) -> AdvertJson:
    """An EID-shaped advert of simulated device number `device`."""
    return {
        "address": f"C0:00:00:00:{device >> 8:02X}:{device & 0xFF:02X}",
        "rssi": rssi,
        "local_name": None,
        "tx_power": None,
        "manufacturer_data": {},
        "service_data": {EDDYSTONE_UUID: "30f4" + f"{device:016x}"},
        "service_uuids": [EDDYSTONE_UUID],
    }


async def child(seconds: float) -> None:
    """Scan with bleak's BlueZ backend and count callbacks over `seconds` after the first one."""
    from bleak import BleakScanner

    count = 0
    first = asyncio.get_running_loop().create_future()

    def on_advert(_device: Any, _advert: Any) -> None:
        nonlocal count
        count += 1
        if not first.done():
            first.set_result(time.perf_counter())

    scanner = BleakScanner(on_advert, bluez={"adapter": "hci0"})
    await scanner.start()
    print("ready", flush=True)
    started = await first
    counted_from = count
    await asyncio.sleep(seconds)
    elapsed = time.perf_counter() - started
    updates = count - counted_from
    await scanner.stop()
    print(json.dumps({"updates": updates, "seconds": elapsed}), flush=True)


async def parent(seconds: float, devices: int) -> dict[str, Any]:
    """Run the whole benchmark and return its result."""
    daemon = DbusDaemon()
    address = await daemon.start()
    bluez = VirtualBluez(address, [GATEWAY])
    try:
        await bluez.start()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.bluez_throughput",
            "--child",
            "--seconds",
            str(seconds),
            env={**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": address},
            stdout=asyncio.subprocess.PIPE,
        )
        if process.stdout is None:
            raise RuntimeError("no pipe to the scanner process")
        ready = await asyncio.wait_for(process.stdout.readline(), CHILD_READY_TIMEOUT_S)
        if ready.strip() != b"ready":
            raise RuntimeError("the scanner process did not start")
        result_line = asyncio.ensure_future(process.stdout.readline())
        published_from = bluez.counters.published
        started = time.perf_counter()
        rssi = -60
        while not result_line.done():
            rssi = -60 if rssi == -61 else -61
            for device in range(devices):
                bluez.publish(GATEWAY, advert(device, rssi))
            # Publish the next round once this one is mostly on the wire: faster publishing
            # only coalesces in the adapter and steals the CPU the flusher needs.
            round_sent = bluez.counters.signals_sent + devices * ROUND_SHARE
            while bluez.counters.signals_sent < round_sent and not result_line.done():
                await asyncio.sleep(0)
        elapsed = time.perf_counter() - started
        published = bluez.counters.published - published_from
        await process.wait()
        measured = json.loads(result_line.result())
        return {
            "bench": "bluez_throughput",
            "devices": devices,
            "seconds": round(measured["seconds"], 3),
            "updates_per_s": round(measured["updates"] / measured["seconds"]),
            "published_per_s": round(published / elapsed),
            "signals_sent": bluez.counters.signals_sent,
        }
    finally:
        await bluez.close()
        await daemon.stop()


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        asyncio.run(child(args.seconds))
        return 0
    print(json.dumps(asyncio.run(parent(args.seconds, args.devices))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
