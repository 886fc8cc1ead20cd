"""Beacon decoding throughput on one core: gateway.decode beside its peer parsers, same inputs.

    python -m bench.decode_throughput [--seconds S] [--json]

Inputs are the adverts of tests/vectors/adverts.json, one row per frame kind plus a row of
adverts that are no beacon. Columns, in adverts per second:

- ``gateway``: ``decode_advert`` on bleak's fields (what the gateway gets from the scanner).
- ``ibeacon-ble``: ``iBeaconParser.parse`` on a ``BluetoothServiceInfo`` of the same fields
  (iBeacon only; it also looks up the vendor and estimates a distance).
- ``beacontools``: ``parse_packet`` on the advert as raw AD structures (no AltBeacon).
- ``bdt (raw AD)``: bluetooth-data-tools has no beacon parser; its raw AD -> bleak fields
  parser (uncached) is the stage before ours, so it runs on the raw AD structures alone, and
  ``bdt + gateway`` chains it with ours: comparable with beacontools, which starts from raw AD.

"n/a" means the parser does not decode that format; "missing" that it is not installed
(``pip install ibeacon-ble bluetooth-data-tools beacontools``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import platform
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.decode import decode_advert

VECTORS_FILE = Path(__file__).resolve().parents[1] / "tests" / "vectors" / "adverts.json"
# Long enough per cell for a stable figure on a quiet machine, short enough for ~1 min total.
DEFAULT_SECONDS = 0.5
# One timed batch lasts about this long; the best batch is reported, which filters out
# interruptions by other processes better than a mean over the whole cell.
BATCH_TARGET_S = 0.05
# AD types (Bluetooth Core Specification Supplement, part A).
AD_TYPE_SERVICE_DATA_16 = 0x16
AD_TYPE_MANUFACTURER_DATA = 0xFF
BLEAK_UUID_SUFFIX = "-0000-1000-8000-00805f9b34fb"
PARSERS = ("gateway", "ibeacon-ble", "beacontools", "bdt (raw AD)", "bdt + gateway")
NO_BEACON = "(no beacon)"

Advert = dict[str, Any]
Call = Callable[[], object]


def load_rows() -> dict[str, list[Advert]]:
    """The vector adverts grouped by the kind of frame they carry."""
    rows: dict[str, list[Advert]] = {}
    for vector in json.loads(VECTORS_FILE.read_text())["vectors"]:
        kinds = {frame["kind"] for frame in vector["frames"]} or {NO_BEACON}
        for kind in kinds:
            rows.setdefault(kind, []).append(vector["advert"])
    return rows


def bleak_fields(advert: Advert) -> tuple[dict[int, bytes], dict[str, bytes]]:
    """Manufacturer and service data as bleak gives them."""
    manufacturer = {int(k): bytes.fromhex(v) for k, v in advert["manufacturer_data"].items()}
    service = {k: bytes.fromhex(v) for k, v in advert["service_data"].items()}
    return manufacturer, service


def raw_ad(advert: Advert) -> bytes:
    """The advert as raw AD structures (length, type, value), as the radio sends it."""
    manufacturer, service = bleak_fields(advert)
    parts = []
    for company_id, data in manufacturer.items():
        value = struct.pack("<H", company_id) + data
        parts.append(bytes([len(value) + 1, AD_TYPE_MANUFACTURER_DATA]) + value)
    for uuid, data in service.items():
        uuid16 = int(uuid[4:8], 16)  # every vector uses a 16-bit UUID in bleak's 128-bit form
        assert uuid.endswith(BLEAK_UUID_SUFFIX), uuid  # noqa: S101 - bench input sanity
        value = struct.pack("<H", uuid16) + data
        parts.append(bytes([len(value) + 1, AD_TYPE_SERVICE_DATA_16]) + value)
    return b"".join(parts)


def _optional(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def make_calls(advert: Advert) -> dict[str, Call | str]:
    """For each parser, a call that decodes this advert once, or why there is none."""
    manufacturer, service = bleak_fields(advert)
    packet = raw_ad(advert)
    calls: dict[str, Call | str] = {"gateway": lambda: decode_advert(manufacturer, service)}

    ibeacon_ble = _optional("ibeacon_ble")
    service_info_module = _optional("home_assistant_bluetooth")
    if ibeacon_ble is None or service_info_module is None:
        calls["ibeacon-ble"] = "missing"
    else:
        parser = ibeacon_ble.iBeaconParser()
        asyncio.run(parser.async_setup())  # loads the vendor (OUI) table parse() looks up
        info = service_info_module.BluetoothServiceInfo(
            name="",
            address=advert["address"],
            rssi=advert["rssi"],
            manufacturer_data=manufacturer,
            service_data=service,
            service_uuids=advert["service_uuids"],
            source="bench",
        )
        calls["ibeacon-ble"] = lambda: parser.parse(info)

    beacontools = _optional("beacontools")
    calls["beacontools"] = (
        "missing" if beacontools is None else (lambda: beacontools.parse_packet(packet))
    )

    bdt = _optional("bluetooth_data_tools")
    if bdt is None:
        calls["bdt (raw AD)"] = calls["bdt + gateway"] = "missing"
    else:
        # The public function is lru-cached; timing cache hits would measure a dict lookup.
        parse_gap = getattr(
            bdt.parse_advertisement_data_bytes, "__wrapped__", bdt.parse_advertisement_data_bytes
        )
        calls["bdt (raw AD)"] = lambda: parse_gap(packet)

        def bdt_then_gateway() -> object:
            fields = parse_gap(packet)
            return decode_advert(fields[3], fields[2])

        calls["bdt + gateway"] = bdt_then_gateway
    return calls


def _decodes(name: str, call: Call, kind: str) -> bool:
    """Whether the parser recognises this advert as what it is (n/a otherwise)."""
    if kind == NO_BEACON or name == "bdt (raw AD)":
        return True  # rejecting fast is the job here; bdt only splits AD structures
    try:
        result = call()
    except Exception:  # a peer that chokes on an input does not decode it
        return False
    return bool(result)


def rate(calls: list[Call], seconds: float) -> float:
    """Adverts per second for a round-robin over ``calls``: the best batch within ``seconds``."""
    count = max(1, len(calls))
    batch = 1
    while True:  # calibrate a batch of about BATCH_TARGET_S
        started = time.perf_counter()
        for _ in range(batch):
            for call in calls:
                call()
        elapsed = time.perf_counter() - started
        if elapsed >= BATCH_TARGET_S / 4:
            break
        batch *= 4
    batch = max(1, int(batch * BATCH_TARGET_S / elapsed))
    best = 0.0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or best == 0.0:
        started = time.perf_counter()
        for _ in range(batch):
            for call in calls:
                call()
        best = max(best, batch * count / (time.perf_counter() - started))
    return best


def measure(seconds: float) -> dict[str, dict[str, float | str]]:
    """Adverts per second per frame kind and parser ("n/a"/"missing" where it does not run)."""
    table: dict[str, dict[str, float | str]] = {}
    for kind, adverts in load_rows().items():
        per_advert = [make_calls(advert) for advert in adverts]
        row: dict[str, float | str] = {}
        for name in PARSERS:
            calls = [calls_for[name] for calls_for in per_advert]
            runnable = [c for c in calls if not isinstance(c, str)]
            if len(runnable) < len(calls):
                row[name] = next(c for c in calls if isinstance(c, str))
            elif not all(_decodes(name, c, kind) for c in runnable):
                row[name] = "n/a"
            else:
                row[name] = rate(runnable, seconds)
        table[kind] = row
    return table


def _pin_to_one_core() -> str:
    """Run on a single CPU where the OS allows it; say which."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"cpu {cpu}"


def _cell(value: float | str) -> str:
    return f"{value / 1e6:.3f} M/s" if isinstance(value, float) else value


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table (or JSON)."""
    parser = argparse.ArgumentParser(prog="python -m bench.decode_throughput")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="per cell")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    core = _pin_to_one_core()
    table = measure(args.seconds)
    about = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "core": core,
        "seconds_per_cell": args.seconds,
        "unit": "adverts per second",
    }
    if args.json:
        print(json.dumps({"about": about, "results": table}, indent=1))
        return 0
    print(f"Python {about['python']} {about['machine']}, {core}, best batch per cell")
    width = max(len(kind) for kind in table) + 2
    print(f"{'frame kind':<{width}}" + "".join(f"{name:>16}" for name in PARSERS))
    for kind, row in table.items():
        print(f"{kind:<{width}}" + "".join(f"{_cell(row[name]):>16}" for name in PARSERS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
