"""`store-server`: migrate the database, seed the demo store, run the server."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from store_server.pickup.orders import CSV_COLUMNS
from store_server.settings import SettingsError, StoreSettings


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `store-server` command."""
    parser = argparse.ArgumentParser(prog="store-server", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="create or upgrade the database schema")
    seed = commands.add_parser("seed-demo", help="create the demo store in an empty database")
    seed.add_argument(
        "--out",
        type=Path,
        required=True,
        help="directory for seed.json (tokens, log-ins) and phones.json (sim keys)",
    )
    orders = commands.add_parser("import-orders", help="import pickup orders from a CSV file")
    orders.add_argument("--store", type=int, required=True, help="store id")
    orders.add_argument("file", type=Path, help="CSV: " + ", ".join(CSV_COLUMNS))
    token = commands.add_parser(
        "add-integration", help="register a store system (order system); prints its token once"
    )
    token.add_argument("--store", type=int, required=True, help="store id")
    token.add_argument("--name", required=True, help="what the system is, e.g. 'order system'")
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
        return _seed_demo(settings, args.out)
    if args.command == "import-orders":
        return _import_orders(settings, args.store, args.file)
    if args.command == "add-integration":
        return _add_integration(settings, args.store, args.name)
    return _run(settings)


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


def _seed_demo(settings: StoreSettings, out: Path) -> int:
    from store_server.db.database import Database
    from store_server.demo import seed_demo

    db = Database(settings.database_url)
    seed = seed_demo(db, time.time())
    db.dispose()
    out.mkdir(parents=True, exist_ok=True)
    for name, content in (("seed.json", seed.as_json()), ("phones.json", {"phones": seed.phones})):
        path = out / name
        path.write_text(json.dumps(content, indent=2))
        os.chmod(path, 0o600)  # holds demo secrets
    print(f"demo store {seed.store_id} seeded; secrets in {out}", flush=True)
    return 0


def _run(settings: StoreSettings) -> int:
    from store_server.app import create_app
    from store_server.web.realtime import socketio

    app = create_app(settings)
    if settings.run_scheduler:
        from store_server.sweep import start_scheduler
        from store_server.web.context import services

        start_scheduler(services(app))
    print(f"store server listening on http://{settings.host}:{settings.port}", flush=True)
    # Werkzeug serves the demo and the tests; docs/decisions.md says what production uses.
    socketio.run(
        app,
        host=settings.host,
        port=settings.port,
        allow_unsafe_werkzeug=True,
        use_reloader=False,
        log_output=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
