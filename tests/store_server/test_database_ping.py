"""The PostgreSQL pool pings a connection before use only once it has been idle a while
(`database.PING_AFTER_IDLE_S`): a dead idle connection is replaced, a busy one is not pinged."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from store_server.db import database
from store_server.db.database import Database
from tests.support.services import postgres_url


@pytest.fixture
def postgres() -> Iterator[Database]:
    url = postgres_url()
    if url is None:
        pytest.skip("STORE_TEST_DATABASE_URL is not set (.ci/run sets it)")
    db = Database(url)
    try:
        yield db
    finally:
        db.dispose()


def backend_pid(db: Database) -> int:
    with db.sessions() as session:
        return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def terminate(pid: int) -> None:
    """End one backend (the pool's own connection) from another connection."""
    url = postgres_url()
    assert url is not None
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
    finally:
        admin.dispose()


def test_a_dead_connection_idle_past_the_limit_is_replaced_before_use(
    postgres: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = backend_pid(postgres)
    terminate(pid)
    monkeypatch.setattr(database, "PING_AFTER_IDLE_S", 0.0)  # every checkout is idle enough
    assert backend_pid(postgres) != pid


def test_a_connection_used_within_the_limit_is_not_pinged(
    postgres: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = backend_pid(postgres)
    terminate(pid)
    monkeypatch.setattr(database, "PING_AFTER_IDLE_S", 3600.0)  # never idle enough
    # Not pinged: the dead connection is used and its request fails (the error handler's
    # 503), which replaces the pool for the next one.
    with pytest.raises(OperationalError):
        backend_pid(postgres)
    assert backend_pid(postgres) != pid
