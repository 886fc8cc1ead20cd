"""Store server fixtures: a migrated database (SQLite, and PostgreSQL via one setting) and the app.

Every test that takes a database runs on SQLite and, when STORE_TEST_DATABASE_URL names a
PostgreSQL server (`.ci/run` sets postgresql+psycopg://postgres@127.0.0.1:5432/test), once more
on PostgreSQL: its id ends in `[sqlite]` or `[postgresql]`. On PostgreSQL each test gets a
database of its own, created and dropped on that server, under a random name (safe in parallel
processes).

The migrations run once per session, into a template; each test's database is a copy of it (a
file copy on SQLite, `CREATE DATABASE ... TEMPLATE` on PostgreSQL), seeded by the test itself.
"""

from __future__ import annotations

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
from sqlalchemy import MetaData, Table, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from store_server.app import create_app
from store_server.db.database import Database
from store_server.db.migrate import upgrade
from store_server.demo import DemoSeed, seed_demo
from store_server.presence.identity import eddystone_eid
from store_server.settings import StoreSettings
from store_server.web.context import services
from store_server.web.realtime import socketio
from tests.support.seeding import add_other_store
from tests.support.services import postgres_url


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


# PostgreSQL joins the parameters only when a server is named, so a plain `pytest` on a machine
# without one collects no test it cannot run (and CI, which names one, skips nothing).
DATABASE_ENGINES = ["sqlite", "postgresql"] if postgres_url() else ["sqlite"]


@pytest.fixture(scope="session", params=DATABASE_ENGINES)
def database_engine(request: pytest.FixtureRequest) -> str:
    """The database engine of this run of the test: "sqlite" or "postgresql"."""
    engine: str = request.param
    return engine


@pytest.fixture
def database_url(database_engine: str, tmp_path: Any) -> Iterator[str]:
    """An empty database: SQLite in tmp_path, or a fresh PostgreSQL database."""
    admin_url = postgres_url()
    if database_engine == "postgresql" and admin_url:
        yield from fresh_postgres_database(admin_url)
    else:
        yield f"sqlite:///{tmp_path / 'store.db'}"


class SettableClock:
    """The server's one clock in tests: real time until a test sets `now` to something else."""

    def __init__(self) -> None:
        self.now: Callable[[], float] = time.time

    def __call__(self) -> float:
        return self.now()


