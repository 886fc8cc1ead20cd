"""The issue's probes re-run against a running store server: 5xx answers to hostile requests,
cross-store attempts refused, wrong passwords accepted per minute.

Every operation of the server's own OpenAPI document is probed: each JSON body operation gets
hostile bodies (deep nesting, non-finite numbers, NUL characters, ids past 64 bits, a body that
is not JSON), each path id a value past its column, with and without a manager's token; every
`/stores/{store_id}/...` operation is tried on another store with the first store's manager
token. The newer endpoints get probes of their own, with valid bodies carrying the other
chain's ids, out-of-range ids, NUL, deep JSON and non-finite numbers: a staffer's access
(`PUT .../staff/{staff_id}/access`), log-in with `chain_id`, and a shopper's sightings with
`app_state` and `region` (a shopper joined for the purpose). Without `--url` the bench starts
its own server (the demo store, plus a second store of its own chain with a manager of the same
e-mail, made with the operator's commands) and stops it afterwards; with `--postgres URL` on a
fresh database of that server, dropped after.

    python -m bench probes [--url URL --store N --other-store M --email E --password P]
                           [--postgres URL] [--password-attempts 100] [--json]
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

from bench.redemption import database
from bench.stack import BIN, Stack
from store_server.db.database import Database
from store_server.db.models import StaffUser, Store

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
    # The other store's chain and a manager there with the same e-mail (another password):
    # known only for the bench's own server, else the cross-chain probes are left out.
    other_chain: OtherChain | None = None


@dataclass(frozen=True)
class OtherChain:
    """What the cross-chain probes aim at: the first store's chain, and the other store's
    chain, manager (same e-mail) and her password."""

    chain_id: int
    other_chain_id: int
    other_staff_id: int
    other_password: str


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
        # Logging out with the manager's token would end it for the probes after it.
        bearer = {"Authorization": f"Bearer {token}"}
        bearers = [{}] if template.endswith("/logout") else [{}, bearer]
        for auth in bearers:
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
    _still_valid(target, token)
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
    _still_valid(target, token)  # else every refusal above was a 401 for a dead token
    return {"attempts": refused + len(crossed), "refused": refused, "crossed": crossed}


def _still_valid(target: Target, token: str) -> None:
    staff = f"{target.url}/api/v1/stores/{target.store_id}/staff"
    headers = {"Authorization": f"Bearer {token}"}
    if requests.get(staff, headers=headers, timeout=TIMEOUT_S).status_code != 200:
        raise RuntimeError("the manager's token stopped working: the probes would not count")


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


def _raw(value: str) -> bytes:
    return value.encode()


def targeted(target: Target, token: str) -> dict[str, Any]:
    """The newer endpoints with hostile values inside otherwise valid bodies: 5xx answers, and
    cross-chain attempts that were not refused."""
    session = requests.Session()
    url = target.url
    manager = {"Authorization": f"Bearer {token}"}
    staff_path = f"/api/v1/stores/{target.store_id}/staff"
    accounts = session.get(f"{url}{staff_path}", headers=manager, timeout=TIMEOUT_S).json()
    staff_id = next(a["id"] for a in accounts["staff"] if a["role"] == "staff")
    access = f"{staff_path}/{staff_id}/access"
    deep = "[" * NESTING + "]" * NESTING
    # (name, method, path, headers, raw body, must be refused: a 2xx would cross)
    probes: list[tuple[str, str, str, dict[str, str], bytes, bool]] = [
        ("access other store", "PUT", access, manager,
         _raw(f'{{"role": "staff", "store_ids": [{target.other_store_id}]}}'), True),
        ("access huge store id", "PUT", access, manager,
         _raw(f'{{"role": "staff", "store_ids": [{2**64}]}}'), True),
        ("access negative store id", "PUT", access, manager,
         _raw('{"role": "staff", "store_ids": [-1]}'), True),
        ("access float store id", "PUT", access, manager,
         _raw('{"role": "staff", "store_ids": [1e400]}'), True),
        ("access Infinity store id", "PUT", access, manager,
         _raw('{"role": "staff", "store_ids": [Infinity]}'), True),
        ("access NUL role", "PUT", access, manager,
         _raw('{"role": "staff\u0000", "store_ids": []}'), True),
        ("access admin by manager", "PUT", access, manager,
         _raw('{"role": "admin", "store_ids": []}'), True),
        ("access deep store ids", "PUT", access, manager,
         _raw(f'{{"role": "staff", "store_ids": {deep}}}'), True),
        ("access huge staff id", "PUT", f"{staff_path}/{2**64}/access", manager,
         _raw('{"role": "staff", "store_ids": []}'), True),
        ("login huge chain", "POST", "/api/v1/auth/login", {},
         _raw(json.dumps({"email": target.email, "password": target.password})[:-1]
              + f', "chain_id": {2**64}}}'), True),
        ("login chain Infinity", "POST", "/api/v1/auth/login", {},
         _raw(json.dumps({"email": target.email, "password": target.password})[:-1]
              + ', "chain_id": Infinity}'), True),
        ("login chain 1e400", "POST", "/api/v1/auth/login", {},
         _raw(json.dumps({"email": target.email, "password": target.password})[:-1]
              + ', "chain_id": 1e400}'), True),
        ("login chain NUL", "POST", "/api/v1/auth/login", {},
         _raw(json.dumps({"email": target.email, "password": target.password,
                          "chain_id": "1\x00"})), True),
        ("login chain deep", "POST", "/api/v1/auth/login", {},
         _raw(json.dumps({"email": target.email, "password": target.password})[:-1]
              + f', "chain_id": {deep}}}'), True),
    ]  # fmt: skip
    chain = target.other_chain
    if chain is not None:
        other_access = f"{staff_path}/{chain.other_staff_id}/access"
        probes += [
            ("access other chain's staffer", "PUT", other_access, manager,
             _raw(f'{{"role": "staff", "store_ids": [{target.store_id}]}}'), True),
            ("login my password at other chain", "POST", "/api/v1/auth/login", {},
             _raw(json.dumps({"email": target.email, "password": target.password,
                              "chain_id": chain.other_chain_id})), True),
            ("login other password at my chain", "POST", "/api/v1/auth/login", {},
             _raw(json.dumps({"email": target.email, "password": chain.other_password,
                              "chain_id": chain.chain_id})), True),
        ]  # fmt: skip
    shopper = _shopper_token(session, target)
    if shopper is not None:
        me = {"Authorization": f"Bearer {shopper}"}
        now = time.time()
        beacon = '{"beacon": "probe-beacon", "rssi": -60, "seen_at": %s}'
        region = '{"event": "enter", "at": %s}'

        def sightings(
            store: object, *, seen: str = str(now), at: str = str(now), state: str = '"background"'
        ) -> bytes:
            return _raw(
                f'{{"store_id": {store}, "sightings": [{beacon % seen}], '
                f'"app_state": {state}, "region": {region % at}}}'
            )  # fmt: skip

        path = "/api/v1/me/sightings"
        probes += [
            ("sightings other store", "POST", path, me, sightings(target.other_store_id), True),
            ("sightings huge store", "POST", path, me, sightings(2**64), True),
            ("sightings store Infinity", "POST", path, me, sightings("Infinity"), True),
            ("sightings region at Infinity", "POST", path, me,
             sightings(target.store_id, at="Infinity"), True),
            ("sightings region at 1e400", "POST", path, me,
             sightings(target.store_id, at="1e400"), True),
            ("sightings region at 1e300", "POST", path, me,
             sightings(target.store_id, at="1e300"), False),
            ("sightings seen at 1e300", "POST", path, me,
             sightings(target.store_id, seen="1e300"), False),
            ("sightings region at NaN", "POST", path, me,
             sightings(target.store_id, at="NaN"), True),
            ("sightings app_state NUL", "POST", path, me,
             sightings(target.store_id, state='"back\u0000ground"'), True),
            ("sightings app_state deep", "POST", path, me,
             sightings(target.store_id, state=deep), True),
            ("sightings region deep", "POST", path, me,
             _raw(f'{{"store_id": {target.store_id}, "region": {deep}}}'), True),
            ("sightings region NUL event", "POST", path, me,
             _raw(f'{{"store_id": {target.store_id}, '
                  f'"region": {{"event": "enter\u0000", "at": {now}}}}}'), True),
            ("sightings no auth", "POST", path, {}, sightings(target.store_id), True),
        ]  # fmt: skip
    server_errors: list[str] = []
    crossed: list[str] = []
    for name, method, path, headers, body, must_refuse in probes:
        try:
            status = session.request(
                method, f"{url}{path}", data=body,
                headers={**headers, "Content-Type": "application/json"}, timeout=TIMEOUT_S,
            ).status_code  # fmt: skip
        except requests.RequestException as exc:
            status = 599
            name += f" ({type(exc).__name__})"
        if status >= 500:
            server_errors.append(f"{name}: {status}")
        elif must_refuse and status < 400:
            crossed.append(f"{name}: {status}")
    return {"sent": len(probes), "5xx": server_errors, "not_refused": crossed}


def _shopper_token(session: requests.Session, target: Target) -> str | None:
    """A shopper's device token, joined at the first store for the sightings probes (None if
    the server refuses: its opt-in limit)."""
    response = session.post(
        f"{target.url}/api/v1/optin",
        json={
            "store_id": target.store_id,
            "first_name": "Probe",
            "consents": [{"purpose": "arrival", "channel": "app"}],
        },
        timeout=TIMEOUT_S,
    )
    if response.status_code != 201:
        return None
    token: str = response.json()["device_token"]
    return token


def run(target: Target, password_attempts: int) -> dict[str, Any]:
    """All the probes against one server."""
    token = login(target)
    return {
        "hostile": hostile(target, token),
        "targeted": targeted(target, token),
        "cross_store": cross_store(target, token),
        # Last: the account's log-in limit is spent afterwards.
        "wrong_passwords": wrong_passwords(target, password_attempts),
    }


OTHER_PASSWORD = "another-chain-password"  # noqa: S105 - the bench's own throwaway account


def own_server(workdir: Path, database_url: str | None) -> tuple[Stack, Target]:
    """The demo store served on loopback, with a second store of its own chain and a manager
    there of the same e-mail as the demo's manager, made by the operator's commands."""
    stack = Stack(workdir)
    if database_url is not None:
        stack.database_url = database_url
    stack.prepare_database()
    env = {**os.environ, **stack.server_env()}
    manager = next(a for a in stack.seed["accounts"] if a["role"] == "manager")
    command = [str(BIN / "store-server"), "create-store", "--name", "Other", "--timezone", "UTC"]
    made = subprocess.run(  # noqa: S603 - our own console script
        [*command, "--currency", "GBP"], env=env, check=True, capture_output=True, text=True
    )
    other = int(re.findall(r"\d+", made.stdout)[0])
    add = [str(BIN / "store-server"), "add-staff", "--store", str(other), "--role", "manager"]
    added = subprocess.run(  # noqa: S603 - our own console script
        [*add, "--email", manager["email"], "--name", "Other manager"],
        env=env, input=f"{OTHER_PASSWORD}\n", check=True, capture_output=True, text=True,
    )  # fmt: skip
    other_staff = int(re.findall(r"\d+", added.stdout)[0])
    db = Database(stack.database_url)
    with db.transaction() as session:
        chain = session.get(Store, stack.seed["store_id"])
        other_store = session.get(Store, other)
        assert chain is not None and other_store is not None  # noqa: S101 - just made
        assert session.get(StaffUser, other_staff) is not None  # noqa: S101 - just made
        chains = OtherChain(chain.chain_id, other_store.chain_id, other_staff, OTHER_PASSWORD)
    db.dispose()
    stack.restart_server()
    target = Target(
        stack.url, stack.seed["store_id"], other, manager["email"], manager["password"], chains
    )
    return stack, target


def main(argv: list[str] | None = None) -> int:
    """Run the probes and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench probes")
    parser.add_argument("--url")
    parser.add_argument("--store", type=int)
    parser.add_argument("--other-store", type=int)
    parser.add_argument("--email")
    parser.add_argument("--password")
    parser.add_argument("--postgres", help="run the bench's own server on PostgreSQL")
    parser.add_argument("--password-attempts", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory() as tmp,
        database(Path(tmp), args.postgres) as database_url,
    ):
        stack = None
        if args.url:
            target = Target(args.url, args.store, args.other_store, args.email, args.password)
        else:
            stack, target = own_server(Path(tmp), database_url)
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
    aimed = result["targeted"]
    print(
        f"targeted (access, log-in chain, sightings): {aimed['sent']}, "
        f"5xx {len(aimed['5xx'])}, not refused {len(aimed['not_refused'])}"
    )
    for line in aimed["5xx"] + aimed["not_refused"]:
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
