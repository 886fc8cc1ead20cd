"""The issue's probes re-run against a running store server: 5xx answers to hostile requests,
cross-store attempts refused, wrong passwords accepted per minute.

Every operation of the server's own OpenAPI document is probed: each JSON body operation gets
hostile bodies (deep nesting, non-finite numbers, NUL characters, ids past 64 bits, a body that
is not JSON), each path id a value past its column, with and without a manager's token; every
`/stores/{store_id}/...` operation is tried on another store with the first store's manager
token. Without `--url` the bench starts its own server (the demo store, plus a second store
made with the operator's commands) and stops it afterwards.

    python -m bench probes [--url URL --store N --other-store M --email E --password P]
                           [--password-attempts 100] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from bench.stack import BIN, Stack

# Past a 64-bit column: the ids the issue found answered with 500.
HUGE_ID = str(2**64)
NESTING = 10_000
HOSTILE_BODIES: dict[str, bytes] = {
    "nested": ("[" * NESTING + "]" * NESTING).encode(),
    "nested_object": ('{"a":' * NESTING + "1" + "}" * NESTING).encode(),
    "infinity": b'{"value": Infinity, "id": Infinity, "rssi": -Infinity}',
    "nan": b'{"value": NaN, "minutes": NaN}',
    "nul": json.dumps({"email": "a\x00@b.c", "name": "\x00", "password": "\x00" * 12}).encode(),
    "huge_ids": json.dumps({"id": 2**64, "zone_id": 2**64, "store": 2**64}).encode(),
    "not_json": b"\xff\xfe not json",
    "array": b"[1, 2, 3]",
}
# Wrong-password attempts stop after this long whatever their number: the figure is per minute.
PASSWORD_WINDOW_S = 60.0
TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Target:
    """A running server and what the probes need from it."""

    url: str
    store_id: int
    other_store_id: int
    email: str  # a manager of `store_id`
    password: str


def operations(url: str, *, public: bool = True) -> list[tuple[str, str, bool]]:
    """(method, path template, takes a JSON body) of every operation the server documents
    (without those anyone may call, `security: []`, unless `public`)."""
    document = requests.get(f"{url}/api/v1/openapi.json", timeout=TIMEOUT_S).json()
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "delete", "patch"}:
                continue
            if public or operation.get("security") != []:
                found.append((method.upper(), path, "requestBody" in operation))
    return found


def fill(path: str, store_id: int, value: str = "1") -> str:
    """The path with `store_id` and every other parameter set to `value`."""
    path = path.replace("{store_id}", str(store_id))
    return re.sub(r"\{[^}]+\}", value, path)


def login(target: Target) -> str:
    """The manager's bearer token."""
    response = requests.post(
        f"{target.url}/api/v1/auth/login",
        json={"email": target.email, "password": target.password},
        timeout=TIMEOUT_S,
    )
    response.raise_for_status()
    token: str = response.json()["token"]
    return token


def hostile(target: Target, token: str) -> dict[str, Any]:
    """Send every hostile request; count the answers by status class, and list the 5xx."""
    session = requests.Session()
    statuses: Counter[str] = Counter()
    server_errors: list[str] = []
    sent = 0
    for method, template, has_body in operations(target.url):
        for auth in ({}, {"Authorization": f"Bearer {token}"}):
            attempts: list[tuple[str, bytes | None, str]] = [
                (fill(template, target.store_id, HUGE_ID), b"{}", "huge_path_id"),
                (fill(template, target.store_id, "-1"), b"{}", "negative_path_id"),
                (fill(template, target.store_id, "%00"), b"{}", "nul_path_id"),
            ]
            if has_body:
                path = fill(template, target.store_id)
                attempts += [(path, body, name) for name, body in HOSTILE_BODIES.items()]
            for path, body, name in attempts:
                headers = {**auth, "Content-Type": "application/json"}
                try:
                    response = session.request(
                        method, f"{target.url}{path}", data=body, headers=headers,
                        timeout=TIMEOUT_S,
                    )  # fmt: skip
                    status = response.status_code
                except requests.RequestException as exc:
                    status = 599
                    name += f" ({type(exc).__name__})"
                sent += 1
                statuses[f"{status // 100}xx"] += 1
                if status >= 500:
                    server_errors.append(f"{method} {template} {name}: {status}")
    return {"sent": sent, "by_class": dict(statuses), "5xx": server_errors}


