"""A shopper's arrival travels from a simulated phone through bleak and the gateway to staff."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bench.stack import Stack
from store_server.db.database import Database
from store_server.db.models import Visit
from tests.live import LiveClient, login
from tests.support.polling import wait_until
from tests.support.seeding import OTHER_STAFF

pytestmark = pytest.mark.e2e
# Maria reaches the door about 5 s into `pickup-door`; generous for a loaded CI machine.
ARRIVAL_DEADLINE_S = 30.0


def visit_extended_past(stack: Stack, when: float, timeout_s: float) -> bool:
    """Poll the database until some visit was last seen after `when`."""
    db = Database(stack.database_url)

    def extended() -> bool:
        with db.sessions() as session:
            return (session.scalar(select(func.max(Visit.last_seen_at))) or 0.0) > when

    try:
        return wait_until(extended, timeout_s, 0.2)
    finally:
        db.dispose()


@pytest.mark.parametrize("stack", ["bluez", "link"], indirect=True)
def test_pickup_arrival_reaches_own_store_staff_only(stack: Stack) -> None:
    sam = login(stack.url, "sam@demo.store", stack.seed["accounts"][0]["password"])
    kim = login(stack.url, *OTHER_STAFF)
    own = LiveClient(stack.url, {"token": sam["token"]})
    other = LiveClient(stack.url, {"token": kim["token"]})
    try:
        stack.start_sim("pickup-door", "--seed", "3")
        stack.start_gateway("gw-entrance")
        stack.start_gateway("gw-floor")
        arrivals = own.wait_for_arrival(ARRIVAL_DEADLINE_S)
        assert len(arrivals) == 1, arrivals
        arrival = arrivals[0]
        assert arrival["first_name"] == "Maria"
        assert arrival["order_number"] == "1001"
        assert [item["name"] for item in arrival["items"]] == ["Linen summer dress", "Silk scarf"]
        assert arrival["where"] == "front door"
        assert arrival["reasons"][0]["gateway"] == "gw-entrance"
        assert 0.5 <= arrival["confidence"] <= 1.0
        assert "email" not in arrival
        # Later batches extend her visit without a second alert, and the other store's tablet,
        # connected all along, never hears of her.
        assert visit_extended_past(stack, arrival["arrived_at"] + 3, timeout_s=15)
        assert len(own.arrivals) == 1
        assert other.arrivals == []
    finally:
        own.close()
        other.close()


def test_passive_scanning_through_bluez_hears_the_arrival(stack: Stack) -> None:
    """Passive mode registers BlueZ advertisement monitors with the gateway's or_patterns."""
    sam = login(stack.url, "sam@demo.store", stack.seed["accounts"][0]["password"])
    own = LiveClient(stack.url, {"token": sam["token"]})
    try:
        stack.start_sim("pickup-door", "--seed", "8")
        stack.start_gateway("gw-entrance", scanning_mode="passive")
        arrivals = own.wait_for_arrival(ARRIVAL_DEADLINE_S)
        assert [(a["first_name"], a["order_number"]) for a in arrivals] == [("Maria", "1001")]
    finally:
        own.close()
