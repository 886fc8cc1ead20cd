"""`make demo`: a simulated store running live, with the staff tablet to watch it on.

Seeds a fresh demo store under var/demo, starts the store server, the simulated store (scenario
`demo`, looping, real time) and its two gateways, prints the pages and the demo log-ins, and
stops every process on Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path

from bench.stack import Stack, free_port

DEMO_DIR = Path("var/demo")
PREFERRED_PORT = 5000
GATEWAYS = ("gw-entrance", "gw-floor")


def _port() -> int:
    """Port 5000 (or STORE_PORT) when free, else any free port."""
    wanted = int(os.environ.get("STORE_PORT", PREFERRED_PORT))
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", wanted))
        except OSError:
            return free_port()
    return wanted


def main() -> int:
    """Run the demo until Ctrl-C."""
    stack = Stack(DEMO_DIR.resolve(), port=_port())
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        print("starting the store server (fresh demo database in var/demo) ...", flush=True)
        stack.start_server()
        print("starting the simulated store (scenario 'demo') and its gateways ...", flush=True)
        stack.start_sim("demo", "--loop", "--seed", "1")
        for gateway_id in GATEWAYS:
            stack.start_gateway(gateway_id)
        accounts = stack.seed["accounts"]
        print()
        print("The demo store is running. Pages:")
        store = stack.seed["store_id"]
        maria = stack.seed["device_tokens"]["maria"]
        print(f"  staff tablet   {stack.url}/staff")
        print(f"  Maria's phone  {stack.url}/app?store={store}#device={maria}")
        print(f"  join the app   {stack.url}/app?store={store}  (open in a private window)")
        print(f"  API document   {stack.url}/api/v1/openapi.json")
        print("Demo log-ins (passwords are new on every run):")
        for account in accounts:
            print(f"  {account['role']:<8} {account['email']:<20} {account['password']}")
        print("Maria arrives for her pickup order about 20 s after the start; the tablet shows")
        print("it. Tap 'On my way' and 'Handed over' there and watch her phone page.")
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