class PostgresCopies:
    """Each test's PostgreSQL database: one copy of the session's template, put back into the
    template's state between tests.

    `DROP DATABASE` waits for a checkpoint of the whole server, 2 to 3 s on a busy shared
    machine (measured: more than the tests themselves), so copies are not dropped per test.
    Instead the copy's tables are emptied, its sequences restarted and the rows the migrations
    made put back (about 0.1 s). A test that changed the schema itself (a
    downgrade) gets a fresh `CREATE DATABASE ... TEMPLATE` copy; every copy is dropped at the
    end of the session.
    """

    def __init__(self, admin_url: str, template: str) -> None:
        self._admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self._admin_url = admin_url
        self._template = template
        self._made: list[str] = []
        self._current: str | None = None
        template_engine = create_engine(self._url_of(template), poolclass=NullPool)
        metadata = MetaData()
        try:
            with template_engine.connect() as conn:
                self._revision = conn.execute(
                    text("SELECT version_num FROM alembic_version")
                ).scalar()
                tables = [
                    Table(name, metadata, autoload_with=conn)
                    for name in conn.execute(
                        text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                    ).scalars()
                    if name != "alembic_version"
                ]
                # The rows the migrations made (the sweep's lease), put back after each test.
                self._rows = [
                    (table, [dict(row) for row in conn.execute(select(table)).mappings()])
                    for table in tables
                ]
                # Where each sequence stood, so a template holding rows (test_cli's set-up
                # store) hands out fresh ids after a reset, never those of its rows.
                self._sequences = [
                    (name, int(last or 1), last is not None)
                    for name, last in conn.execute(
                        text(
                            "SELECT sequencename, last_value FROM pg_sequences "
                            "WHERE schemaname = 'public'"
                        )
                    ).all()
                ]
        finally:
            template_engine.dispose()
        self._tables = tables
        self._rows = [(table, rows) for table, rows in self._rows if rows]

    def take(self) -> str:
        """The URL of a database in the template's state."""
        if self._current is None or not self._reset(self._current):
            self._current = self._create()
        return self._url_of(self._current)

    def close(self) -> None:
        """Drop every copy made."""
        with self._admin.connect() as conn:
            for name in self._made:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._admin.dispose()

    def _url_of(self, name: str) -> str:
        # A test's commits need not wait for the disk (a crash loses only a test database);
        # a setting of this connection only, the shared server is left as it is.
        url = make_url(self._admin_url).set(database=name)
        url = url.update_query_dict({"options": "-c synchronous_commit=off"})
        return url.render_as_string(hide_password=False)

    def _create(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with self._admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"'))
        self._made.append(name)
        return name

    def _reset(self, name: str) -> bool:
        """Put the copy back into the template's state; False if its schema changed."""
        with self._admin.connect() as conn:  # connections a test left open would block
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
        engine = create_engine(self._url_of(name), poolclass=NullPool)
        try:
            with engine.begin() as conn:
                revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                if revision != self._revision:
                    return False
                # DELETE, not TRUNCATE: a test leaves a few rows, and TRUNCATE makes new files
                # for every table and index (0.5 s against 0.07 s). Foreign keys are not
                # checked meanwhile (this transaction only), so the order does not matter.
                conn.execute(text("SET LOCAL session_replication_role = replica"))
                for table in self._tables:
                    conn.execute(table.delete())
                for sequence, value, called in self._sequences:
                    conn.execute(
                        text("SELECT setval(:name, :value, :called)"),
                        {"name": sequence, "value": value, "called": called},
                    )
                for table, rows in self._rows:
                    conn.execute(table.insert(), rows)
            return True
        except SQLAlchemyError:
            return False
        finally:
            engine.dispose()


@dataclass(frozen=True)
class MigratedTemplate:
    """A database migrated to head once per session, which each test gets a copy of."""

    postgres: PostgresCopies | None
    sqlite_file: Path | None

    def copy(self, tmp_path: Path) -> Iterator[str]:
        """A private copy of the template; yields its URL."""
        if self.postgres is not None:
            yield self.postgres.take()
            return
        assert self.sqlite_file is not None
        target = tmp_path / "store.db"
        shutil.copyfile(self.sqlite_file, target)
        yield f"sqlite:///{target}"


@pytest.fixture(scope="session")
def migrated_template(
    database_engine: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MigratedTemplate]:
    """Run the Alembic migrations once per session, not once per test.

    Only the schema is shared: each test still seeds its own stores, at its own time, with its
    own secrets. SQLite: the template is checkpointed and closed (no -wal file left) before any
    copy. PostgreSQL: `CREATE DATABASE ... TEMPLATE` needs the template to have no connection,
    so its engine is disposed before the first test.
    """
    admin_url = postgres_url()
    if database_engine == "postgresql" and admin_url:
        template = fresh_postgres_database(admin_url)
        url = next(template)
        try:
            _migrate(url)
            copies = PostgresCopies(admin_url, make_url(url).database or "")
            try:
                yield MigratedTemplate(copies, None)
            finally:
                copies.close()
        finally:
            template.close()  # drops it
        return
    path = tmp_path_factory.mktemp("template") / "store.db"
    _migrate(f"sqlite:///{path}")
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0, "the template's WAL was not checkpointed"
    yield MigratedTemplate(None, path)


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
    logins: int = 0

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
        # Each log-in comes from an address of its own (198.18.0.0/15, for tests): a test
        # logging in tablet after tablet is not an address trying too many log-ins.
        self.logins += 1
        address = f"198.18.{self.logins // 256 % 256}.{self.logins % 256}"
        response = self.client().post(
            "/api/v1/auth/login",
            json={"email": email, "password": password},
            environ_base={"REMOTE_ADDR": address},
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
