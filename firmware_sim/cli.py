"""beacon-sim: list the built-in scenarios or run one against gateways."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

from firmware_sim.bluez.service import BluezError, VirtualBluez
from firmware_sim.bluez.settings import BluezSettings
from firmware_sim.builtin_scenarios import (
    BUILTIN_SCENARIO_DOCUMENTS,
    builtin_scenario,
    builtin_scenario_names,
)
from firmware_sim.clock import Clock, ScaledClock, VirtualClock
from firmware_sim.dbus_daemon import DbusDaemon, DbusDaemonError
from firmware_sim.phones import PhoneKey, PhonesFileError, load_phones_file
from firmware_sim.radio import (
    DEFAULT_PACKET_LOSS,
    DEFAULT_PATH_LOSS_EXPONENT,
    DEFAULT_SHADOWING_SIGMA_DB,
    ChannelParams,
)
from firmware_sim.radio_link import RadioLinkServer
from firmware_sim.runner import RunOutputs, run_scenario_loop
from firmware_sim.scenario import Scenario, ScenarioError, load_scenario_file
from firmware_sim.world import build_world

logger = logging.getLogger("firmware_sim")

# Fixed default seed: two runs without --seed produce the same air, which makes bugs repeatable.
DEFAULT_SEED = 0
EXIT_OK = 0
EXIT_USAGE = 2
EXIT_FAILURE = 1
# With --bluez, these unplug and plug back every virtual adapter (recovery tests of a gateway).
ADAPTERS_REMOVE_SIGNAL = signal.SIGUSR1
ADAPTERS_RESTORE_SIGNAL = signal.SIGUSR2


def _speed(value: str) -> float | None:
    if value == "max":
        return None
    try:
        speed = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError("speed must be a positive number or 'max'") from None
    if not speed > 0 or speed == float("inf"):
        raise argparse.ArgumentTypeError("speed must be a positive number or 'max'")
    return speed


def _listen_address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdecimal() or int(port) > 65535:
        raise argparse.ArgumentTypeError("expected HOST:PORT (port 0 picks a free port)")
    return host, int(port)


def _positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a number") from None
    if not number > 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return number


def build_parser() -> argparse.ArgumentParser:
    """The command line of beacon-sim."""
    parser = argparse.ArgumentParser(prog="beacon-sim", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the built-in scenarios")
    run = commands.add_parser(
        "run",
        help="run a scenario",
        description="Run a scenario. With --bluez, SIGUSR1 removes every virtual adapter "
        "(printing 'adapters removed') and SIGUSR2 brings them back ('adapters restored').",
    )
    run.add_argument("--scenario", required=True, help="built-in scenario name or JSON file")
    run.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    run.add_argument(
        "--speed", type=_speed, default=1.0, help="time factor (1 = real time) or 'max'"
    )
    run.add_argument(
        "--duration", type=_positive, help="scenario seconds per run (default: the scenario's)"
    )
    run.add_argument("--phones", type=Path, help="phones file with the app's identity keys")
    run.add_argument(
        "--radio-listen", type=_listen_address, metavar="HOST:PORT", help="serve the radio link"
    )
    run.add_argument("--ground-truth", type=Path, metavar="FILE", help="write ground truth JSONL")
    run.add_argument("--air-log", type=Path, metavar="FILE", help="write heard adverts JSONL")
    run.add_argument(
        "--path-loss-exponent", type=_positive, default=DEFAULT_PATH_LOSS_EXPONENT, metavar="X"
    )
    run.add_argument("--shadowing-db", type=float, default=DEFAULT_SHADOWING_SIGMA_DB, metavar="Y")
    run.add_argument("--packet-loss", type=float, default=DEFAULT_PACKET_LOSS, metavar="P")
    run.add_argument("--loop", action="store_true", help="restart the scenario when it ends")
    run.add_argument(
        "--progress",
        choices=("auto", "on", "off"),
        default="auto",
        help="a progress bar on stderr; auto: on a terminal, for runs of a minute or more",
    )
    run.add_argument(
        "--bluez",
        action="store_true",
        help="export org.bluez (one adapter per gateway) on a private dbus-daemon; "
        "SIGUSR1 removes the adapters, SIGUSR2 restores them",
    )
    return parser


def _load_scenario(name_or_file: str) -> Scenario:
    if name_or_file in BUILTIN_SCENARIO_DOCUMENTS:
        return builtin_scenario(name_or_file)
    path = Path(name_or_file)
    if path.suffix == ".json" or path.exists():
        return load_scenario_file(path)
    return builtin_scenario(name_or_file)


@contextlib.contextmanager
def _output_file(path: Path | None) -> Iterator[TextIO | None]:
    if path is None:
        yield None
        return
    with path.open("w", encoding="utf-8") as handle:
        yield handle


async def _run(
    args: argparse.Namespace,
    scenario: Scenario,
    phones: dict[str, PhoneKey],
    channel: ChannelParams,
) -> None:
    rng = random.Random(args.seed)  # noqa: S311 - simulation noise, reproducible by design
    unix_start = time.time()
    clock: Clock = (
        VirtualClock(unix_start) if args.speed is None else ScaledClock(args.speed, unix_start)
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    link: RadioLinkServer | None = None
    daemon: DbusDaemon | None = None
    bluez: VirtualBluez | None = None

    def unplug_adapters(present: bool) -> None:
        # Registered before the bus is up, so an early signal is reported instead of killing us.
        if bluez is None:
            print("no virtual adapters", flush=True)
            return
        for adapter in bluez.adapters():
            if present:
                bluez.restore_adapter(adapter)
            else:
                bluez.remove_adapter(adapter)
        print("adapters restored" if present else "adapters removed", flush=True)

    loop.add_signal_handler(ADAPTERS_REMOVE_SIGNAL, unplug_adapters, False)
    loop.add_signal_handler(ADAPTERS_RESTORE_SIGNAL, unplug_adapters, True)
    with _output_file(args.air_log) as air_log, _output_file(args.ground_truth) as ground_truth:
        try:
            if args.radio_listen is not None:
                link = RadioLinkServer()
                host, port = await link.start(*args.radio_listen)
                print(f"radio link listening on {host}:{port}", flush=True)
            if args.bluez:
                daemon = DbusDaemon()
                bus_address = await daemon.start()
                gateways = [gateway.name for gateway in scenario.floor_plan.gateways]
                bluez = VirtualBluez(bus_address, gateways, BluezSettings.from_env())
                await bluez.start()
                print(f"bluez bus at {bus_address}", flush=True)
                for adapter, gateway in bluez.adapters().items():
                    print(f"adapter {adapter} = {gateway}", flush=True)
            world = build_world(scenario, phones, channel, clock.now(), rng)
            duration = args.duration if args.duration is not None else scenario.duration_s
            show_progress = args.progress == "on" or (
                args.progress == "auto" and sys.stderr.isatty() and duration >= PROGRESS_MIN_S
            )
            outputs = RunOutputs(
                link=link,
                sinks=() if bluez is None else (bluez,),
                air_log=air_log,
                ground_truth=ground_truth,
                progress=_print_progress if show_progress else None,
            )
            running = asyncio.create_task(
                run_scenario_loop(world, clock, rng, duration, outputs, args.loop)
            )
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
            for task in (running, stopping):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        finally:
            if link is not None:
                counters = link.counters
                logger.info(
                    "radio_link.closed sent=%d dropped_no_client=%d dropped_slow_client=%d",
                    counters.sent,
                    counters.dropped_no_client,
                    counters.dropped_slow_client,
                )
                await link.close()
            if bluez is not None:
                counters_bluez = bluez.counters
                logger.info(
                    "bluez.totals published=%d dropped_not_scanning=%d signals_sent=%d",
                    counters_bluez.published,
                    counters_bluez.dropped_not_scanning,
                    counters_bluez.signals_sent,
                )
                await bluez.close()
            if daemon is not None:
                await daemon.stop()
    logger.info("beacon_sim.stopped signal=%s", stop.is_set())


# Short runs finish before a bar would tell anyone anything.
PROGRESS_MIN_S = 60.0
PROGRESS_WIDTH = 30


def progress_bar(done: int, total: int, width: int = PROGRESS_WIDTH) -> str:
    """A one-line text bar: `[#####.........]  120/3600 s  3 %`."""
    share = done / total if total else 1.0
    filled = min(width, int(share * width))
    return f"[{'#' * filled}{'.' * (width - filled)}] {done:>5}/{total} s {share:4.0%}"


def _print_progress(done: int, total: int) -> None:
    end = "\n" if done >= total else ""
    print(f"\r{progress_bar(done, total)}", end=end, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the beacon-sim console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    if args.command == "list":
        for name in builtin_scenario_names():
            print(f"{name}\t{builtin_scenario(name).description}")
        return EXIT_OK
    try:
        scenario = _load_scenario(args.scenario)
        phones = load_phones_file(args.phones) if args.phones is not None else {}
        channel = ChannelParams(
            path_loss_exponent=args.path_loss_exponent,
            shadowing_sigma_db=args.shadowing_db,
            packet_loss=args.packet_loss,
        )
    except (ScenarioError, PhonesFileError, ValueError) as exc:
        print(f"beacon-sim: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        asyncio.run(_run(args, scenario, phones, channel))
    except (DbusDaemonError, BluezError, OSError) as exc:
        print(f"beacon-sim: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK
