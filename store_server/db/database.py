"""The database engine and sessions: one `Database` per app, SQLite (WAL) or PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, Executable, Result, create_engine, event
from sqlalchemy.exc import IntegrityError, InvalidatePoolError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.compiler import Compiled
from sqlalchemy.sql.elements import ClauseElement


class Database:
    """An engine and its session factory."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = _make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any exception."""
        with self.sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def lock_for_writes(session: Session) -> None:
    """Begin the writes of the session's transaction: what it read before took no write lock.

    On SQLite, `BEGIN IMMEDIATE` takes the database's one write lock now (waiting for it up to
    the busy timeout), so the reads and decisions before it ran while other requests wrote; the
    driver otherwise takes it at the first write and keeps it to the commit. PostgreSQL locks
    rows, not the database: nothing to do there.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    if not connection.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def execute_prepared(
    session: Session, statement: Executable, params: dict[str, Any]
) -> list[tuple[Any, ...]]:
    """Run a Core statement of the hot path in the session's transaction; its rows as tuples.

    On PostgreSQL the statement is compiled once per process and run on the driver's cursor
    as a prepared statement: SQLAlchemy's per-execution work (cache key, parameter processing,
    result objects) and psycopg's parsing of the text cost more than the query. Only for
    statements whose parameters and rows need no type conversion (ints, floats, text, and
    lists of them for `= ANY`). A unique key's conflict is raised as SQLAlchemy's
    `IntegrityError`, as by `session.execute`. Elsewhere (SQLite) it is `session.connection()
    .execute`, SQLAlchemy Core without the ORM.
    """
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        result = connection.execute(statement, params)
        return [tuple(row) for row in result] if result.returns_rows else []
    sql = _compiled.get(statement)
    if sql is None:
        clause = cast(ClauseElement, statement)
        sql = _compiled[statement] = clause.compile(dialect=connection.dialect)
    driver: Any = connection.connection.dbapi_connection  # a psycopg connection
    values = sql.construct_params(params)
    with driver.cursor() as cursor:
        try:
            cursor.execute(sql.string, values, prepare=True)
        except driver.IntegrityError as exc:
            raise IntegrityError(sql.string, None, exc, hide_parameters=True) from exc
        if connection.dispatch.after_cursor_execute:  # a listener sees it, as any statement
            connection.dispatch.after_cursor_execute(
                connection, cursor, sql.string, values, None, False
            )
        return cursor.fetchall() if cursor.description is not None else []


# Each statement run by `execute_prepared` on PostgreSQL, compiled (module-level statements
# only, built once: a statement is a key by identity).
_compiled: dict[Executable, Compiled] = {}


def rows_changed(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE statement's result changed."""
    return cast(CursorResult[Any], result).rowcount


def _make_engine(url: str) -> Engine:
    # hide_parameters: an error's message (logged, or shown in a traceback) never carries the
    # statement's values, which can be a shopper's e-mail or phone number.
    if not url.startswith("sqlite"):
        return _ping_when_idle(create_engine(url, hide_parameters=True))
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True
    )

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        # WAL lets the tablet pages read while ingest writes; foreign keys are off by default.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


# A pooled connection idle for longer than this is pinged before use (a database restarted
# meanwhile left it dead); one used more recently is not. SQLAlchemy's `pool_pre_ping` pings
# at every checkout: a round trip per request, 0.4 ms of the server's CPU and the backend's
# on every batch of a busy gateway, whose connections are back in use within milliseconds. A
# connection that died in the last second fails its request with a 503 (which invalidates
# the whole pool, as a failed ping does); that request failed anyway during the outage.
PING_AFTER_IDLE_S = 1.0
_IDLE_SINCE = "idle_since"  # in a pooled connection's `info`: time.monotonic() at check-in


def _ping_when_idle(engine: Engine) -> Engine:
    """The engine with the pre-ping of connections idle for `PING_AFTER_IDLE_S` or longer."""

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _stamp(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get(_IDLE_SINCE, 0.0) < PING_AFTER_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as dead:
            # As a failed pre-ping: every pooled connection is replaced, this one at once
            # (its reconnection raises the OperationalError of a database still away).
            raise InvalidatePoolError() from dead

    return engine
