"""The second store every server, end-to-end and browser test can check isolation against."""

from __future__ import annotations

from dataclasses import dataclass

from store_server.accounts.auth import token_digest
from store_server.accounts.staff import add_staff
from store_server.accounts.stores import create_store
from store_server.db.database import Database
from store_server.db.models import Gateway, Zone

OTHER_STORE_NAME = "Other Store"
# The other store's staffer, who must never hear the demo store's arrivals.
OTHER_STAFF = ("kim@other.store", "other-store-pass")
OTHER_GATEWAY = ("gw-other", "other-token")


@dataclass(frozen=True)
class OtherStore:
    """What the tests need to reach the second store."""

    store_id: int
    staff_email: str
    staff_password: str
    gateway_id: str
    gateway_token: str


def add_other_store(db: Database) -> OtherStore:
    """A second store, of a chain of its own: an entrance zone with its own gateway, and one
    staffer."""
    with db.transaction() as session:
        store = create_store(session, OTHER_STORE_NAME, "UTC", "USD")
        zone = Zone(store_id=store.id, name="entrance", kind="entrance", label="front door")
        session.add(zone)
        session.flush()
        session.add(
            Gateway(
                id=OTHER_GATEWAY[0],
                store_id=store.id,
                zone_id=zone.id,
                token_sha256=token_digest(OTHER_GATEWAY[1]),
                rssi_offset_db=0.0,
            )
        )
        add_staff(session, [store.id], OTHER_STAFF[0], "Kim", "staff", OTHER_STAFF[1])
        store_id = store.id
    return OtherStore(store_id, *OTHER_STAFF, *OTHER_GATEWAY)
