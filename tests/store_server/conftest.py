"""Store server fixtures: a migrated database (SQLite, or PostgreSQL via one setting) and the app.

Set STORE_TEST_DATABASE_URL=postgresql+psycopg://127.0.0.1/test to run the whole server suite on
PostgreSQL: each test then gets a database of its own, created and dropped on that server.

The migrations run once per session, into a template; each test's database is a copy of it (a
file copy on SQLite, `CREATE DATABASE ... TEMPLATE` on PostgreSQL), seeded by the test itself.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from flask_socketio import SocketIOTestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from store_server.app import create_app
from store_server.db.database import Database
from store_server.db.migrate import upgrade
from store_server.demo import DemoSeed, seed_demo
from store_server.presence.identity import eddystone_eid
from store_server.settings import StoreSettings
from store_server.web.context import services
from store_server.web.realtime import socketio
from tests.support.seeding import add_other_store


def fresh_postgres_database(
    admin_url: str, template: str | None = None
) -> Generator[str, None, None]:
    """Create a database on the server of `admin_url` (empty, or a copy of `template`), yield
    its URL, then drop it."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        copy = f' TEMPLATE "{template}"' if template else ""
        conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def database_url(tmp_path: Any) -> Iterator[str]:
    """An empty database: SQLite in tmp_path, or PostgreSQL when STORE_TEST_DATABASE_URL is set."""
    admin_url = os.environ.get("STORE_TEST_DATABASE_URL")
    if admin_url:
        yield from fresh_postgres_database(admin_url)
    else:
        yield f"sqlite:///{tmp_path / 'store.db'}"


class SettableClock:
    """The server's one clock in tests: real time until a test sets `now` to something else."""

    def __init__(self) -> None:
        self.now: Callable[[], float] = time.time

    def __call__(self) -> float:
        return self.now()


@dataclass(frozen=True)
class MigratedTemplate:
    """A database migrated to head once per session, which each test gets a copy of."""

    postgres_admin_url: str | None
    postgres_name: str
    sqlite_file: Path | None

    def copy(self, tmp_path: Path) -> Iterator[str]:
        """A private copy of the template; yields its URL (and drops it on PostgreSQL)."""
        if self.postgres_admin_url:
            yield from fresh_postgres_database(self.postgres_admin_url, self.postgres_name)
            return
        assert self.sqlite_file is not None
        target = tmp_path / "store.db"
        shutil.copyfile(self.sqlite_file, target)
        yield f"sqlite:///{target}"


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MigratedTemplate]:
    """Run the Alembic migrations once per session, not once per test.

    Only the schema is shared: each test still seeds its own stores, at its own time, with its
    own secrets. SQLite: the template is checkpointed and closed (no -wal file left) before any
    copy. PostgreSQL: `CREATE DATABASE ... TEMPLATE` needs the template to have no connection,
    so its engine is disposed before the first test.
    """
    admin_url = os.environ.get("STORE_TEST_DATABASE_URL")
    if admin_url:
        template = fresh_postgres_database(admin_url)
        url = next(template)
        try:
            _migrate(url)
            yield MigratedTemplate(admin_url, make_url(url).database or "", None)
        finally:
            template.close()  # drops it
        return
    path = tmp_path_factory.mktemp("template") / "store.db"
    _migrate(f"sqlite:///{path}")
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0, "the template's WAL was not checkpointed"
    yield MigratedTemplate(None, "", path)


def _migrate(url: str) -> None:
    db = Database(url)
    try:
        upgrade(db.engine)
        if url.startswith("sqlite"):
            with db.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.dispose()


@pytest.fixture
def migrated_database_url(migrated_template: MigratedTemplate, tmp_path: Path) -> Iterator[str]:
    """A database migrated to head and empty of rows (a copy of the session's template)."""
    yield from migrated_template.copy(tmp_path)


