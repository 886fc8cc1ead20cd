"""Arrival latency through the real stack: the shopper truly crossing the door -> staff event.

Twenty shoppers with ready pickup orders walk through the door one after another; the
simulator (real time) plays them, the gateway uploads through HTTP, and a real python-socketio
client logged in as staff records when each arrival event reaches it. The clock starts when the
simulated shopper crosses the door line (ground truth: the scenario's path, pinned to Unix time
by the simulator's ground-truth log), not at an advert: what staff wait for is the person.

    python -m bench latency [--arrivals 20] [--spacing-s 4] [--json]
"""

from __future__ import annotations

import argparse
import json
import secrets
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests
import socketio

from bench.stack import Stack
from firmware_sim.scenario import scenario_from_dict
from firmware_sim.world import position_at
from store_server.accounts.auth import token_digest
from store_server.accounts.staff import add_staff
from store_server.accounts.stores import create_store
from store_server.db.database import Database
from store_server.db.models import Gateway, Zone
from store_server.demo import DEMO_ZONES, DemoOrder, add_opted_in_shopper
from store_server.reporting.analytics import percentile
from store_server.settings import DEFAULT_ENTRY_RSSI_DBM

# Resolution of the door crossing found on the scripted path.
CROSSING_STEP_S = 0.01
ROTATION_EXPONENT = 10
STAFF = ("bench@bench.store", "bench-password")
STORE = {
    "outline": {"x0": 0, "y0": 0, "x1": 20, "y1": 15},
    "entrance": {"x": 10, "y": 0},
    "zones": [],
    "bays": [],
    "gateways": [{"name": "gw-entrance", "x": 10, "y": 0.5}],
}


def person_name(index: int) -> str:
    """The scenario person, phone and first name of the index-th shopper."""
    return f"shopper-{index:02d}"


def seed_store(arrivals: int) -> Any:
    """A seeding function for Stack.start_server: one store, `arrivals` pickup shoppers."""

    def seed(database_url: str, workdir: Path) -> None:
        db = Database(database_url)
        now = time.time()
        token = secrets.token_urlsafe(24)
        phones = []
        with db.transaction() as session:
            store = create_store(session, "Bench Store", "UTC", "USD")
            zones = {
                n: Zone(store_id=store.id, name=n, kind=k, label=lb) for n, k, lb in DEMO_ZONES
            }
            session.add_all(zones.values())
            session.flush()
            session.add(
                Gateway(
                    id="gw-entrance",
                    store_id=store.id,
                    zone_id=zones["entrance"].id,
                    token_sha256=token_digest(token),
                    rssi_offset_db=0.0,
                )
            )
            add_staff(session, [store.id], STAFF[0], "Bench", "staff", STAFF[1])
            for index in range(1, arrivals + 1):
                name = person_name(index)
                order = DemoOrder(
                    f"bench-{index}", f"B{index:03d}", "ready", [{"name": "parcel", "qty": 1}]
                )
                added = add_opted_in_shopper(
                    session, store.id, name, now, purposes=("arrival",), order=order
                )
                phones.append(added.phone(name))
        db.dispose()
        (workdir / "seed.json").write_text(json.dumps({"gateway_tokens": {"gw-entrance": token}}))
        (workdir / "phones.json").write_text(json.dumps({"phones": phones}))

    return seed


def scenario(arrivals: int, spacing_s: float) -> dict[str, Any]:
    """Shoppers start 8 m out on the pavement, walk in through the door, wait, and walk away."""
    people = [
        {
            "name": person_name(i),
            "phone": person_name(i),
            "start_s": 2 + (i - 1) * spacing_s,
            "speed_m_s": 1.2,
            "waypoints": [
                {"x": 10, "y": -8, "dwell_s": 0},
                {"x": 10, "y": 2, "dwell_s": 8},
                {"x": 10, "y": -8, "dwell_s": 0},
                {"x": 30, "y": -8, "dwell_s": 0},
            ],
        }
        for i in range(1, arrivals + 1)
    ]
    duration = 2 + arrivals * spacing_s + 30
    return {
        "name": "bench-arrivals",
        "description": "staggered pickup arrivals",
        "duration_s": duration,
        "store": STORE,
        "people": people,
    }