def cross_store(target: Target, token: str) -> dict[str, Any]:
    """Every store-scoped operation on the other store with this store's manager token (public
    ones, such as a store's info page, left out)."""
    refused, crossed = 0, []
    for method, template, has_body in operations(target.url, public=False):
        if "{store_id}" not in template:
            continue
        response = requests.request(
            method,
            f"{target.url}{fill(template, target.other_store_id)}",
            json={} if has_body else None,
            headers={"Authorization": f"Bearer {token}"},
            timeout=TIMEOUT_S,
        )
        if response.status_code < 300:
            crossed.append(f"{method} {template}: {response.status_code}")
        else:
            refused += 1
    return {"attempts": refused + len(crossed), "refused": refused, "crossed": crossed}


def wrong_passwords(target: Target, attempts: int) -> dict[str, Any]:
    """Wrong passwords on the manager's account, as fast as one client goes, for at most a
    minute: how many were checked (answered 401) rather than refused (429)."""
    session = requests.Session()
    checked = refused = 0
    started = time.monotonic()
    for i in range(attempts):
        if time.monotonic() - started >= PASSWORD_WINDOW_S:
            break
        response = session.post(
            f"{target.url}/api/v1/auth/login",
            json={"email": target.email, "password": f"wrong-password-{i}"},
            timeout=TIMEOUT_S,
        )
        if response.status_code == 429:
            refused += 1
        elif response.status_code == 401:
            checked += 1
    elapsed = time.monotonic() - started
    return {
        "attempts": checked + refused,
        "checked": checked,
        "refused": refused,
        "seconds": round(elapsed, 1),
        "accepted_per_minute": round(checked * 60.0 / max(elapsed, PASSWORD_WINDOW_S), 1),
    }


def run(target: Target, password_attempts: int) -> dict[str, Any]:
    """All three probes against one server."""
    token = login(target)
    return {
        "hostile": hostile(target, token),
        "cross_store": cross_store(target, token),
        # Last: the account's log-in limit is spent afterwards.
        "wrong_passwords": wrong_passwords(target, password_attempts),
    }


def own_server(workdir: Path) -> tuple[Stack, Target]:
    """The demo store served on loopback, with a second store made by the operator's commands."""
    stack = Stack(workdir)
    stack.prepare_database()
    env = {**os.environ, **stack.server_env()}
    command = [str(BIN / "store-server"), "create-store", "--name", "Other", "--timezone", "UTC"]
    made = subprocess.run(  # noqa: S603 - our own console script
        [*command, "--currency", "GBP"], env=env, check=True, capture_output=True, text=True
    )
    other = int(re.findall(r"\d+", made.stdout)[0])
    stack.restart_server()
    manager = next(a for a in stack.seed["accounts"] if a["role"] == "manager")
    return stack, Target(stack.url, stack.seed["store_id"], other, **_login_of(manager))


def _login_of(account: dict[str, str]) -> dict[str, str]:
    return {"email": account["email"], "password": account["password"]}


def main(argv: list[str] | None = None) -> int:
    """Run the probes and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench probes")
    parser.add_argument("--url")
    parser.add_argument("--store", type=int)
    parser.add_argument("--other-store", type=int)
    parser.add_argument("--email")
    parser.add_argument("--password")
    parser.add_argument("--password-attempts", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        stack = None
        if args.url:
            target = Target(args.url, args.store, args.other_store, args.email, args.password)
        else:
            stack, target = own_server(Path(tmp))
        try:
            result = run(target, args.password_attempts)
        finally:
            if stack is not None:
                stack.stop()
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    hostile_result, cross, passwords = (
        result["hostile"], result["cross_store"], result["wrong_passwords"]
    )  # fmt: skip
    print(f"hostile requests: {hostile_result['sent']}, by class {hostile_result['by_class']}")
    print(f"  5xx: {len(hostile_result['5xx'])}")
    for line in hostile_result["5xx"][:20]:
        print(f"    {line}")
    print(f"cross-store attempts: {cross['attempts']}, refused {cross['refused']}")
    for line in cross["crossed"]:
        print(f"    crossed: {line}")
    print(
        f"wrong passwords: {passwords['attempts']} in {passwords['seconds']} s, "
        f"{passwords['checked']} checked, {passwords['refused']} refused (429): "
        f"{passwords['accepted_per_minute']} accepted per minute"
    )
    return 0
