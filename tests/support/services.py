"""The database and Redis servers the suite was told to use, checked before it runs.

`python -m tests.support.services` exits 1 with one line per server that does not answer
(`.ci/run` runs it, so CI fails at once instead of skipping or timing out test by test).
"""

from __future__ import annotations

import os
import sys

# Connecting to a server on loopback takes milliseconds; a few seconds means it is not there.
CHECK_TIMEOUT_S = 5


def postgres_url() -> str | None:
    """The PostgreSQL server the server suite may create databases on (None: SQLite only)."""
    return os.environ.get("STORE_TEST_DATABASE_URL") or None


def redis_url() -> str | None:
    """The Redis server the several-processes tests share (None: those tests are skipped)."""
    return os.environ.get("STORE_TEST_REDIS_URL") or None


def unreachable() -> list[str]:
    """A line for each configured server that does not answer."""
    import redis
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    problems: list[str] = []
    if (url := postgres_url()) is not None:
        engine = create_engine(url, connect_args={"connect_timeout": CHECK_TIMEOUT_S})
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            problems.append(f"STORE_TEST_DATABASE_URL does not answer: {type(exc).__name__}")
        finally:
            engine.dispose()
    if (url := redis_url()) is not None:
        client = redis.Redis.from_url(url, socket_connect_timeout=CHECK_TIMEOUT_S)
        try:
            client.ping()
        except (redis.RedisError, OSError) as exc:
            problems.append(f"STORE_TEST_REDIS_URL does not answer: {type(exc).__name__}")
        finally:
            client.close()
    return problems


if __name__ == "__main__":
    failures = unreachable()
    for line in failures:
        print(line, file=sys.stderr)
    sys.exit(1 if failures else 0)
