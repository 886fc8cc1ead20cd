"""`store-server`'s set-up commands on a migrated database (SQLite, and PostgreSQL when the
tests name a server).

Each test takes a copy of a database migrated with `store-server migrate` and set up the way an
operator would, and checks through the API (in-process, on the same file) that what the commands
made works: the password logs in, the printed token uploads a batch. The commands run in this
process (`main` with the environment, stdin, stdout and stderr a process would have): a process
start costs about a second of CPU, spent several times per test on two databases. The tests
about the process itself (the console script's exit status and pipes, a terminal's prompt) run
the real `store-server` script.
"""

from __future__ import annotations

import io
import os
import pty
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from select import select as wait_for_input
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from store_server.app import create_app
from store_server.cli import main
from store_server.db.database import Database
from store_server.db.models import Base, Gateway, StaffSession, StaffUser, Store
from store_server.settings import StoreSettings
from store_server.web.context import services
from tests.store_server.conftest import PostgresCopies, fresh_postgres_database
from tests.support.services import postgres_url

REPO = Path(__file__).resolve().parents[2]
STORE_SERVER = Path(sys.executable).with_name("store-server")
MANAGER_PASSWORD = "correct horse battery"
STAFF_PASSWORD = "staple-tablet-42"


@dataclass(frozen=True)
class Cli:
    """The console script pointed at one database file."""

    database_url: str

    def run(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """`store-server ARGS` in this process, as the console script runs it: the
        environment's STORE_ variables only the database's, `stdin` piped in (never a
        terminal), stdout and stderr captured, the status `main` returns or exits with."""
        out, err = io.StringIO(), io.StringIO()
        with pytest.MonkeyPatch.context() as patch, redirect_stdout(out), redirect_stderr(err):
            for name in list(os.environ):
                if name.startswith("STORE_"):
                    patch.delenv(name)
            patch.setenv("STORE_DATABASE_URL", self.database_url)
            patch.setattr(sys, "stdin", io.StringIO(stdin))
            try:
                status = main(list(args))
            except SystemExit as exit_:  # argparse's refusal of an argument
                assert isinstance(exit_.code, int), exit_.code
                status = exit_.code
        return subprocess.CompletedProcess(list(args), status, out.getvalue(), err.getvalue())

    def spawn(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """Run the real `store-server ARGS` console script, `stdin` piped in."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("STORE_")}
        env.update(PYTHONPATH=str(REPO), STORE_DATABASE_URL=self.database_url)
        return subprocess.run(
            [str(STORE_SERVER), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

    def ok(self, *args: str, stdin: str = "") -> str:
        """Run a command that must succeed; its one line of output."""
        done = self.run(*args, stdin=stdin)
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
        lines = done.stdout.splitlines()
        assert len(lines) == 1, done.stdout
        return lines[0]

    def refused(self, *args: str, stdin: str = "") -> str:
        """Run a command that must be refused: status 2, one line on stderr; that line."""
        done = self.run(*args, stdin=stdin)
        assert done.returncode == 2, (done.stdout, done.stderr)
        assert done.stdout == ""
        lines = done.stderr.splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith("store-server: ")
        return lines[0]


@dataclass(frozen=True)
class SetUp:
    """A store made with the commands: its id and the entrance gateway's token."""

    store_id: int
    gateway_token: str


@dataclass(frozen=True)
class Template:
    """A database migrated and set up by the commands once per module, copied by each test:
    a SQLite file, or a PostgreSQL database copied with `CREATE DATABASE ... TEMPLATE`."""

    database: Path | None
    postgres: PostgresCopies | None
    setup: SetUp


@pytest.fixture(scope="module")
def template(database_engine: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    """`store-server migrate`, then the whole set-up path, into a database each test copies."""
    admin_url = postgres_url()
    if database_engine == "postgresql" and admin_url:
        made = fresh_postgres_database(admin_url)
        url = next(made)
        try:
            cli = Cli(url)
            assert cli.ok("migrate") == "database migrated"
            setup = set_up_store(cli)
            copies = PostgresCopies(admin_url, make_url(url).database or "")
            try:
                yield Template(None, copies, setup)
            finally:
                copies.close()
        finally:
            made.close()  # drops it
        return
    database = tmp_path_factory.mktemp("cli") / "store.db"
    cli = Cli(f"sqlite:///{database}")
    assert cli.ok("migrate") == "database migrated"
    yield Template(database, None, set_up_store(cli))


@pytest.fixture
def cli(template: Template, tmp_path: Path) -> Cli:
    """The console script on this test's copy of the set-up database."""
    if template.postgres is not None:
        return Cli(template.postgres.take())
    assert template.database is not None
    for suffix in ("", "-wal"):
        source = template.database.with_name(template.database.name + suffix)
        if source.exists():
            shutil.copyfile(source, tmp_path / f"store.db{suffix}")
    return Cli(f"sqlite:///{tmp_path / 'store.db'}")


@pytest.fixture
def setup(template: Template) -> SetUp:
    """The set-up store's id and gateway token."""
    return template.setup


@pytest.fixture
def app(cli: Cli, tmp_path: Path) -> Iterator[Flask]:
    """The server on the same database file, in this process."""
    settings = StoreSettings(
        database_url=cli.database_url, secret_key="test-secret", var_dir=str(tmp_path / "var")
    )
    app = create_app(settings)
    yield app
    services(app).publisher.stop()
    services(app).outbound.stop()
    services(app).db.dispose()


def set_up_store(cli: Cli) -> SetUp:
    """A store, an entrance zone (no command makes zones yet), a manager, staff and a gateway."""
    store_id = int(
        cli.ok(
            "create-store",
            "--name",
            "High Street",
            "--timezone",
            "Europe/London",
            "--currency",
            "GBP",
            "--locale",
            "en-GB",
            "--public-url",
            "https://shop.example/",
            "--phone",
            "+44 20 7946 0123",
            "--web-page",
            "https://shop.example/help?store=1",
        )
    )
    add_entrance_zone(cli, store_id)
    for email, name, role, password in (
        ("Morgan@Shop.Example", "Morgan", "manager", MANAGER_PASSWORD),
        ("sam@shop.example", "Sam", "staff", STAFF_PASSWORD),
    ):
        staff_id = cli.ok(
            "add-staff",
            "--store",
            str(store_id),
            "--email",
            email,
            "--name",
            name,
            "--role",
            role,
            stdin=password + "\n",
        )
        assert staff_id.isdigit()
    token = cli.ok(
        "add-gateway",
        "--store",
        str(store_id),
        "--id",
        "gw-door",
        "--zone",
        "entrance",
        "--rssi-offset-db",
        "-2.5",
    )
    return SetUp(store_id, token)


def add_entrance_zone(cli: Cli, store_id: int) -> None:
    """Zones come from the console's layout page; the tests add one directly."""
    from store_server.layout.plan import create_zone

    db = Database(cli.database_url)
    with db.transaction() as session:
        create_zone(session, store_id, "entrance", "entrance", "front door")
    db.dispose()


def log_in(client: FlaskClient, email: str, password: str) -> Any:
    """POST the log-in; the test response."""
    return client.post("/api/v1/auth/login", json={"email": email, "password": password})


def upload(client: FlaskClient, gateway_id: str, token: str) -> Any:
    """POST an empty batch as the gateway; the test response."""
    body = {"batch_id": uuid.uuid4().hex, "sent_at": time.time(), "observations": []}
    return client.post(
        f"/api/v1/gateways/{gateway_id}/batches",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    )


def arrivals(client: FlaskClient, store_id: int, session_token: str) -> int:
    """The status of a staff-only read with this session token."""
    response = client.get(
        f"/api/v1/stores/{store_id}/arrivals",
        headers={"Authorization": f"Bearer {session_token}"},
    )
    return int(response.status_code)


def row_counts(database_url: str) -> dict[str, int]:
    """How many rows every table holds."""
    db = Database(database_url)
    with db.sessions() as session:
        counts = {
            table.name: int(session.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
        }
    db.dispose()
    return counts


def test_a_store_set_up_with_the_commands_logs_in_and_takes_batches(
    cli: Cli, app: Flask, setup: SetUp
) -> None:
    db = Database(cli.database_url)
    with db.sessions() as session:
        store = session.get(Store, setup.store_id)
        assert store is not None
        assert (store.name, store.timezone, store.currency, store.locale, store.public_url) == (
            "High Street",
            "Europe/London",
            "GBP",
            "en-GB",
            "https://shop.example",
        )
        assert (store.help_phone, store.help_url) == (
            "+442079460123",
            "https://shop.example/help?store=1",
        )
        gateway = session.get(Gateway, "gw-door")
        assert gateway is not None
        assert gateway.rssi_offset_db == -2.5
        assert gateway.store_id == setup.store_id
        assert setup.gateway_token not in gateway.token_sha256  # only the digest is kept
        hashes = session.scalars(select(StaffUser.password_hash)).all()
        assert all(MANAGER_PASSWORD not in h and STAFF_PASSWORD not in h for h in hashes)
    db.dispose()

    client = app.test_client()
    manager = log_in(client, "morgan@shop.example", MANAGER_PASSWORD)
    assert manager.status_code == 200, manager.get_json()
    assert manager.get_json()["staff"]["role"] == "manager"
    staff = log_in(client, "sam@shop.example", STAFF_PASSWORD)
    assert staff.status_code == 200, staff.get_json()
    assert arrivals(client, setup.store_id, staff.get_json()["token"]) == 200
    assert log_in(client, "sam@shop.example", MANAGER_PASSWORD).status_code == 401

    response = upload(client, "gw-door", setup.gateway_token)
    assert response.status_code == 202, response.get_json()
    assert upload(client, "gw-door", "not-the-token").status_code == 401


def test_rotation_stops_the_old_token_and_removal_every_token(
    cli: Cli, app: Flask, setup: SetUp
) -> None:
    client = app.test_client()
    new_token = cli.ok("rotate-gateway-token", "--id", "gw-door")
    assert new_token != setup.gateway_token
    assert upload(client, "gw-door", setup.gateway_token).status_code == 401
    assert upload(client, "gw-door", new_token).status_code == 202

    assert cli.ok("remove-gateway", "--id", "gw-door") == "gateway gw-door removed"
    assert upload(client, "gw-door", new_token).status_code == 404
    assert "no gateway 'gw-door'" in cli.refused("rotate-gateway-token", "--id", "gw-door")


def test_deactivation_ends_sessions_at_once_and_a_new_password_replaces_the_old(
    cli: Cli, app: Flask, setup: SetUp
) -> None:
    client = app.test_client()
    session_token = log_in(client, "sam@shop.example", STAFF_PASSWORD).get_json()["token"]
    assert arrivals(client, setup.store_id, session_token) == 200

    new_password = "a new one for the tablet"
    cli.ok("set-password", "--email", "SAM@shop.example", stdin=new_password + "\n")
    assert arrivals(client, setup.store_id, session_token) == 401  # reset: logged out
    assert log_in(client, "sam@shop.example", STAFF_PASSWORD).status_code == 401
    session_token = log_in(client, "sam@shop.example", new_password).get_json()["token"]
    assert arrivals(client, setup.store_id, session_token) == 200

    cli.ok("deactivate-staff", "--email", "sam@shop.example")
    assert arrivals(client, setup.store_id, session_token) == 401
    assert log_in(client, "sam@shop.example", new_password).status_code == 401
    db = Database(cli.database_url)
    with db.sessions() as session:
        sam = session.scalars(select(StaffUser).where(StaffUser.name == "Sam")).one()
        assert not sam.active
        left = session.scalar(
            select(func.count()).select_from(StaffSession).where(StaffSession.staff_id == sam.id)
        )
        assert left == 0
    db.dispose()


def staffer_stores(app: Flask, email: str, password: str) -> list[int]:
    """The stores a log-in says the account may switch between."""
    answer = log_in(app.test_client(), email, password)
    assert answer.status_code == 200, answer.get_json()
    return [store["id"] for store in answer.get_json()["staff"]["stores"]]


@pytest.mark.timeout(300)  # three process starts, each up to a minute on a busy machine
def test_a_store_joins_a_chain_by_name_and_a_manager_works_at_two(
    cli: Cli, app: Flask, setup: SetUp
) -> None:
    # The first store made its own chain, named after it.
    second = int(
        cli.ok(
            "create-store",
            *("--name", "Station Road", "--timezone", "UTC", "--currency", "GBP"),
            *("--chain", "High Street"),
        )
    )
    with app.app_context(), services(app).db.sessions() as session:
        chains = {s.id: s.chain_id for s in session.scalars(select(Store))}
    assert chains[second] == chains[setup.store_id]
    cli.ok(
        "add-staff",
        *("--store", f"{setup.store_id},{second}", "--email", "ria@shop.example"),
        *("--name", "Ria", "--role", "manager"),
        stdin=MANAGER_PASSWORD + "\n",
    )
    assert sorted(staffer_stores(app, "ria@shop.example", MANAGER_PASSWORD)) == sorted(
        [setup.store_id, second]
    )


@pytest.mark.timeout(300)
def test_an_admin_has_every_store_of_her_chain_and_no_account_spans_two_chains(
    cli: Cli, app: Flask, setup: SetUp
) -> None:
    elsewhere = cli.ok(
        "create-store", "--name", "Elsewhere", "--timezone", "UTC", "--currency", "EUR"
    )
    cli.ok(
        "add-staff",
        *("--chain", "High Street", "--email", "ada@shop.example", "--name", "Ada"),
        *("--role", "admin"),
        stdin=MANAGER_PASSWORD + "\n",
    )
    assert staffer_stores(app, "ada@shop.example", MANAGER_PASSWORD) == [setup.store_id]
    before = row_counts(cli.database_url)
    line = cli.refused(
        "add-staff",
        *("--store", str(setup.store_id), "--store", elsewhere, "--email", "two@shop.example"),
        *("--name", "Two", "--role", "staff"),
        stdin=STAFF_PASSWORD + "\n",
    )
    assert "store: every store of an account is of one chain" in line
    assert row_counts(cli.database_url) == before


@pytest.mark.timeout(300)
def test_a_staffer_is_moved_between_stores_and_one_address_serves_two_chains(
    cli: Cli, app: Flask, setup: SetUp
) -> None:
    second = cli.ok(
        "create-store",
        *("--name", "Station Road", "--timezone", "UTC", "--currency", "GBP"),
        *("--chain", "High Street"),
    )
    line = cli.ok(
        "set-staff-stores",
        *("--email", "sam@shop.example", "--role", "manager"),
        *("--store", f"{second},{setup.store_id}"),
    )
    assert line.split(" ", 1)[1] == f"manager at {setup.store_id},{second}"
    assert sorted(staffer_stores(app, "sam@shop.example", STAFF_PASSWORD)) == sorted(
        [setup.store_id, int(second)]
    )
    # The same address becomes an account at another chain too: then commands name the chain.
    elsewhere = cli.ok(
        "create-store", "--name", "Elsewhere", "--timezone", "UTC", "--currency", "EUR"
    )
    cli.ok(
        "add-staff",
        *("--store", elsewhere, "--email", "sam@shop.example", "--name", "Sam"),
        *("--role", "staff"),
        stdin="another password\n",
    )
    assert "chain: this e-mail has an account at several chains" in cli.refused(
        "set-password", "--email", "sam@shop.example", stdin="a third password\n"
    )
    before = row_counts(cli.database_url)
    assert f"store: no store {elsewhere} in this account's chain" in cli.refused(
        "set-staff-stores",
        *("--email", "sam@shop.example", "--chain", "High Street", "--role", "staff"),
        *("--store", elsewhere),
    )
    assert row_counts(cli.database_url) == before
    cli.ok("deactivate-staff", "--email", "sam@shop.example", "--chain", "Elsewhere")
    # The other chain's account is untouched: it still logs in.
    assert log_in(app.test_client(), "sam@shop.example", STAFF_PASSWORD).status_code == 200


# (arguments with STORE for the set-up store's id, stdin, what the one line must say)
BAD_INPUTS = [
    (["create-store", "--timezone", "Europe/London", "--currency", "GBP"], "", "--name"),
    (
        ["create-store", "--name", "X", "--timezone", "Mars/Olympus", "--currency", "GBP"],
        "",
        "unknown time zone 'Mars/Olympus'",
    ),
    (
        ["create-store", "--name", "X", "--timezone", "UTC", "--currency", "GBX"],
        "",
        "unknown currency 'GBX'",
    ),
    (
        [
            "create-store",
            "--name",
            "X",
            "--timezone",
            "UTC",
            "--currency",
            "GBP",
            "--locale",
            "english",
        ],
        "",
        "locale 'english'",
    ),
    (
        [
            "create-store",
            "--name",
            "X",
            "--timezone",
            "UTC",
            "--currency",
            "GBP",
            "--public-url",
            "shop.example",
        ],
        "",
        "public URL 'shop.example'",
    ),
    (["create-store", "--name", " ", "--timezone", "UTC", "--currency", "GBP"], "", "store name"),
    (
        ["create-store", "--name", "X", "--timezone", "UTC", "--currency", "GBP"]
        + ["--phone", "020 7946 0123"],
        "",
        "phone '020 7946 0123'",
    ),
    (
        ["create-store", "--name", "X", "--timezone", "UTC", "--currency", "GBP"]
        + ["--web-page", "shop.example/help"],
        "",
        "web page 'shop.example/help'",
    ),
    (
        [
            "add-staff",
            "--store",
            "STORE",
            "--email",
            "morgan@shop.example",
            "--name",
            "M",
            "--role",
            "staff",
        ],
        "long enough password\n",
        "a staff account of this chain has this e-mail",
    ),
    (
        [
            "add-staff",
            "--store",
            "999",
            "--email",
            "new@shop.example",
            "--name",
            "N",
            "--role",
            "staff",
        ],
        "long enough password\n",
        "no store 999",
    ),
    (
        [
            "add-staff",
            "--store",
            "abc",
            "--email",
            "new@shop.example",
            "--name",
            "N",
            "--role",
            "staff",
        ],
        "long enough password\n",
        "argument --store: store ids are whole numbers",
    ),
    (
        [
            "add-staff",
            "--store",
            "STORE",
            "--email",
            "not-an-address",
            "--name",
            "N",
            "--role",
            "staff",
        ],
        "long enough password\n",
        "e-mail address is not valid",
    ),
    (
        [
            "add-staff",
            "--store",
            "STORE",
            "--email",
            "new@shop.example",
            "--name",
            "N",
            "--role",
            "owner",
        ],
        "long enough password\n",
        "argument --role: invalid choice",
    ),
    (
        [
            "add-staff",
            "--store",
            "STORE",
            "--email",
            "new@shop.example",
            "--name",
            "N",
            "--role",
            "staff",
        ],
        "short\n",
        "a password has 10 to 200 characters",
    ),
    (
        [
            "add-staff",
            "--store",
            "STORE",
            "--email",
            "new@shop.example",
            "--name",
            "N",
            "--role",
            "staff",
        ],
        "",
        "no password on stdin",
    ),
    (
        ["set-password", "--email", "nobody@shop.example"],
        "long enough password\n",
        "no staff account has this e-mail",
    ),
    (
        ["deactivate-staff", "--email", "nobody@shop.example"],
        "",
        "no staff account has this e-mail",
    ),
    (
        ["add-gateway", "--store", "STORE", "--id", "gw-door"],
        "",
        "a gateway is already registered as 'gw-door'",
    ),
    (["add-gateway", "--store", "999", "--id", "gw-new"], "", "no store 999"),
    (
        ["add-gateway", "--store", "STORE", "--id", "gw-new", "--zone", "attic"],
        "",
        "no zone named 'attic'",
    ),
    (["add-gateway", "--store", "STORE", "--id", "gw new/1"], "", "gateway id 'gw new/1'"),
    (
        ["add-gateway", "--store", "STORE", "--id", "gw-new", "--rssi-offset-db", "nan"],
        "",
        "RSSI offset must be a number from -20 to 20",
    ),
    (
        ["add-gateway", "--store", "STORE", "--id", "gw-new", "--rssi-offset-db", "x"],
        "",
        "argument --rssi-offset-db: invalid float value",
    ),
    (
        ["add-staff", "--store", "STORE,999", "--email", "new@shop.example"]
        + ["--name", "N", "--role", "manager"],
        "long enough password\n",
        "store: no store 999",
    ),
    (
        ["add-staff", "--email", "new@shop.example", "--name", "N", "--role", "staff"],
        "long enough password\n",
        "store: give --store",
    ),
    (
        ["add-staff", "--store", "STORE", "--chain", "High Street"]
        + ["--email", "new@shop.example", "--name", "N", "--role", "manager"],
        "long enough password\n",
        "chain: only for an admin",
    ),
    (
        ["add-staff", "--email", "new@shop.example", "--name", "N", "--role", "admin"],
        "long enough password\n",
        "chain: give --chain NAME",
    ),
    (
        ["add-staff", "--chain", "Nowhere", "--email", "new@shop.example"]
        + ["--name", "N", "--role", "admin"],
        "long enough password\n",
        "chain: no chain has this name",
    ),
    (
        ["create-store", "--name", "X", "--timezone", "UTC", "--currency", "GBP", "--chain", " "],
        "",
        "chain: a chain name has 1 to 200 characters",
    ),
    (
        [
            "set-staff-stores",
            "--email",
            "nobody@shop.example",
            "--role",
            "staff",
            "--store",
            "STORE",
        ],
        "",
        "no staff account has this e-mail",
    ),
    (
        ["set-staff-stores", "--email", "sam@shop.example", "--role", "staff", "--store", "999"],
        "",
        "store: no store 999 in this account's chain",
    ),
    (
        ["set-staff-stores", "--email", "sam@shop.example", "--role", "staff"],
        "",
        "store: a staffer or manager needs at least one store",
    ),
    (
        ["set-staff-stores", "--email", "sam@shop.example", "--role", "admin", "--store", "STORE"],
        "",
        "store: an admin acts at every store of her chain",
    ),
    (
        ["set-staff-stores", "--email", "sam@shop.example", "--role", "boss", "--store", "STORE"],
        "",
        "argument --role: invalid choice",
    ),
    (
        ["set-staff-stores", "--email", "sam@shop.example", "--chain", "Nowhere"]
        + ["--role", "staff", "--store", "STORE"],
        "",
        "chain: no chain has this name",
    ),
    (["rotate-gateway-token", "--id", "gw-unknown"], "", "no gateway 'gw-unknown'"),
    (["remove-gateway", "--id", "gw-unknown"], "", "no gateway 'gw-unknown'"),
    (["remove-gateway"], "", "--id"),
]


# One test per bad input: each is a process start, and together they outlast a test's timeout
# on a busy machine.
@pytest.mark.parametrize(
    ("args", "stdin", "problem"), BAD_INPUTS, ids=[problem for _, _, problem in BAD_INPUTS]
)
def test_every_bad_input_is_status_2_one_line_naming_it_and_writes_nothing(
    cli: Cli, setup: SetUp, args: list[str], stdin: str, problem: str
) -> None:
    before = row_counts(cli.database_url)
    argv = [arg.replace("STORE", str(setup.store_id)) for arg in args]
    line = cli.refused(*argv, stdin=stdin)
    assert problem in line, (argv, line)
    assert "long enough password" not in line
    assert row_counts(cli.database_url) == before, argv


def test_the_console_script_answers_on_its_pipes_with_its_status(cli: Cli, setup: SetUp) -> None:
    """The installed `store-server` script as a process: a command's one line on stdout and
    status 0; an argument refused by the parser, one line on stderr and status 2."""
    done = cli.spawn("rotate-gateway-token", "--id", "gw-door")
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert len(done.stdout.splitlines()) == 1
    assert done.stdout.strip() != setup.gateway_token
    refused = cli.spawn("remove-gateway")
    assert (refused.returncode, refused.stdout) == (2, "")
    assert len(refused.stderr.splitlines()) == 1, refused.stderr
    assert refused.stderr.startswith("store-server: ")
    assert "--id" in refused.stderr


def test_no_output_carries_a_password_or_an_email(
    cli: Cli, capfd: pytest.CaptureFixture[str]
) -> None:
    store_id = cli.ok("create-store", "--name", "S", "--timezone", "UTC", "--currency", "EUR")
    runs = [
        cli.run(
            "add-staff",
            "--store",
            store_id,
            "--email",
            "kim@shop.example",
            "--name",
            "Kim",
            "--role",
            "staff",
            stdin="secret-password-1\n",
        ),
        cli.run("set-password", "--email", "kim@shop.example", stdin="secret-password-2\n"),
        cli.run("deactivate-staff", "--email", "kim@shop.example"),
        cli.run(
            "add-staff",
            "--store",
            store_id,
            "--email",
            "kim@shop.example",
            "--name",
            "Kim",
            "--role",
            "staff",
            stdin="secret-password-3\n",
        ),
    ]
    assert [done.returncode for done in runs] == [0, 0, 0, 2]
    # What the commands printed, and anything else written to this process's stdout or
    # stderr meanwhile (a log handler holding the real stream).
    written = capfd.readouterr()
    for output in [done.stdout + done.stderr for done in runs] + [written.out + written.err]:
        assert "secret-password" not in output
        assert "kim@" not in output


def run_on_a_terminal(cli: Cli, args: list[str], typed: list[str]) -> tuple[int, str]:
    """Run the command on a pseudo-terminal (its controlling terminal), typing each line once
    the prompt for it appears; its exit status and everything the terminal showed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORE_")}
    env.update(PYTHONPATH=str(REPO), STORE_DATABASE_URL=cli.database_url)
    pid, terminal = pty.fork()
    if pid == 0:  # the child: its stdin, stdout and /dev/tty are the pseudo-terminal
        try:
            os.execve(str(STORE_SERVER), [str(STORE_SERVER), *args], env)  # noqa: S606 - no shell
        finally:
            os._exit(127)  # never return into the test runner's copy
    shown = b""
    prompts = iter(("new password: ", "the same again: "))
    pending = list(typed)
    expected = next(prompts)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = wait_for_input([terminal], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(terminal, 1024)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        if pending and shown.decode(errors="replace").count(expected) == 1:
            os.write(terminal, pending.pop(0).encode() + b"\n")
            expected = next(prompts, "\0")
    else:
        os.kill(pid, signal.SIGKILL)  # the one process this test started
    _, status = os.waitpid(pid, 0)
    os.close(terminal)
    assert time.monotonic() < deadline, f"no exit within 60 s: {shown!r}"
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")


def test_on_a_terminal_the_password_is_asked_twice_and_never_echoed(cli: Cli, setup: SetUp) -> None:
    store = str(setup.store_id)
    base = ["add-staff", "--store", store, "--name", "Alex", "--role", "staff", "--email"]
    status, shown = run_on_a_terminal(
        cli, [*base, "alex@shop.example"], ["typed-once-1234", "typed-twice-5678"]
    )
    assert status == 2
    assert "store-server: the two passwords differ" in shown
    assert "typed-" not in shown
    assert row_counts(cli.database_url)["staff_users"] == 2

    status, shown = run_on_a_terminal(
        cli, [*base, "alex@shop.example"], ["typed-both-1234", "typed-both-1234"]
    )
    assert status == 0, shown
    assert "typed-" not in shown
    assert row_counts(cli.database_url)["staff_users"] == 3
