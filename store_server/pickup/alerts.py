"""Pickup: matching arrivals to ready orders, and the alert lifecycle staff drive from tablets.

raised -> acknowledged ("on my way") -> handed_over, or expired. Every transition is one
conditional UPDATE, so two tablets acting at once cannot both win.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from store_server.db.database import rows_changed
from store_server.db.models import (
    OrderExchange,
    PickupAlert,
    PickupOrder,
    Shopper,
    StaffUser,
    Survey,
    Visit,
    Zone,
)
from store_server.engagement import engine as engagement
from store_server.engagement.coupons import coupon_out, issue_coupon
from store_server.events import Audience, Event
from store_server.messaging.outbound import Job, Reach, urgent_sms
from store_server.pickup.lifecycle import OPEN_STATES, first_name
from store_server.pickup.views import ArrivalOut, Reason
from store_server.problems import DomainError, Refusal
from store_server.vocabulary import AlertStatus, CampaignTrigger

THANKS_OFFER = "10 % off your next visit: thank you for collecting with us"
THANKS_PERCENT_OFF = 10
SURVEY_QUESTION = "How likely are you to recommend us to a friend? (0 to 10)"


def raise_pickup_alerts(
    session: Session,
    store_id: int,
    visits: Sequence[Visit],
    zone: Zone | None,
    reasons: dict[int, tuple[float, list[dict[str, Any]]]],
    now: float,
) -> list[Event]:
    """Raise one alert per ready order of each visiting shopper, at most one per order and visit.

    Args:
        reasons: per shopper id, the confidence and the reasons behind the arrival.
    """
    events: list[Event] = []
    for visit in visits:
        orders = session.scalars(
            select(PickupOrder).where(
                PickupOrder.store_id == store_id,
                PickupOrder.shopper_id == visit.shopper_id,
                PickupOrder.status == "ready",
            )
        ).all()
        confidence, why = reasons[visit.shopper_id]
        for order in orders:
            alert = PickupAlert(
                store_id=store_id,
                order_id=order.id,
                visit_id=visit.id,
                status="raised",
                raised_at=now,
                zone_id=zone.id if zone else None,
                confidence=confidence,
                reasons=why,
                escalation_level=0,
            )
            try:
                with session.begin_nested():
                    session.add(alert)
            except IntegrityError:
                continue  # this order was already alerted during this visit
            order.status = "arrived"
            order.updated_at = now
            session.flush()
            events.append(
                Event("arrival", arrival(session, alert.id).model_dump(), Audience.staff(store_id))
            )
    return events


def _arrivals(session: Session, *conditions: ColumnElement[bool]) -> list[ArrivalOut]:
    acknowledger = aliased(StaffUser)
    rows = session.execute(
        select(PickupAlert, PickupOrder, Shopper, Visit, Zone, acknowledger.name)
        .join(PickupOrder, PickupOrder.id == PickupAlert.order_id)
        .join(Shopper, Shopper.id == PickupOrder.shopper_id)
        .join(Visit, Visit.id == PickupAlert.visit_id)
        .outerjoin(Zone, Zone.id == PickupAlert.zone_id)
        .outerjoin(acknowledger, acknowledger.id == PickupAlert.acknowledged_by)
        .where(*conditions)
        .order_by(PickupAlert.raised_at, PickupAlert.id)
    ).all()
    return [
        ArrivalOut(
            alert_id=alert.id,
            store_id=alert.store_id,
            visit_id=visit.id,
            order_id=order.id,
            first_name=shopper.first_name,
            order_number=order.number,
            items=order.items,
            where=zone.label if zone else "in the store",
            arrived_at=alert.raised_at,
            status=AlertStatus(alert.status),
            acknowledged_by=ack_name,
            acknowledged_at=alert.acknowledged_at,
            escalation_level=alert.escalation_level,
            escalated_at=alert.escalated_at,
            confidence=alert.confidence,
            reasons=[Reason.model_validate(r) for r in alert.reasons],
        )
        for alert, order, shopper, visit, zone, ack_name in rows
    ]


def arrival(session: Session, alert_id: int) -> ArrivalOut:
    """One alert as staff see it: first name, order, items, where, since when, who is going."""
    return _arrivals(session, PickupAlert.id == alert_id)[0]


def open_arrivals(session: Session, store_id: int) -> list[ArrivalOut]:
    """The store's open pickup arrivals, oldest first."""
    return _arrivals(session, PickupAlert.store_id == store_id, PickupAlert.status.in_(OPEN_STATES))


def _explain_refusal(session: Session, store_id: int, alert_id: int) -> DomainError:
    """Why a conditional update changed nothing: unknown alert, or who got there first."""
    alert = session.get(PickupAlert, alert_id)
    if alert is None or alert.store_id != store_id:
        return DomainError(Refusal.NOT_FOUND, "unknown_alert", f"no alert {alert_id} in this store")
    if alert.status == "acknowledged":
        by = session.get(StaffUser, alert.acknowledged_by) if alert.acknowledged_by else None
        return DomainError(
            Refusal.CONFLICT,
            "already_acknowledged",
            f"{by.name if by else 'someone'} is on the way",
            {"acknowledged_by": by.name if by else None, "acknowledged_at": alert.acknowledged_at},
        )
    return DomainError(
        Refusal.CONFLICT,
        f"alert_{alert.status}",
        f"this alert is already {alert.status.replace('_', ' ')}",
    )


@dataclass(frozen=True)
class Staffer:
    """The staffer acting on an alert."""

    staff_id: int
    name: str


