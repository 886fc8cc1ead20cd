"""Migration 0016 on a database with rows: a chain per store, staff assigned to their store,
shoppers of the chain of their earliest consent, e-mails unique per chain."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from store_server.db.database import Database
from store_server.db.migrate import downgrade, upgrade


def test_every_store_gets_its_chain_and_every_shopper_one_chain(database_url: str) -> None:
    db = Database(database_url)
    try:
        upgrade(db.engine, "0015")
        with db.engine.begin() as conn:
            for store_id, name in ((1, "High Street"), (2, "High Street"), (3, "Station")):
                conn.execute(
                    text("INSERT INTO stores (id, name, timezone) VALUES (:id, :name, 'UTC')"),
                    {"id": store_id, "name": name},
                )
            conn.execute(
                text(
                    "INSERT INTO staff_users (id, store_id, email, name, role, password_hash, "
                    "active) VALUES (1, 2, 'kim@shop.example', 'Kim', 'manager', 'x', true)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO shoppers (id, first_name, email, timezone, created_at) VALUES "
                    "(1, 'Bea', 'bea@example.com', 'UTC', 0), (2, 'Cy', NULL, 'UTC', 0)"
                )
            )
            # Bea joined store 3 first, then store 1 (another chain after the migration).
            conn.execute(
                text(
                    "INSERT INTO consents (shopper_id, store_id, purpose, channel, granted_at) "
                    "VALUES (1, 3, 'offers', 'app', 10), (1, 1, 'arrival', 'app', 20)"
                )
            )
        upgrade(db.engine)
        with db.engine.begin() as conn:
            chains: dict[int, str] = dict(
                conn.execute(
                    text("SELECT s.id, c.name FROM stores s JOIN chains c ON c.id = s.chain_id")
                ).all()
            )
            assert chains == {1: "High Street", 2: "High Street (2)", 3: "Station"}
            staff = conn.execute(
                text(
                    "SELECT u.chain_id, s.chain_id, ss.store_id FROM staff_users u "
                    "JOIN stores s ON s.id = 2 JOIN staff_stores ss ON ss.staff_id = u.id"
                )
            ).one()
            assert staff[0] == staff[1] and staff[2] == 2
            bea_chain = conn.execute(text("SELECT chain_id FROM shoppers WHERE id = 1")).scalar()
            station_chain = conn.execute(text("SELECT chain_id FROM stores WHERE id = 3")).scalar()
            assert bea_chain == station_chain
            # Her consent at store 1 was of another chain: it went.
            left = conn.execute(text("SELECT store_id FROM consents WHERE shopper_id = 1")).all()
            assert [row[0] for row in left] == [3]
            # Cy, without consents, is of a chain all the same.
            assert conn.execute(text("SELECT chain_id FROM shoppers WHERE id = 2")).scalar()
            # The address is free at another chain, taken within Bea's.
            high_street = conn.execute(text("SELECT chain_id FROM stores WHERE id = 1")).scalar()
            conn.execute(
                text(
                    "INSERT INTO shoppers (id, first_name, email, timezone, created_at, chain_id) "
                    "VALUES (3, 'Dee', 'bea@example.com', 'UTC', 0, :chain)"
                ),
                {"chain": high_street},
            )
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO shoppers (id, first_name, email, timezone, created_at, chain_id) "
                    "VALUES (4, 'Eve', 'bea@example.com', 'UTC', 0, :chain)"
                ),
                {"chain": bea_chain},
            )
        # Back to global addresses: the second one is kept as unconfirmed, not lost.
        downgrade(db.engine, "0015")
        with db.engine.begin() as conn:
            rows = conn.execute(
                text("SELECT first_name, email, unconfirmed_email FROM shoppers ORDER BY id")
            ).all()
        assert [tuple(r) for r in rows] == [
            ("Bea", "bea@example.com", None),
            ("Cy", None, None),
            ("Dee", None, "bea@example.com"),
        ]
    finally:
        db.dispose()


def test_staff_log_in_addresses_become_unique_per_chain_and_back(database_url: str) -> None:
    db = Database(database_url)
    try:
        upgrade(db.engine, "0017")
        insert_staff = text(
            "INSERT INTO staff_users (id, chain_id, store_id, email, name, role, password_hash, "
            "active) VALUES (:id, :chain, :store, 'kim@shop.example', 'Kim', 'staff', 'x', true)"
        )
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO chains (id, name) VALUES (1, 'A'), (2, 'B')"))
            conn.execute(
                text(
                    "INSERT INTO stores (id, chain_id, name, timezone) "
                    "VALUES (1, 1, 'A1', 'UTC'), (2, 2, 'B1', 'UTC')"
                )
            )
            conn.execute(insert_staff, {"id": 1, "chain": 1, "store": 1})
        with pytest.raises(IntegrityError), db.engine.begin() as conn:  # before: one per address
            conn.execute(insert_staff, {"id": 2, "chain": 2, "store": 2})
        upgrade(db.engine, "0018")
        with db.engine.begin() as conn:  # now: one per address and chain
            conn.execute(insert_staff, {"id": 2, "chain": 2, "store": 2})
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(insert_staff, {"id": 3, "chain": 2, "store": 2})
        # Back to global addresses: the oldest account keeps it, the other is deactivated.
        downgrade(db.engine, "0017")
        with db.engine.begin() as conn:
            rows = conn.execute(text("SELECT id, email, active FROM staff_users ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [
            (1, "kim@shop.example", True),
            (2, "staff-2@invalid", False),
        ]
        upgrade(db.engine)
    finally:
        db.dispose()
