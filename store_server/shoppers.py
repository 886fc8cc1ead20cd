"""The shopper's own API (authenticated by the app's device token): check in, pickups, coupons,
surveys."""

from __future__ import annotations

import re
import time

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from store_server.auth import require_device
from store_server.coupons import coupon_out
from store_server.errors import ApiError
from store_server.lifecycle import OPEN_STATES
from store_server.models import (
    Consent,
    Coupon,
    CustomerTag,
    PickupAlert,
    PickupOrder,
    StaffUser,
    Survey,
    Zone,
)
from store_server.pickup import publish, raise_pickup_alerts
from store_server.schemas import CheckinIn, PickupOut, SurveyAnswerIn, TagIn, TagOut, parse_body
from store_server.visits import open_visit, start_visit

bp = Blueprint("shoppers", __name__, url_prefix="/api/v1/me")
WALL_CLOCK = time.time


@bp.post("/checkin")
def check_in() -> tuple[Response, int]:
    """ "I'm here" (optionally "at bay 3"): an arrival as sure as it gets."""
    device = require_device()
    body = parse_body(CheckinIn, request.get_json(silent=True))
    settings = current_app.extensions["store_settings"]
    now = WALL_CLOCK()
    with current_app.extensions["store_db"].transaction() as session:
        consent = session.scalar(
            select(Consent.id).where(
                Consent.shopper_id == device.shopper_id,
                Consent.store_id == body.store_id,
                Consent.purpose == "arrival",
            )
        )
        if consent is None:
            raise ApiError(403, "no_consent", "arrival alerts are not switched on for this store")
        zone_name = body.bay or "entrance"
        zone = session.scalars(
            select(Zone).where(Zone.store_id == body.store_id, Zone.name == zone_name)
        ).first()
        if zone is None or (body.bay is not None and zone.kind != "bay"):
            raise ApiError(400, "unknown_bay", f"this store has no bay {zone_name!r}")
        visit = open_visit(session, body.store_id, device.shopper_id)
        if visit is not None and now - visit.last_seen_at <= settings.visit_timeout_s:
            visit.last_seen_at = now
        else:
            visit = start_visit(session, body.store_id, device.shopper_id, zone, now, stale=visit)
            if visit is None:
                visit = open_visit(session, body.store_id, device.shopper_id)
        assert visit is not None  # noqa: S101 - opened here or by the concurrent winner
        why = {device.shopper_id: (1.0, [{"signal": "manual_checkin", "detail": zone.label}])}
        events = raise_pickup_alerts(session, body.store_id, [visit], zone, why, now)
    publish(events)
    return jsonify({"checked_in": True, "where": zone.label, "alerts": len(events)}), 200


_TAG_ID_PATTERNS = {
    "ibeacon": re.compile(
        r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:\d{1,5}:\d{1,5}$"
    ),
    "altbeacon": re.compile(
        r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:\d{1,5}:\d{1,5}$"
    ),
    "eddystone_uid": re.compile(r"^[0-9a-f]{20}:[0-9a-f]{12}$"),
}


@bp.post("/tags")
def register_tag() -> tuple[Response, int]:
    """Register a key-fob or car tag: heard at a door or bay, it announces the shopper."""
    device = require_device()
    body = parse_body(TagIn, request.get_json(silent=True))
    identifier = body.id.strip().lower()
    if not _TAG_ID_PATTERNS[body.kind].match(identifier):
        raise ApiError(400, "invalid_tag_id", f"not a {body.kind} id (see docs/protocol.md)")
    with current_app.extensions["store_db"].transaction() as session:
        tag = CustomerTag(
            shopper_id=device.shopper_id,
            kind=body.kind,
            identifier=identifier,
            label=body.label,
            created_at=WALL_CLOCK(),
        )
        try:
            with session.begin_nested():
                session.add(tag)
        except IntegrityError as exc:
            raise ApiError(409, "tag_taken", "this tag is already registered") from exc
        out = TagOut(tag_id=tag.id, kind=tag.kind, id=tag.identifier, label=tag.label)
    return jsonify(out.model_dump()), 201


@bp.delete("/tags/<int:tag_id>")
def remove_tag(tag_id: int) -> tuple[Response, int]:
    """Forget one of the shopper's tags (and every sighting of it)."""
    device = require_device()
    with current_app.extensions["store_db"].transaction() as session:
        deleted = session.execute(
            delete(CustomerTag).where(
                CustomerTag.id == tag_id, CustomerTag.shopper_id == device.shopper_id
            )
        )
        if deleted.rowcount != 1:
            raise ApiError(404, "unknown_tag", f"you have no tag {tag_id}")
    return jsonify({"removed": True}), 200


@bp.get("/pickups")
def my_pickups() -> tuple[Response, int]:
    """The shopper's open pickup orders and who, if anyone, is on the way."""
    device = require_device()
    staffer = aliased(StaffUser)
    with current_app.extensions["store_db"].sessions() as session:
        rows = session.execute(
            select(PickupOrder, PickupAlert.status, staffer.name)
            .outerjoin(
                PickupAlert,
                (PickupAlert.order_id == PickupOrder.id) & PickupAlert.status.in_(OPEN_STATES),
            )
            .outerjoin(staffer, staffer.id == PickupAlert.acknowledged_by)
            .where(
                PickupOrder.shopper_id == device.shopper_id,
                PickupOrder.status.in_(("placed", "ready", "arrived")),
            )
            .order_by(PickupOrder.id)
        ).all()
    pickups = [
        PickupOut(
            order_number=o.number, store_id=o.store_id, status=o.status, staff_on_the_way=name
        ).model_dump()
        for o, _, name in rows
    ]
    return jsonify({"pickups": pickups}), 200


@bp.get("/coupons")
def my_coupons() -> tuple[Response, int]:
    """The shopper's coupons, newest first."""
    device = require_device()
    with current_app.extensions["store_db"].sessions() as session:
        coupons = session.scalars(
            select(Coupon)
            .where(Coupon.shopper_id == device.shopper_id)
            .order_by(Coupon.issued_at.desc())
        ).all()
        out = [coupon_out(c).model_dump() for c in coupons]
    return jsonify({"coupons": out}), 200


@bp.post("/surveys/<int:survey_id>")
def answer_survey(survey_id: int) -> tuple[Response, int]:
    """Answer the one-question survey, once."""
    device = require_device()
    body = parse_body(SurveyAnswerIn, request.get_json(silent=True))
    with current_app.extensions["store_db"].transaction() as session:
        result = session.execute(
            update(Survey)
            .where(
                Survey.id == survey_id,
                Survey.shopper_id == device.shopper_id,
                Survey.answered_at.is_(None),
            )
            .values(score=body.score, comment=body.comment, answered_at=WALL_CLOCK())
        )
        if result.rowcount != 1:
            survey = session.get(Survey, survey_id)
            if survey is None or survey.shopper_id != device.shopper_id:
                raise ApiError(404, "unknown_survey", f"no survey {survey_id} for you")
            raise ApiError(409, "already_answered", "this survey was already answered")
    return jsonify({"answered": True}), 200
