"""The pickup API staff tablets drive: open arrivals, acknowledge, hand over, exchanges."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from store_server.accounts.auth import StaffIdentity
from store_server.pickup import alerts
from store_server.pickup.views import ArrivalOut
from store_server.web.auth import authorise
from store_server.web.context import services
from store_server.web.openapi import documented
from store_server.web.schemas import optional_json, parse_body
from store_server.web.schemas.pickup import ArrivalsOut, ExchangeIn, ExchangeOut, HandoverIn

bp = Blueprint("pickup", __name__, url_prefix="/api/v1/stores")


def _staffer(staff: StaffIdentity) -> alerts.Staffer:
    return alerts.Staffer(staff.staff_id, staff.name)


def _exchange(body: ExchangeIn) -> alerts.ExchangeLine:
    return alerts.ExchangeLine(body.kind, [i.model_dump() for i in body.items], body.note)


@bp.get("/<int:store_id>/arrivals")
@documented("Open pickup arrivals of a store", answer=ArrivalsOut, errors=(401, 403))
def list_arrivals(store_id: int) -> tuple[Response, int]:
    """The store's open pickup arrivals, oldest first (a tablet loads and re-syncs with this)."""
    authorise(store_id)
    with services().db.sessions() as session:
        out = ArrivalsOut(arrivals=alerts.open_arrivals(session, store_id))
    return jsonify(out.model_dump()), 200


@bp.post("/<int:store_id>/alerts/<int:alert_id>/acknowledge")
@documented(
    "A staffer is on the way (first wins; 409 names who did)",
    answer=ArrivalOut,
    errors=(401, 403, 404, 409),
)
def acknowledge(store_id: int, alert_id: int) -> tuple[Response, int]:
    """ "On my way": the first staffer wins; the shopper is told who is coming."""
    staff = authorise(store_id)
    now = services().clock()
    with services().db.transaction() as session:
        change = alerts.acknowledge(session, store_id, alert_id, _staffer(staff), now)
    services().outbound.submit_all(change.jobs)
    services().publisher.publish(change.events)
    return jsonify(change.arrival.model_dump()), 200


@bp.post("/<int:store_id>/alerts/<int:alert_id>/handover")
@documented(
    "Hand the order over (optionally recording an exchange or return)",
    body=HandoverIn,
    body_required=False,
    answer=ArrivalOut,
    errors=(400, 401, 403, 404, 409),
)
def hand_over(store_id: int, alert_id: int) -> tuple[Response, int]:
    """The order changed hands: close the alert, thank the shopper with a coupon and a survey."""
    staff = authorise(store_id)
    body = parse_body(HandoverIn, optional_json(request))
    settings = services().settings
    now = services().clock()
    outbound = services().outbound
    with services().db.transaction() as session:
        change = alerts.hand_over(
            session,
            store_id,
            alert_id,
            _staffer(staff),
            _exchange(body.exchange) if body.exchange is not None else None,
            now,
            settings.thanks_coupon_valid_s,
            outbound.reach,
        )
    services().publisher.publish(change.events)
    outbound.submit_all(change.jobs)
    return jsonify(change.arrival.model_dump()), 200


@bp.post("/<int:store_id>/orders/<int:order_id>/exchanges")
@documented(
    "Record an exchange or return against an order",
    body=ExchangeIn,
    answer=ExchangeOut,
    status=201,
    errors=(400, 401, 403, 404, 409),
)
def record_exchange(store_id: int, order_id: int) -> tuple[Response, int]:
    """Record an exchange or return against an order of this store."""
    staff = authorise(store_id)
    body = parse_body(ExchangeIn, request.get_json(silent=True))
    with services().db.transaction() as session:
        exchange_id = alerts.record_exchange(
            session, store_id, order_id, _exchange(body), staff.staff_id, services().clock()
        )
    return jsonify({"exchange_id": exchange_id, "order_id": order_id, "kind": body.kind}), 201
