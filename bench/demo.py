"""`make demo`: a simulated store running live, with the staff tablet to watch it on.

Seeds a fresh demo store under var/demo (with an entry, a zone-dwell and a walk-by campaign),
starts the store server, the simulated store (scenario `demo`, looping, real time) and its two
gateways, prints the pages, the demo log-ins and whether quiet hours hold offers now, and
stops every process on Ctrl-C. `--daytime` (`make demo DEMO_ARGS=--daytime`) seeds the
shoppers where it is early afternoon, so offers go out at any hour.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.stack import BIN, Stack, free_port
from store_server.engagement.decide import DEFAULT_POLICY, quiet_hours_end

DEMO_DIR = Path("var/demo")
PREFERRED_PORT = 5000
GATEWAYS = ("gw-entrance", "gw-floor")
SHOPPER_TIMEZONE = "Europe/London"  # the demo store's and its shoppers' time zone
DAYTIME_LOCAL_HOUR = 13  # --daytime: the shoppers live where it is now about 13:00


def daytime_timezone(now: float) -> str:
    """A fixed-offset zone where it is about 13:00 at `now` (quiet hours are 21:00-09:00)."""
    offset = DAYTIME_LOCAL_HOUR - datetime.fromtimestamp(now, ZoneInfo("UTC")).hour
    return f"Etc/GMT{-offset:+d}"  # POSIX style: Etc/GMT-2 is two hours ahead of UTC


def quiet_hours_note(now: float, timezone: str) -> str | None:
    """What to say when quiet hours hold offers now in `timezone`, else None."""
    tz = ZoneInfo(timezone)
    until = quiet_hours_end(now, tz, DEFAULT_POLICY)
    if until is None:
        return None
    local = datetime.fromtimestamp(now, tz)
    return (
        f"It is {local:%H:%M} for the demo shoppers ({timezone}): quiet hours "
        f"({DEFAULT_POLICY.quiet_start:%H:%M}-{DEFAULT_POLICY.quiet_end:%H:%M}) hold every offer "
        f"until {datetime.fromtimestamp(until, tz):%H:%M}; the console's results count them as "
        "held. To see the offers now, run `make demo DEMO_ARGS=--daytime` (the shoppers then "
        "live where it is early afternoon)."
    )


def seed_with_campaigns(timezone: str) -> Callable[[str, Path], None]:
    """A `Stack.start_server` seed: the demo store with its showcase campaigns."""

    def seed(database_url: str, workdir: Path) -> None:
        env = {**os.environ, "STORE_DATABASE_URL": database_url}
        command = [str(BIN / "store-server"), "seed-demo", "--out", str(workdir), "--showcase"]
        subprocess.run(  # noqa: S603 - our own console script
            [*command, "--shopper-timezone", timezone],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )

    return seed


def _port() -> int:
    """Port 5000 (or STORE_PORT) when free, else any free port."""
    wanted = int(os.environ.get("STORE_PORT", PREFERRED_PORT))
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", wanted))
        except OSError:
            return free_port()
    return wanted


def main(argv: list[str] | None = None) -> int:
    """Run the demo until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__)
    parser.add_argument(
        "--daytime",
        action="store_true",
        help="seed the shoppers where it is early afternoon: no quiet hours hold their offers",
    )
    args = parser.parse_args(argv)
    timezone = daytime_timezone(time.time()) if args.daytime else SHOPPER_TIMEZONE
    stack = Stack(DEMO_DIR.resolve(), port=_port())
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        print("starting the store server (fresh demo database in var/demo) ...", flush=True)
        stack.start_server(seed_with_campaigns(timezone))
        print("starting the simulated store (scenario 'demo') and its gateways ...", flush=True)
        stack.start_sim("demo", "--loop", "--seed", "1")
        for gateway_id in GATEWAYS:
            stack.start_gateway(gateway_id)
        accounts = stack.seed["accounts"]
        print()
        print("The demo store is running. Pages:")
        store = stack.seed["store_id"]
        maria = stack.seed["device_tokens"]["maria"]
        tokens = stack.seed["device_tokens"]
        print(f"  staff tablet      {stack.url}/staff")
        print(f"  manager console   {stack.url}/console")
        print(f"  Maria's phone     {stack.url}/app?store={store}#device={maria}")
        for person, name in (("leo", "Leo"), ("ana", "Ana"), ("passer", "Pat")):
            phone = f"{name}'s phone"
            print(f"  {phone:<17} {stack.url}/app?store={store}#device={tokens[person]}")
        print(f"  join the app      {stack.url}/app?store={store}  (open in a private window)")
        print(f"  API document      {stack.url}/api/v1/openapi.json")
        print("Demo log-ins (passwords are new on every run):")
        for account in accounts:
            print(f"  {account['role']:<8} {account['email']:<20} {account['password']}")
        print("The scenario loops every 4 minutes. Maria arrives for her pickup order about 20 s")
        print("in (tablet: 'On my way', 'Handed over'; her phone follows); Pat walks past (the")
        print("walk-by offer), Leo walks in (the entry offer), Ana lingers at the dresses (the")
        print("zone-dwell offer). Keep their phone pages open: in-app offers reach open pages,")
        print("so the next loop's offers appear there; after one is sent, the caps (one offer a")
        print("visit, 30 min apart, 3 a day) hold the next. The console has the live feed.")
        if (note := quiet_hours_note(time.time(), timezone)) is not None:
            print(textwrap.fill(note, width=88))
        print("Gateways scan with bleak's BlueZ backend on the simulator's virtual adapter.")
        print(f"Logs: {DEMO_DIR}/*.log.  Ctrl-C stops everything.", flush=True)
        while all(p.popen.poll() is None for p in stack.procs):
            time.sleep(0.5)
        dead = [p for p in stack.procs if p.popen.poll() is not None]
        for proc in dead:
            print(
                f"{proc.name} exited with {proc.popen.returncode}; see {proc.log_path}",
                file=sys.stderr,
            )
        return 1
    except KeyboardInterrupt:
        print("\nstopping ...", flush=True)
        return 0
    except RuntimeError as exc:
        print(f"demo failed to start: {exc}", file=sys.stderr)
        return 1
    finally:
        stack.stop()
        print("every demo process is stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