def door_crossings(document: dict[str, Any]) -> dict[str, float]:
    """Scenario time at which each person first stands inside the store (crossed the door)."""
    played = scenario_from_dict(document)
    outline = played.floor_plan.outline
    crossings: dict[str, float] = {}
    for person in played.people:
        t = person.start_s
        while (here := position_at(person, t)) is not None:
            if outline.contains(here):
                crossings[person.name] = t
                break
            t += CROSSING_STEP_S
    return crossings


def scenario_unix_start(ground_truth: Path) -> float:
    """The Unix time of scenario time 0, from the simulator's ground-truth log."""
    first = json.loads(ground_truth.read_text().splitlines()[0])
    return float(first["t"]) - float(first["scenario_t"])


def run(arrivals: int, spacing_s: float) -> dict[str, Any]:
    """Run the stack once and measure every arrival."""
    with tempfile.TemporaryDirectory() as tmp, Stack(Path(tmp)) as stack:
        stack.start_server(seed=seed_store(arrivals))
        document = scenario(arrivals, spacing_s)
        scenario_file = Path(tmp) / "scenario.json"
        scenario_file.write_text(json.dumps(document))
        air_log = Path(tmp) / "air.jsonl"
        ground_truth = Path(tmp) / "truth.jsonl"
        login = requests.post(
            f"{stack.url}/api/v1/auth/login",
            json={"email": STAFF[0], "password": STAFF[1]},
            timeout=10,
        ).json()
        received: dict[str, float] = {}
        lock = threading.Lock()
        client = socketio.Client(reconnection=False)

        @client.on("arrival")  # type: ignore[untyped-decorator]
        def _arrival(payload: dict[str, Any]) -> None:
            with lock:
                received.setdefault(payload["first_name"], time.time())

        client.connect(stack.url, auth={"token": login["token"]}, transports=["websocket"])
        stack.start_sim(
            str(scenario_file),
            "--seed",
            "7",
            "--air-log",
            str(air_log),
            "--ground-truth",
            str(ground_truth),
        )
        stack.start_gateway("gw-entrance")
        deadline = time.monotonic() + scenario(arrivals, spacing_s)["duration_s"] + 10
        while time.monotonic() < deadline:
            with lock:
                if len(received) == arrivals:
                    break
            time.sleep(0.2)
        client.disconnect()
        unix_start = scenario_unix_start(ground_truth)
        crossed = {p: unix_start + t for p, t in door_crossings(document).items()}
        first_above: dict[str, float] = {}
        for line in air_log.read_text().splitlines():
            record = json.loads(line)
            if record["gateway"] == "gw-entrance" and record["rssi"] >= DEFAULT_ENTRY_RSSI_DBM:
                first_above.setdefault(record["person"], record["t"])
    result: dict[str, Any] = {
        "arrivals": arrivals,
        "detected": len(received),
        "missed": arrivals - len(received),
    }
    # Arrival events name the shopper by first name, which is the scenario person (seed_store).
    for name, starts in (("from_door_crossing", crossed), ("from_first_advert_above", first_above)):
        latencies = [received[p] - starts[p] for p in received if p in starts]
        if latencies:
            result[f"{name}_p50_s"] = round(percentile(latencies, 0.50) or 0.0, 3)
            result[f"{name}_p95_s"] = round(percentile(latencies, 0.95) or 0.0, 3)
            result[f"{name}_max_s"] = round(max(latencies), 3)
    result["entry_threshold_dbm"] = DEFAULT_ENTRY_RSSI_DBM
    return result


def main(argv: list[str] | None = None) -> int:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench latency", description=__doc__)
    parser.add_argument("--arrivals", type=int, default=20)
    parser.add_argument("--spacing-s", type=float, default=4.0)
    parser.add_argument("--json", action="store_true", help="one JSON object instead of text")
    args = parser.parse_args(argv)
    result = run(args.arrivals, args.spacing_s)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>22}: {value}")
    return 0 if result["missed"] == 0 else 1
