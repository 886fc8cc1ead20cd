"""`store-server`: migrate the database, set up stores, staff and gateways, run the server."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from sqlalchemy.orm import Session

from store_server.pickup.orders import CSV_COLUMNS
from store_server.problems import DomainError, Refusal
from store_server.settings import SettingsError, StoreSettings
from store_server.vocabulary import StaffRole


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line on stderr (status 2), not usage and a line."""

    def error(self, message: str) -> NoReturn:
        """Exit with status 2 and `store-server: <the problem>`."""
        self.exit(2, f"store-server: {message}\n")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `store-server` command."""
    parser = OneLineParser(prog="store-server", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="create or upgrade the database schema")
    seed = commands.add_parser("seed-demo", help="create the demo store in an empty database")
    seed.add_argument(
        "--out",
        type=Path,
        required=True,
        help="directory for seed.json (tokens, log-ins) and phones.json (sim keys)",
    )
    seed.add_argument(
        "--showcase",
        action="store_true",
        help="also an entry, a zone-dwell and a walk-by campaign and the passer-by (make demo)",
    )
    seed.add_argument(
        "--shopper-timezone",
        default="Europe/London",
        help="where the demo shoppers live (their quiet hours), e.g. Asia/Tokyo",
    )
    orders = commands.add_parser("import-orders", help="import pickup orders from a CSV file")
    orders.add_argument("--store", type=int, required=True, help="store id")
    orders.add_argument("file", type=Path, help="CSV: " + ", ".join(CSV_COLUMNS))
    token = commands.add_parser(
        "add-integration", help="register a store system (order system); prints its token once"
    )
    token.add_argument("--store", type=int, required=True, help="store id")
    token.add_argument("--name", required=True, help="what the system is, e.g. 'order system'")
    _add_setup_commands(commands)
    run = commands.add_parser("run", help="serve HTTP and Socket.IO")
    run.add_argument("--host", help="overrides STORE_HOST")
    run.add_argument("--port", type=int, help="overrides STORE_PORT")
    args = parser.parse_args(argv)

    try:
        overrides = {
            k: v
            for k, v in (
                ("host", getattr(args, "host", None)),
                ("port", getattr(args, "port", None)),
            )
            if v is not None
        }
        settings = StoreSettings.from_env(**overrides)
    except SettingsError as exc:
        print(f"store-server: {exc}", file=sys.stderr)
        return 2

    if args.command == "migrate":
        return _migrate(settings)
    if args.command == "seed-demo":
        return _seed_demo(settings, args.out, args.showcase, args.shopper_timezone)
    if args.command == "import-orders":
        return _import_orders(settings, args.store, args.file)
    if args.command == "add-integration":
        return _add_integration(settings, args.store, args.name)
    if args.command in SETUP_COMMANDS:
        return _set_up(settings, args)
    return _run(settings)


# The commands that set up a real store; each is one transaction that prints one line.
SETUP_COMMANDS = (
    "create-store",
    "add-staff",
    "set-staff-stores",
    "set-password",
    "deactivate-staff",
    "add-gateway",
    "rotate-gateway-token",
    "remove-gateway",
    "export-shopper",
    "erase-shopper",
)
HOW_PASSWORDS_ARE_READ = "the password is read from stdin, or asked for twice on a terminal"


def _add_setup_commands(commands: argparse._SubParsersAction[OneLineParser]) -> None:
    store = commands.add_parser("create-store", help="create a store; prints its id")
    store.add_argument("--name", required=True, help="what staff and shoppers call it")
    store.add_argument("--timezone", required=True, help="IANA time zone, e.g. Europe/London")
    store.add_argument("--currency", required=True, help="ISO 4217 code, e.g. GBP")
    store.add_argument("--locale", default="en", help="BCP 47 tag, e.g. en-GB (default en)")
    store.add_argument("--public-url", default="", help="https://... where shoppers reach it")
    store.add_argument(
        "--phone", default="", help="where shoppers reach a person, e.g. +44 20 7946 0000"
    )
    store.add_argument("--web-page", default="", help="https://... the store's page for shoppers")
    store.add_argument(
        "--chain", help="the chain it belongs to, created on first use (default: its own)"
    )

    staff = commands.add_parser(
        "add-staff",
        help=f"add a staff, manager or admin account; prints its id ({HOW_PASSWORDS_ARE_READ})",
    )
    staff.add_argument(
        "--store",
        type=_store_ids,
        action="extend",
        default=[],
        help="the stores a staffer or manager works at: repeat it or give a comma list (1,2)",
    )
    staff.add_argument("--chain", help="the chain an admin administers (every store of it)")
    staff.add_argument("--email", required=True, help="what they log in with")
    staff.add_argument("--name", required=True, help="what the tablet shows")
    staff.add_argument("--role", required=True, choices=[role.value for role in StaffRole])

    access = commands.add_parser(
        "set-staff-stores",
        help="give an account a role and the stores it works at (all of them, replacing its "
        "stores); its pages at a store taken away are disconnected",
    )
    access.add_argument("--email", required=True)
    access.add_argument("--role", required=True, choices=[role.value for role in StaffRole])
    access.add_argument(
        "--store",
        type=_store_ids,
        action="extend",
        default=[],
        help="the stores a staffer or manager works at (none for an admin): 1,2 or repeated",
    )
    password = commands.add_parser(
        "set-password",
        help=f"set an account's password, ending its sessions ({HOW_PASSWORDS_ARE_READ})",
    )
    password.add_argument("--email", required=True)
    deactivate = commands.add_parser(
        "deactivate-staff", help="stop an account logging in; its sessions end at once"
    )
    deactivate.add_argument("--email", required=True)
    for command in (access, password, deactivate):
        command.add_argument(
            "--chain", help="the account's chain, when the e-mail has accounts at several"
        )

    gateway = commands.add_parser("add-gateway", help="register a gateway; prints its token once")
    gateway.add_argument("--store", type=int, required=True, help="store id")
    gateway.add_argument("--id", required=True, help="the gateway's GATEWAY_ID, e.g. gw-door")
    gateway.add_argument("--zone", help="name of the zone it watches (default: none, the floor)")
    gateway.add_argument(
        "--rssi-offset-db", type=float, default=0.0, help="calibration added to its readings"
    )
    rotate = commands.add_parser(
        "rotate-gateway-token", help="give a gateway a new token (printed); the old one stops"
    )
    rotate.add_argument("--id", required=True)
    remove = commands.add_parser("remove-gateway", help="forget a gateway and its token")
    remove.add_argument("--id", required=True)
    for name, what in (
        ("export-shopper", "print everything kept about a shopper as JSON"),
        ("erase-shopper", "erase a shopper and everything that names her"),
    ):
        shopper = commands.add_parser(
            name, help=f"{what}, found by e-mail or phone within one chain"
        )
        within = shopper.add_mutually_exclusive_group(required=True)
        within.add_argument("--chain", help="her chain, by name")
        within.add_argument("--store", type=_store_id, help="a store of her chain, by id")
        found_by = shopper.add_mutually_exclusive_group(required=True)
        found_by.add_argument("--email", help="her e-mail address")
        found_by.add_argument("--phone", help="her phone number with the country code")


def _store_ids(text: str) -> list[int]:
    """`--store 1,2`: store ids, one or a comma list."""
    try:
        ids = [int(part) for part in text.split(",")]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"store ids are whole numbers, not {text!r}") from exc
    if not all(0 < store_id <= 2**31 - 1 for store_id in ids):
        raise argparse.ArgumentTypeError(f"store ids are positive, not {text!r}")
    return ids


def _store_id(text: str) -> int:
    """`--store 1`: one store id."""
    ids = _store_ids(text)
    if len(ids) != 1:
        raise argparse.ArgumentTypeError(f"one store id, not {text!r}")
    return ids[0]


def _set_up(settings: StoreSettings, args: argparse.Namespace) -> int:
    """Run one set-up command in one transaction; a refusal is one line on stderr, status 2."""
    from store_server.db.database import Database

    # The rooms of those whose access this command ends: their sockets are cut off.
    ended: list[str] = []
    try:
        change = _setup_change(args, ended)
    except DomainError as exc:
        print(f"store-server: {exc.message}", file=sys.stderr)
        return 2
    db = Database(settings.database_url)
    try:
        with db.transaction() as session:
            shown = change(session)
    except DomainError as exc:  # the transaction rolled back: nothing was written
        print(f"store-server: {exc.message}", file=sys.stderr)
        return 2
    finally:
        db.dispose()
    if ended and settings.socketio_message_queue:  # else no server to reach from here
        from store_server.web.realtime import end_room_everywhere

        for room in ended:
            end_room_everywhere(settings, room)
    print(shown, flush=True)  # only once committed: a printed token or id is real
    return 0


def _setup_change(args: argparse.Namespace, ended: list[str]) -> Callable[[Session], str]:
    """What the command does to the database, and the line it prints (the password read);
    adds to `ended` the Socket.IO rooms of those whose access it ends."""
    from store_server.accounts import staff, stores
    from store_server.layout import plan
    from store_server.presence import gateways
    from store_server.shoppers import data
    from store_server.web.realtime import shopper_room, staffer_room, staffer_store_room

    def chain_id(session: Session) -> int | None:
        return stores.chain_named(session, args.chain).id if args.chain is not None else None

    def shoppers_chain(session: Session) -> int:
        if args.store is not None:
            return stores.store_of(session, args.store).chain_id
        return stores.chain_named(session, args.chain).id

    command = args.command
    if command == "create-store":
        return lambda session: str(
            stores.create_store(
                session,
                args.name,
                args.timezone,
                args.currency,
                args.locale,
                args.public_url,
                args.phone,
                args.web_page,
                args.chain,
            ).id
        )
    if command == "add-staff":
        if args.role != StaffRole.ADMIN and args.chain is not None:
            raise DomainError(Refusal.INVALID, "invalid_chain", "chain: only for an admin")
        if args.role != StaffRole.ADMIN and not args.store:
            raise DomainError(Refusal.INVALID, "invalid_store", "store: give --store (ids)")
        if args.role == StaffRole.ADMIN and args.chain is None:
            raise DomainError(Refusal.INVALID, "invalid_chain", "chain: give --chain NAME")
        password = _read_password()

        def add(session: Session) -> str:
            chain = stores.chain_named(session, args.chain) if args.chain is not None else None
            return str(
                staff.add_staff(
                    session,
                    args.store,
                    args.email,
                    args.name,
                    args.role,
                    password,
                    chain_id=chain.id if chain is not None else None,
                ).id
            )

        return add
    if command == "set-staff-stores":

        def set_access(session: Session) -> str:
            user = staff.staff_by_email(session, args.email, chain_id(session))
            change = staff.change_access(session, user, args.role, args.store, None)
            if change.role_changed:
                ended.append(staffer_room(user.id))
            else:
                ended.extend(staffer_store_room(user.id, s) for s in change.removed_store_ids)
            shown = ",".join(str(store_id) for store_id in change.store_ids) or "every store"
            return f"{user.id} {user.role} at {shown}"

        return set_access
    if command in ("set-password", "deactivate-staff"):
        password = _read_password() if command == "set-password" else ""

        def revoke(session: Session) -> str:
            if command == "set-password":
                user = staff.set_password(session, args.email, password, chain_id(session))
            else:
                user = staff.deactivate_staff(session, args.email, chain_id(session))
            ended.append(staffer_room(user.id))
            return str(user.id)

        return revoke
    if command == "add-gateway":

        def add_gateway(session: Session) -> str:
            stores.store_of(session, args.store)
            zone_id = plan.zone_named(session, args.store, args.zone).id if args.zone else None
            _, token = plan.create_gateway(
                session, args.store, args.id, zone_id, args.rssi_offset_db
            )
            return token

        return add_gateway
    if command == "rotate-gateway-token":
        return lambda session: gateways.rotate_gateway_token(session, args.id)
    if command == "export-shopper":
        return lambda session: json.dumps(
            [
                data.shopper_export(session, shopper_id)
                for shopper_id in data.shoppers_by_contact(
                    session, shoppers_chain(session), args.email, args.phone
                )
            ],
            indent=2,
            default=str,
        )
    if command == "erase-shopper":

        def erase(session: Session) -> str:
            erased = data.shoppers_by_contact(
                session, shoppers_chain(session), args.email, args.phone
            )
            for shopper_id in erased:
                data.erase_shopper(session, shopper_id)
                ended.append(shopper_room(shopper_id))
            return "erased shopper " + ", ".join(str(i) for i in erased)

        return erase

    def remove_gateway(session: Session) -> str:
        gateways.remove_gateway(session, args.id)
        return f"gateway {args.id} removed"

    return remove_gateway


def _read_password() -> str:
    """The new password: the first line of stdin, or typed twice at a hidden prompt."""
    if not sys.stdin.isatty():
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
        if not password:
            raise DomainError(Refusal.INVALID, "invalid_password", "no password on stdin")
        return password
    password = getpass.getpass("new password: ")
    if getpass.getpass("the same again: ") != password:
        raise DomainError(Refusal.INVALID, "invalid_password", "the two passwords differ")
    return password


def _import_orders(settings: StoreSettings, store_id: int, path: Path) -> int:
    from store_server.db.database import Database
    from store_server.db.models import Store
    from store_server.pickup.orders import describe, import_orders_csv

    db = Database(settings.database_url)
    try:
        with db.transaction() as session, path.open(newline="", encoding="utf-8") as stream:
            if session.get(Store, store_id) is None:
                print(f"store-server: no store {store_id}", file=sys.stderr)
                return 2
            result = import_orders_csv(
                session, store_id, stream, time.time(), settings.claim_link_valid_s
            )
            for line in describe(result):
                print(line, file=sys.stderr if result.errors else sys.stdout)
            if result.errors:  # nothing was written: the import is all or nothing
                return 1
    except OSError as exc:
        print(f"store-server: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
    finally:
        db.dispose()
    return 0


def _add_integration(settings: StoreSettings, store_id: int, name: str) -> int:
    import secrets

    from store_server.accounts.auth import token_digest
    from store_server.db.database import Database
    from store_server.db.models import IntegrationToken, Store

    db = Database(settings.database_url)
    token = secrets.token_urlsafe(32)
    with db.transaction() as session:
        if session.get(Store, store_id) is None:
            print(f"store-server: no store {store_id}", file=sys.stderr)
            return 2
        session.add(
            IntegrationToken(
                token_sha256=token_digest(token),
                store_id=store_id,
                name=name,
                created_at=time.time(),
            )
        )
    db.dispose()
    print(token)
    return 0


def _migrate(settings: StoreSettings) -> int:
    from store_server.db.database import Database
    from store_server.db.migrate import upgrade

    if settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    db = Database(settings.database_url)
    upgrade(db.engine)
    db.dispose()
    print("database migrated", flush=True)
    return 0


def _seed_demo(settings: StoreSettings, out: Path, showcase: bool, shopper_timezone: str) -> int:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from store_server.db.database import Database
    from store_server.demo import seed_demo

    try:
        ZoneInfo(shopper_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        print(f"store-server: unknown time zone {shopper_timezone!r}", file=sys.stderr)
        return 2
    db = Database(settings.database_url)
    seed = seed_demo(db, time.time(), showcase=showcase, shopper_timezone=shopper_timezone)
    db.dispose()
    out.mkdir(parents=True, exist_ok=True)
    for name, content in (("seed.json", seed.as_json()), ("phones.json", {"phones": seed.phones})):
        path = out / name
        path.write_text(json.dumps(content, indent=2))
        os.chmod(path, 0o600)  # holds demo secrets
    print(f"demo store {seed.store_id} seeded; secrets in {out}", flush=True)
    return 0


def _run(settings: StoreSettings) -> int:
    from store_server.cluster import check_message_queue
    from store_server.serving import serve

    if settings.socketio_message_queue:
        try:  # before any worker starts: a queue that does not answer is a refused start
            check_message_queue(settings.socketio_message_queue)
        except SettingsError as exc:
            print(f"store-server: {exc}", file=sys.stderr)
            return 2
    serve(settings)  # says "store server listening on ..." once the port is its own
    return 0


if __name__ == "__main__":
    sys.exit(main())
