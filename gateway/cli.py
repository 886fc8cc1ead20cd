"""Command line: ``beacon-gateway run [--env-file FILE]`` and ``beacon-gateway decode``.

Also ``python -m gateway``. ``decode`` reads JSON lines of bleak-shaped adverts on stdin (the
``advert`` objects of tests/vectors/adverts.json) and writes ``{"address", "rssi", "frames"}``
per advert to stdout; bad lines are reported on stderr by number and skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from gateway.decode import MAX_COMPANY_ID, decode_advert
from gateway.errors import GatewayError, SettingsError
from gateway.logs import configure_logging
from gateway.service import run_gateway
from gateway.settings import GatewaySettings

EXIT_OK = 0
EXIT_RUNTIME_ERROR = 1
EXIT_BAD_SETTINGS = 2
# decode: at least one input line was not an advert (the others were still decoded).
EXIT_BAD_INPUT = 1


class AdvertInputError(GatewayError):
    """One ``decode`` input line is not a bleak-shaped advert; the message says why."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the process exit status."""
    args = _parser().parse_args(argv)
    if args.command == "decode":
        return _decode_stdin()
    configure_logging(logging.DEBUG if args.verbose else logging.INFO)
    try:
        environ = _environment(args.env_file)
        settings = GatewaySettings.from_env(environ)
        configure_logging(logging.DEBUG if args.verbose else logging.INFO, settings.log_format)
        asyncio.run(_run(settings))
    except SettingsError as exc:
        print(f"beacon-gateway: {exc}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    except GatewayError as exc:
        print(f"beacon-gateway: {exc}", file=sys.stderr)
        return EXIT_RUNTIME_ERROR
    return EXIT_OK


def decode_lines(lines: Iterable[bytes], out: TextIO, err: TextIO) -> int:
    """Decode JSON-line adverts to JSON-line frames; report bad lines; return the exit status."""
    status = EXIT_OK
    for number, raw_line in enumerate(lines, start=1):
        if not raw_line.strip():
            continue
        try:
            address, rssi, manufacturer_data, service_data = parse_advert_line(raw_line)
        except AdvertInputError as exc:
            print(f"beacon-gateway decode: line {number}: {exc}", file=err, flush=True)
            status = EXIT_BAD_INPUT
            continue
        frames = [frame.to_wire() for frame in decode_advert(manufacturer_data, service_data)]
        out.write(json.dumps({"address": address, "rssi": rssi, "frames": frames}) + "\n")
        out.flush()  # one advert, one line, at once: the output may feed a live pipe
    return status


def parse_advert_line(
    line: bytes,
) -> tuple[str, int, dict[int, bytes], dict[str, bytes]]:
    """Address, RSSI, manufacturer and service data of one JSON advert; AdvertInputError if bad."""
    try:
        advert = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # RecursionError: nesting deeper than the json module can follow.
        raise AdvertInputError(f"not valid JSON: {type(exc).__name__}: {exc}") from exc
    if not isinstance(advert, dict):
        raise AdvertInputError(f"expected a JSON object, got {type(advert).__name__}")
    address, rssi = advert.get("address"), advert.get("rssi")
    if not isinstance(address, str):
        raise AdvertInputError('"address" must be a string')
    if type(rssi) is not int:
        raise AdvertInputError('"rssi" must be an integer')
    manufacturer_data = {
        _company_id(key): payload
        for key, payload in _hex_entries(advert, "manufacturer_data").items()
    }
    return address, rssi, manufacturer_data, _hex_entries(advert, "service_data")


def _hex_entries(advert: dict[str, object], field: str) -> dict[str, bytes]:
    """The ``{key: "hex"}`` object ``field`` of an advert as bytes (absent means empty)."""
    entries = advert.get(field, {})
    if not isinstance(entries, dict):
        raise AdvertInputError(f'"{field}" must be an object')
    decoded: dict[str, bytes] = {}
    for key, value in entries.items():
        payload = _hex_bytes(value)
        if payload is None:
            raise AdvertInputError(f'"{field}"["{key}"] must be a string of hex byte pairs')
        decoded[key] = payload
    return decoded


def _hex_bytes(value: object) -> bytes | None:
    """The bytes a string of hex pairs spells; None if it is anything else."""
    if not isinstance(value, str):
        return None
    try:
        payload = bytes.fromhex(value)
    except ValueError:
        return None
    # fromhex also skips whitespace, which the format does not have: refuse it.
    return payload if len(payload) * 2 == len(value) else None


def _company_id(key: str) -> int:
    """A manufacturer data key: a decimal company id (bleak's int key, as JSON text)."""
    if not (key.isascii() and key.isdigit() and int(key) <= MAX_COMPANY_ID):
        raise AdvertInputError(f'"manufacturer_data" key {key!r} must be a company id 0-65535')
    return int(key)


def _decode_stdin() -> int:
    try:
        return decode_lines(sys.stdin.buffer, sys.stdout, sys.stderr)
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep Python's exit-time flush of
        # stdout from complaining about the same closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def read_env_file(path: Path) -> dict[str, str]:
    """Parse ``KEY=VALUE`` lines; blank lines and ``#`` comments are skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"--env-file {path}: {exc.strerror or exc}") from exc
    values: dict[str, str] = {}
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise SettingsError(f"--env-file {path}:{number}: expected KEY=VALUE")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key] = value
    return values


def _environment(env_file: Path | None) -> Mapping[str, str]:
    # The process environment wins over the file, as with docker's -e over --env-file.
    file_values = read_env_file(env_file) if env_file is not None else {}
    return {**file_values, **os.environ}


async def _run(settings: GatewaySettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    def announce_ready() -> None:
        # A parent process (tests, the demo) waits for exactly this line.
        print(f"gateway {settings.gateway_id} scanning", flush=True)

    await run_gateway(settings, stop=stop, on_ready=announce_ready)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="beacon-gateway",
        description="Scan for BLE beacons and upload observations to the store server.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="scan and upload until SIGTERM or SIGINT",
        description="Scan and upload until SIGTERM or SIGINT. Settings come from GATEWAY_* "
        "environment variables (see the README).",
    )
    run.add_argument(
        "--env-file",
        type=Path,
        metavar="FILE",
        help="read KEY=VALUE lines from FILE; the process environment wins over it",
    )
    run.add_argument("-v", "--verbose", action="store_true", help="log debug events too")
    commands.add_parser(
        "decode",
        help="decode JSON-line adverts from stdin to JSON-line frames on stdout",
        description="Read one bleak-shaped advert per line on stdin (JSON: address, rssi, "
        "manufacturer_data keyed by decimal company id, service_data keyed by 128-bit UUID, "
        'values hex) and write {"address", "rssi", "frames"} per advert to stdout. Bad lines '
        "are reported on stderr with their number; the exit status is then 1.",
    )
    return parser
