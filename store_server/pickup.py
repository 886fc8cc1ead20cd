"""Pickup matching: a shopper with a ready order entered, so staff get an arrival alert."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import select
from sqlalchemy.orm import Session

from store_server.auth import require_staff
from store_server.models import PickupAlert, PickupOrder, Shopper, Visit, Zone
from store_server.presence import Reading, entry_confidence
from store_server.realtime import staff_room
from store_server.schemas import ArrivalOut, ArrivalsOut, Reason

bp = Blueprint("pickup", __name__, url_prefix="/api/v1/stores")
# Alerts in these states still need a staffer.
OPEN_ALERT_STATES = ("raised",)


def raise_pickup_alerts(
    session: Session,
    store_id: int,
    entered: Sequence[Visit],
    zone: Zone | None,
    readings_by_shopper: Mapping[int, Reading],
    now: float,
) -> list[tuple[str, dict[str, Any]]]:
    """Raise one alert per ready order of each shopper who just entered; return the events."""
    settings = current_app.extensions["store_settings"]
    events: list[tuple[str, dict[str, Any]]] = []
    for visit in entered:
        orders = session.scalars(
            select(PickupOrder).where(
                PickupOrder.store_id == store_id,
                PickupOrder.shopper_id == visit.shopper_id,
                PickupOrder.status == "ready",
            )
        ).all()
        reading = readings_by_shopper[visit.shopper_id]
        for order in orders:
            alert = PickupAlert(
                store_id=store_id,
                order_id=order.id,
                visit_id=visit.id,
                status="raised",
                raised_at=now,
                zone_id=zone.id if zone else None,
                confidence=entry_confidence(reading, settings.entry_rssi_dbm),
                reasons=[
                    {"signal": "eddystone_eid", "gateway": reading.gateway_id, "rssi": reading.rssi}
                ],
            )
            session.add(alert)
            session.flush()
            shopper = session.get(Shopper, visit.shopper_id)
            assert shopper is not None  # noqa: S101 - the foreign key guarantees it
            payload = arrival_out(alert, order, shopper, visit, zone).model_dump()
            events.append((staff_room(store_id), payload))
    return events


def arrival_out(
    alert: PickupAlert, order: PickupOrder, shopper: Shopper, visit: Visit, zone: Zone | None
) -> ArrivalOut:
    """What a staff tablet shows of an arrival: first name, order, items, where, since when."""
    return ArrivalOut(
        alert_id=alert.id,
        store_id=alert.store_id,
        visit_id=visit.id,
        first_name=shopper.first_name,
        order_number=order.number,
        items=order.items,
        where=zone.label if zone else "in the store",
        arrived_at=visit.started_at,
        status=alert.status,
        confidence=alert.confidence,
        reasons=[Reason.model_validate(r) for r in alert.reasons],
    )


@bp.get("/<int:store_id>/arrivals")
def list_arrivals(store_id: int) -> tuple[Response, int]:
    """The store's open pickup arrivals, oldest first (a tablet loads and re-syncs with this)."""
    require_staff(store_id)
    with current_app.extensions["store_db"].sessions() as session:
        rows = session.execute(
            select(PickupAlert, PickupOrder, Shopper, Visit, Zone)
            .join(PickupOrder, PickupOrder.id == PickupAlert.order_id)
            .join(Shopper, Shopper.id == PickupOrder.shopper_id)
            .join(Visit, Visit.id == PickupAlert.visit_id)
            .outerjoin(Zone, Zone.id == PickupAlert.zone_id)
            .where(PickupAlert.store_id == store_id, PickupAlert.status.in_(OPEN_ALERT_STATES))
            .order_by(PickupAlert.raised_at, PickupAlert.id)
        ).all()
        out = ArrivalsOut(arrivals=[arrival_out(*row) for row in rows])
    return jsonify(out.model_dump()), 200