@dataclass(frozen=True)
class ExchangeLine:
    """An exchange or return to record against an order (items as plain dicts)."""

    kind: str
    items: list[dict[str, Any]]
    note: str


@dataclass(frozen=True)
class AlertChange:
    """An alert after a staffer's action, the events to publish and the jobs to submit."""

    arrival: ArrivalOut
    events: list[Event]
    jobs: list[Job]


def acknowledge(
    session: Session, store_id: int, alert_id: int, staff: Staffer, now: float
) -> AlertChange:
    """ "On my way": the first staffer wins; the shopper is told who is coming."""
    result = session.execute(
        update(PickupAlert)
        .where(
            PickupAlert.id == alert_id,
            PickupAlert.store_id == store_id,
            PickupAlert.status == "raised",
        )
        .values(status="acknowledged", acknowledged_at=now, acknowledged_by=staff.staff_id)
    )
    if rows_changed(result) != 1:
        raise _explain_refusal(session, store_id, alert_id)
    out = arrival(session, alert_id)
    shopper_id = _shopper_of(session, alert_id)
    text = urgent_sms(
        session,
        shopper_id,
        store_id,
        "pickup_update",
        f"Order {out.order_number}",
        f"{staff.name} is on the way",
        now,
    )
    events = [
        Event("alert_updated", out.model_dump(), Audience.staff(store_id)),
        Event(
            "pickup_update",
            {
                "order_number": out.order_number,
                "status": "on_the_way",
                "staff_first_name": first_name(staff.name),
            },
            Audience.shopper(shopper_id),
        ),
    ]
    return AlertChange(out, events, [text] if text is not None else [])


def hand_over(
    session: Session,
    store_id: int,
    alert_id: int,
    staff: Staffer,
    exchange: ExchangeLine | None,
    now: float,
    thanks_coupon_valid_s: float,
    reach: Reach,
) -> AlertChange:
    """The order changed hands: close the alert, thank the shopper with a coupon and a survey.

    Returns the offers the hand-over triggered as the jobs.
    """
    alert = session.get(PickupAlert, alert_id)
    if alert is None or alert.store_id != store_id:
        raise DomainError(Refusal.NOT_FOUND, "unknown_alert", f"no alert {alert_id} in this store")
    order_updated = session.execute(
        update(PickupOrder)
        .where(PickupOrder.id == alert.order_id, PickupOrder.status != "cancelled")
        .values(status="handed_over", updated_at=now)
    )
    if rows_changed(order_updated) != 1:
        raise DomainError(
            Refusal.CONFLICT, "order_cancelled", "this order was cancelled: nothing to hand over"
        )
    result = session.execute(
        update(PickupAlert)
        .where(PickupAlert.id == alert_id, PickupAlert.status.in_(OPEN_STATES))
        .values(
            status="handed_over",
            handed_over_at=now,
            handed_over_by=staff.staff_id,
            closed_at=now,
        )
    )
    if rows_changed(result) != 1:
        raise _explain_refusal(session, store_id, alert_id)
    if exchange is not None:
        _record_exchange(session, alert.order_id, exchange, staff.staff_id, now)
    shopper_id = _shopper_of(session, alert_id)
    coupon = issue_coupon(
        session,
        store_id,
        shopper_id,
        "pickup_thanks",
        THANKS_OFFER,
        THANKS_PERCENT_OFF,
        now,
        thanks_coupon_valid_s,
    )
    survey = Survey(store_id=store_id, shopper_id=shopper_id, order_id=alert.order_id, sent_at=now)
    session.add(survey)
    session.flush()
    offers = engagement.on_trigger(
        session,
        store_id,
        shopper_id,
        engagement.Trigger(CampaignTrigger.PICKUP_HANDED_OVER, alert.visit_id),
        now,
        reach,
    )
    out = arrival(session, alert_id)
    thanks = {
        "order_number": out.order_number,
        "status": "handed_over",
        "coupon": coupon_out(coupon).model_dump(),
        "survey": {
            "id": survey.id,
            "question": SURVEY_QUESTION,
        },
    }
    events = [
        Event("alert_updated", out.model_dump(), Audience.staff(store_id)),
        Event("pickup_update", thanks, Audience.shopper(shopper_id)),
    ]
    return AlertChange(out, events, list(offers))


def record_exchange(
    session: Session,
    store_id: int,
    order_id: int,
    exchange: ExchangeLine,
    staff_id: int,
    now: float,
) -> int:
    """Record an exchange or return against an order of this store; its id."""
    order = session.get(PickupOrder, order_id)
    if order is None or order.store_id != store_id:
        raise DomainError(Refusal.NOT_FOUND, "unknown_order", f"no order {order_id} in this store")
    if order.status == "cancelled":
        raise DomainError(Refusal.CONFLICT, "order_cancelled", "this order was cancelled")
    row = _record_exchange(session, order_id, exchange, staff_id, now)
    session.flush()
    return row.id


def _record_exchange(
    session: Session, order_id: int, exchange: ExchangeLine, staff_id: int, now: float
) -> OrderExchange:
    row = OrderExchange(
        order_id=order_id,
        kind=exchange.kind,
        items=exchange.items,
        note=exchange.note,
        recorded_by=staff_id,
        recorded_at=now,
    )
    session.add(row)
    return row


def _shopper_of(session: Session, alert_id: int) -> int:
    shopper_id = session.scalar(
        select(PickupOrder.shopper_id)
        .join(PickupAlert, PickupAlert.order_id == PickupOrder.id)
        .where(PickupAlert.id == alert_id)
    )
    assert shopper_id is not None  # noqa: S101 - alerts exist only for matched orders
    return shopper_id
