"""A shopper's open pickup orders, as the shopper sees them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from store_server.db.models import PickupAlert, PickupOrder, StaffUser
from store_server.pickup.lifecycle import OPEN_STATES


@dataclass(frozen=True)
class MyPickup:
    """One of the shopper's open orders and who, if anyone, is on the way with it."""

    order_number: str
    store_id: int
    status: str
    staff_on_the_way: str | None


def open_pickups(session: Session, shopper_id: int) -> list[MyPickup]:
    """The shopper's orders not yet handed over, by order id."""
    staffer = aliased(StaffUser)
    rows = session.execute(
        select(PickupOrder, PickupAlert.status, staffer.name)
        .outerjoin(
            PickupAlert,
            (PickupAlert.order_id == PickupOrder.id) & PickupAlert.status.in_(OPEN_STATES),
        )
        .outerjoin(staffer, staffer.id == PickupAlert.acknowledged_by)
        .where(
            PickupOrder.shopper_id == shopper_id,
            PickupOrder.status.in_(("placed", "ready", "arrived")),
        )
        .order_by(PickupOrder.id)
    ).all()
    return [MyPickup(o.number, o.store_id, o.status, name) for o, _, name in rows]
