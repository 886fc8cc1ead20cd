"""A shopper's pickup orders, as the shopper sees them: what the phone page renders."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from store_server.db.models import PickupAlert, PickupOrder, StaffUser
from store_server.pickup.lifecycle import OPEN_STATES, first_name

# A handed-over order stays on the page this long, so a reload after the handover still says
# it went well instead of "no order waiting".
RECENT_HANDOVER_S = 24 * 3600
SHOWN_STATUSES = ("placed", "ready", "arrived", "handed_over")


@dataclass(frozen=True)
class MyPickup:
    """One of the shopper's orders and who, if anyone, is on the way with it."""

    order_id: int
    order_number: str
    store_id: int
    status: str
    stage: str  # preparing | ready | arrived | on_the_way | handed_over
    staff_on_the_way: str | None
    handed_over_at: float | None


def pickup_stage(order_status: str, staff_on_the_way: str | None) -> str:
    """The one step the page shows for an order."""
    if order_status == "handed_over":
        return "handed_over"
    if staff_on_the_way is not None:
        return "on_the_way"
    return {"placed": "preparing"}.get(order_status, order_status)


def my_pickups(session: Session, shopper_id: int, now: float) -> list[MyPickup]:
    """The shopper's open orders and those handed over in the last day, one entry per order."""
    staffer = aliased(StaffUser)
    orders = session.scalars(
        select(PickupOrder)
        .where(PickupOrder.shopper_id == shopper_id, PickupOrder.status.in_(SHOWN_STATUSES))
        .order_by(PickupOrder.id)
    ).all()
    shown = [
        o for o in orders if o.status != "handed_over" or o.updated_at >= now - RECENT_HANDOVER_S
    ]
    # An order can have an open alert per visit: whoever acknowledged is the one coming.
    coming: dict[int, str] = {}
    handed: dict[int, float] = {}
    if shown:
        rows = session.execute(
            select(
                PickupAlert.order_id, PickupAlert.status, PickupAlert.handed_over_at, staffer.name
            )
            .outerjoin(staffer, staffer.id == PickupAlert.acknowledged_by)
            .where(PickupAlert.order_id.in_([o.id for o in shown]))
            .order_by(PickupAlert.id)
        ).all()
        for order_id, status, handed_over_at, name in rows:
            if status in OPEN_STATES and name is not None:
                coming[order_id] = first_name(name)
            if handed_over_at is not None:
                handed[order_id] = handed_over_at
    out = []
    for order in shown:
        on_the_way = coming.get(order.id) if order.status != "handed_over" else None
        out.append(
            MyPickup(
                order_id=order.id,
                order_number=order.number,
                store_id=order.store_id,
                status=order.status,
                stage=pickup_stage(order.status, on_the_way),
                staff_on_the_way=on_the_way,
                handed_over_at=handed.get(order.id, order.updated_at)
                if order.status == "handed_over"
                else None,
            )
        )
    return out
