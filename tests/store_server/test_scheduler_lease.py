"""Exactly one scheduler sweeps: the lease in the database, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from store_server.db.database import Database
from store_server.settings import StoreSettings
from store_server.sweep import LEASE_FLOOR_S, SWEEP_LEASE, lease_ttl_s, take_lease


@pytest.fixture
def db(migrated_database_url: str) -> Iterator[Database]:
    database = Database(migrated_database_url)
    yield database
    database.dispose()


def test_a_second_scheduler_waits_until_the_first_stops_renewing(db: Database) -> None:
    assert take_lease(db, SWEEP_LEASE, "a", 1000.0, 15.0)
    assert not take_lease(db, SWEEP_LEASE, "b", 1001.0, 15.0)
    assert take_lease(db, SWEEP_LEASE, "a", 1010.0, 15.0)  # the holder renews
    assert not take_lease(db, SWEEP_LEASE, "b", 1024.9, 15.0)  # renewed until 1025
    assert take_lease(db, SWEEP_LEASE, "b", 1025.0, 15.0)  # a stopped renewing: b takes over
    assert not take_lease(db, SWEEP_LEASE, "a", 1026.0, 15.0)


def test_of_schedulers_racing_for_a_free_lease_exactly_one_wins(db: Database) -> None:
    start = threading.Barrier(4)
    won: list[str] = []

    def race(holder: str) -> None:
        start.wait()
        if take_lease(db, SWEEP_LEASE, holder, 2000.0, 15.0):
            won.append(holder)

    threads = [threading.Thread(target=race, args=(f"s{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1


def test_the_lease_outlasts_a_few_sweeps() -> None:
    assert lease_ttl_s(StoreSettings(sweep_interval_s=5)) == LEASE_FLOOR_S
    assert lease_ttl_s(StoreSettings(sweep_interval_s=60)) == 180
