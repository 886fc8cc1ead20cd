"""Help on the floor, through the real server: from the shopper's "Ask for help" request to the
`help_request` event at every connected staff tablet, and from a tablet's "On my way" to the
`help_update` naming who is coming on the shopper's page.

The demo store is served as a process on loopback (threading mode, Werkzeug); the tablets and
the shopper's page are python-socketio clients in this process. Each round asks, acknowledges
and closes one request, so the next round raises a new one.

    python -m bench help [--tablets 20] [--rounds 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from bench.fanout import SPACING_S, Tablets, summary
from bench.stack import Stack

SHOPPER = "leo"
STAFF_EMAIL = "sam@demo.store"


def measure(tablets: int, rounds: int, workdir: Path) -> dict[str, Any]:
    """Ask-to-tablets and acknowledge-to-shopper latencies over `rounds` requests."""
    with Stack(workdir / "stack") as stack:
        stack.start_server()
        password = next(a["password"] for a in stack.seed["accounts"] if a["email"] == STAFF_EMAIL)
        token = requests.post(
            f"{stack.url}/api/v1/auth/login",
            json={"email": STAFF_EMAIL, "password": password},
            timeout=10,
        ).json()["token"]
        device = stack.seed["device_tokens"][SHOPPER]
        store = stack.seed["store_id"]
        staff = Tablets(stack.url, tablets, {"token": token}, "help_request")
        page = Tablets(stack.url, 1, {"device_token": device}, "help_update")
        session = requests.Session()
        asked: list[float] = []
        acknowledged: list[float] = []
        try:
            for _ in range(rounds):
                staff.expect_one()
                page.expect_one()
                started = time.perf_counter()
                response = session.post(
                    f"{stack.url}/api/v1/me/help-requests",
                    json={"store_id": store, "zone": "shoes"},
                    headers={"Authorization": f"Bearer {device}"},
                    timeout=10,
                )
                response.raise_for_status()
                asked.extend(t - started for t in staff.wait_all())
                page.wait_all()  # "we've told the staff"
                base = f"{stack.url}/api/v1/stores/{store}/help-requests"
                request_id = response.json()["request_id"]
                page.expect_one()
                started = time.perf_counter()
                session.post(
                    f"{base}/{request_id}/acknowledge",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=10,
                ).raise_for_status()
                acknowledged.extend(t - started for t in page.wait_all())
                page.expect_one()
                session.post(
                    f"{base}/{request_id}/close",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=10,
                ).raise_for_status()
                page.wait_all()
                time.sleep(SPACING_S)
        finally:
            staff.close()
            page.close()
    return {
        "tablets": tablets,
        "rounds": rounds,
        "ask_to_every_tablet": summary(asked, tablets * rounds),
        "acknowledge_to_shopper": summary(acknowledged, rounds),
    }


def main(argv: list[str] | None = None) -> int:
    """Measure and print the two latencies."""
    parser = argparse.ArgumentParser(prog="python -m bench help", description=__doc__)
    parser.add_argument("--tablets", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        result = measure(args.tablets, args.rounds, Path(tmp))
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0
