"""`store-server`: migrate the database, seed the demo store, run the server."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

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
    return _run(settings)


def _migrate(settings: StoreSettings) -> int:
    from store_server.db import Database
    from store_server.migrate import upgrade

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
    from store_server.db import Database
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
    from store_server.realtime import socketio

    app = create_app(settings)
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
