"""Command line: ``beacon-gateway run [--env-file FILE]`` (also ``python -m gateway``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from gateway.errors import GatewayError, SettingsError
from gateway.logs import configure_logging
from gateway.service import run_gateway
from gateway.settings import GatewaySettings

EXIT_OK = 0
EXIT_RUNTIME_ERROR = 1
EXIT_BAD_SETTINGS = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the process exit status."""
    args = _parser().parse_args(argv)
    configure_logging(logging.DEBUG if args.verbose else logging.INFO)
    try:
        environ = _environment(args.env_file)
        settings = GatewaySettings.from_env(environ)
        asyncio.run(_run(settings))
    except SettingsError as exc:
        print(f"beacon-gateway: {exc}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    except GatewayError as exc:
        print(f"beacon-gateway: {exc}", file=sys.stderr)
        return EXIT_RUNTIME_ERROR
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
    return parser