@dataclass
class World:
    """The migrated, seeded demo store plus a second store, and handles to reach them."""

    app: Flask
    db: Database
    seed: DemoSeed
    other_store_id: int
    other_staff_password: str
    clock: SettableClock
    pages: list[SocketIOTestClient] = field(default_factory=list)

    def client(self) -> FlaskClient:
        """A fresh HTTP test client."""
        return self.app.test_client()

    def open_page(self, person: str) -> SocketIOTestClient:
        """The person's shopper page, connected over Socket.IO (in-app messages reach it)."""
        page = socketio.test_client(
            self.app, auth={"device_token": self.seed.device_tokens[person]}
        )
        assert page.is_connected()
        self.pages.append(page)
        return page

    def phone_key(self, person: str) -> bytes:
        """The identity key the demo issued to a scenario person's phone."""
        return next(
            bytes.fromhex(p["identity_key"]) for p in self.seed.phones if p["person"] == person
        )

    def eid_hex(self, person: str, at: float) -> str:
        """The EID that person's phone advertises at time `at`."""
        return eddystone_eid(self.phone_key(person), 10, int(at)).hex()

    def password(self, email: str) -> str:
        """A demo account's password."""
        return next(a["password"] for a in self.seed.accounts if a["email"] == email)

    def login(self, email: str = "sam@demo.store", password: str | None = None) -> dict[str, Any]:
        """Log in and return the JSON answer (token and staff)."""
        if password is None:
            password = self.password(email) if "demo.store" in email else self.other_staff_password
        response = self.client().post(
            "/api/v1/auth/login", json={"email": email, "password": password}
        )
        assert response.status_code == 200, response.get_json()
        return cast(dict[str, Any], response.get_json())

    def staff_headers(self, email: str = "sam@demo.store") -> dict[str, str]:
        """Authorization headers of a freshly logged-in staffer."""
        return {"Authorization": f"Bearer {self.login(email)['token']}"}

    def device_headers(self, person: str) -> dict[str, str]:
        """Authorization headers of a demo shopper's app."""
        return {"Authorization": f"Bearer {self.seed.device_tokens[person]}"}

    def arrive(self, person: str = "maria", at: float | None = None) -> list[dict[str, Any]]:
        """The person is heard strongly at the entrance; returns the store's open arrivals."""
        at = time.time() if at is None else at
        # Two adverts a second apart in the doorway: enough for any entry rule fusion has had.
        response = self.upload(
            "gw-entrance",
            [
                observation(self.eid_hex(person, at - 1.0), -55, at - 1.0),
                observation(self.eid_hex(person, at), -55, at),
            ],
        )
        assert response.status_code == 202, response.get_json()
        arrivals = self.client().get(
            f"/api/v1/stores/{self.seed.store_id}/arrivals", headers=self.staff_headers()
        )
        result: list[dict[str, Any]] = arrivals.get_json()["arrivals"]
        return result

    def upload(
        self,
        gateway_id: str,
        observations: list[dict[str, Any]],
        batch_id: str | None = None,
        token: str | None = None,
    ) -> Any:
        """POST a batch as a gateway; returns the test response."""
        token = token if token is not None else self.seed.gateway_tokens.get(gateway_id, "none")
        body = {
            "batch_id": batch_id or uuid.uuid4().hex,
            "sent_at": time.time(),
            "observations": observations,
        }
        return self.client().post(
            f"/api/v1/gateways/{gateway_id}/batches",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )


def observation(eid_hex: str, rssi: int, seen_at: float) -> dict[str, Any]:
    """One observation in the wire shape of docs/protocol.md."""
    return {
        "seen_at": seen_at,
        "rssi": rssi,
        "frame": {"kind": "eddystone_eid", "eid": eid_hex, "tx_power": -20},
    }


@pytest.fixture
def world(migrated_database_url: str, tmp_path: Path) -> Iterator[World]:
    """A migrated database with the demo store and a second store with its own staffer."""
    settings = StoreSettings(
        database_url=migrated_database_url, secret_key="test-secret", var_dir=str(tmp_path / "var")
    )
    db = Database(migrated_database_url)
    seed = seed_demo(db, time.time())
    other = add_other_store(db)
    clock = SettableClock()
    app = create_app(settings, clock)
    world = World(app, services(app).db, seed, other.store_id, other.staff_password, clock)
    yield world
    for page in world.pages:
        if page.is_connected():
            page.disconnect()
    services(app).publisher.stop()
    services(app).outbound.stop()
    services(app).db.dispose()
    db.dispose()


@pytest.fixture
def http_session() -> Iterator[requests.Session]:
    """A requests session for loopback peers, which a proxy from the environment must not
    intercept."""
    with requests.Session() as session:
        session.trust_env = False
        yield session
