"""The shopper's own API (authenticated by the app's device token): check in, pickups, coupons,
surveys."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import available_timezones

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from store_server.accounts.auth import require_device, token_digest
from store_server.db.database import rows_changed
from store_server.db.models import (
    Base,
    Beacon,
    Consent,
    Coupon,
    CustomerTag,
    Device,
    Observation,
    PickupAlert,
    PickupOrder,
    Shopper,
    StaffUser,
    Store,
    Survey,
    Zone,
)
from store_server.engagement import engine as engagement
from store_server.engagement.coupons import coupon_out
from store_server.engagement.qr import coupon_qr_png_data_uri
from store_server.pickup.alerts import raise_pickup_alerts
from store_server.pickup.lifecycle import OPEN_STATES
from store_server.presence import fusion
from store_server.presence.fusion import LOST_TIMEOUT_S
from store_server.presence.visits import (
    FusionStates,
    apply_signals,
    current_state,
    fusion_params,
    open_visit,
    start_visit,
)
from store_server.web.context import publish, services
from store_server.web.errors import ApiError
from store_server.web.openapi import documented
from store_server.web.schemas import (
    CheckinIn,
    ConsentsIn,
    CouponsOut,
    OptInIn,
    OptInOut,
    PauseIn,
    PickupOut,
    PickupsOut,
    ProfileOut,
    SightingsIn,
    SurveyAnswerIn,
    TagIn,
    TagOut,
    parse_body,
    registered_id_problem,
)

bp = Blueprint("shoppers", __name__, url_prefix="/api/v1/me")


# A new EID every 1,024 s (Eddystone's usual range): short enough that a bystander cannot
# follow a phone for long, long enough that the server's tables stay small.
ROTATION_EXPONENT = 10
optin_bp = Blueprint("optin", __name__, url_prefix="/api/v1")


@dataclass(frozen=True)
class Enrolment:
    """A new shopper's app: what it keeps to advertise EIDs and to call the API."""

    shopper_id: int
    identity_key: bytes
    device_token: str
    rotation_exponent: int


def enrol_shopper(
    session: Session,
    store_id: int,
    first_name: str,
    now: float,
    *,
    consents: Iterable[tuple[str, str]],
    email: str | None = None,
    phone: str | None = None,
    timezone: str = "UTC",
) -> Enrolment:
    """Create a shopper with these (purpose, channel) consents and their app's device."""
    shopper = Shopper(
        first_name=first_name, email=email, phone=phone, timezone=timezone, created_at=now
    )
    session.add(shopper)
    session.flush()
    for purpose, channel in set(consents):
        session.add(
            Consent(
                shopper_id=shopper.id,
                store_id=store_id,
                purpose=purpose,
                channel=channel,
                granted_at=now,
            )
        )
    token, key = secrets.token_urlsafe(32), secrets.token_bytes(16)
    session.add(
        Device(
            shopper_id=shopper.id,
            identity_key=key,
            rotation_exponent=ROTATION_EXPONENT,
            created_at=now,
            token_sha256=token_digest(token),
        )
    )
    return Enrolment(shopper.id, key, token, ROTATION_EXPONENT)


@optin_bp.get("/stores/<int:store_id>/info")
@documented("A store's name and curbside bays", errors=(404,), public=True)
def store_info(store_id: int) -> tuple[Response, int]:
    """Public facts a shopper's page needs: the store's name and its curbside bays."""
    with services().db.sessions() as session:
        store = session.get(Store, store_id)
        if store is None:
            raise ApiError(404, "unknown_store", f"no store {store_id}")
        bays = session.scalars(
            select(Zone).where(Zone.store_id == store_id, Zone.kind == "bay").order_by(Zone.name)
        ).all()
        out = {
            "store_id": store.id,
            "name": store.name,
            "bays": [{"name": b.name, "label": b.label} for b in bays],
        }
    return jsonify(out), 200


@optin_bp.post("/optin")
@documented(
    "Join a store's app with explicit consents",
    body=OptInIn,
    answer=OptInOut,
    status=201,
    errors=(400, 404, 409),
    public=True,
)
def opt_in() -> tuple[Response, int]:
    """Join a store's app with explicit consents; returns the app's token and identity key."""
    body = parse_body(OptInIn, request.get_json(silent=True))
    if body.timezone not in available_timezones():
        raise ApiError(400, "invalid_timezone", f"unknown time zone {body.timezone!r}")
    wants_email = any(c.channel == "email" for c in body.consents)
    if wants_email and not body.email:
        raise ApiError(400, "email_required", "e-mail messages need an e-mail address")
    wants_sms = any(c.channel == "sms" for c in body.consents)
    if wants_sms and not body.phone:
        raise ApiError(400, "phone_required", "text messages need a phone number")
    now = services().clock()
    with services().db.transaction() as session:
        if session.get(Store, body.store_id) is None:
            raise ApiError(404, "unknown_store", f"no store {body.store_id}")
        # The address is kept only if the shopper chose e-mail as a channel.
        email = body.email.strip().lower() if wants_email and body.email else None
        if email and session.scalar(select(Shopper.id).where(Shopper.email == email)):
            raise ApiError(409, "email_taken", "this e-mail address is already registered")
        enrolled = enrol_shopper(
            session,
            body.store_id,
            body.first_name.strip(),
            now,
            email=email,
            timezone=body.timezone,
            phone=body.phone if wants_sms else None,  # kept only for text messages
            consents=[(c.purpose, c.channel) for c in body.consents],
        )
    services().resolver.invalidate()
    out = OptInOut(
        device_token=enrolled.device_token,
        identity_key=enrolled.identity_key.hex(),
        rotation_exponent=enrolled.rotation_exponent,
        shopper_id=enrolled.shopper_id,
    )
    return jsonify(out.model_dump()), 201


@bp.get("")
@documented("What the store knows of me", answer=ProfileOut, errors=(401,))
def profile() -> tuple[Response, int]:
    """What the store knows of me: name, e-mail (if given for e-mail messages), consents."""
    device = require_device()
    with services().db.sessions() as session:
        shopper = session.get(Shopper, device.shopper_id)
        assert shopper is not None  # noqa: S101 - the device's foreign key
        consents = session.scalars(
            select(Consent).where(Consent.shopper_id == shopper.id).order_by(Consent.id)
        ).all()
        out = ProfileOut(
            shopper_id=shopper.id,
            first_name=shopper.first_name,
            email=shopper.email,
            phone=shopper.phone,
            timezone=shopper.timezone,
            consents=[
                {
                    "store_id": c.store_id,
                    "purpose": c.purpose,
                    "channel": c.channel,
                    "granted_at": c.granted_at,
                }
                for c in consents
            ],
        )
    return jsonify(out.model_dump()), 200


@bp.put("/consents")
@documented("Set my consents for one store", body=ConsentsIn, errors=(400, 401))
def replace_consents() -> tuple[Response, int]:
    """Set exactly these consents for one store (an empty list withdraws all of them)."""
    device = require_device()
    body = parse_body(ConsentsIn, request.get_json(silent=True))
    now = services().clock()
    with services().db.transaction() as session:
        shopper = session.get(Shopper, device.shopper_id)
        assert shopper is not None  # noqa: S101 - the device's foreign key
        if any(c.channel == "email" for c in body.consents) and not shopper.email:
            raise ApiError(400, "email_required", "e-mail messages need an e-mail address")
        if any(c.channel == "sms" for c in body.consents):
            if not shopper.phone:
                raise ApiError(400, "phone_required", "text messages need a phone number")
            shopper.sms_stopped = None  # ticking SMS again in the app overrides a texted STOP
        session.execute(
            delete(Consent).where(
                Consent.shopper_id == device.shopper_id, Consent.store_id == body.store_id
            )
        )
        for purpose, channel in {(c.purpose, c.channel) for c in body.consents}:
            session.add(
                Consent(
                    shopper_id=device.shopper_id,
                    store_id=body.store_id,
                    purpose=purpose,
                    channel=channel,
                    granted_at=now,
                )
            )
    return jsonify({"store_id": body.store_id, "consents": len(body.consents)}), 200


@bp.post("/pause")
@documented("Pause arrival detection for a while", body=PauseIn, errors=(400, 401))
def pause_detection() -> tuple[Response, int]:
    """Stop being recognised for a while (0 minutes resumes at once)."""
    device = require_device()
    body = parse_body(PauseIn, request.get_json(silent=True) or {})
    until = services().clock() + body.minutes * 60 if body.minutes else None
    with services().db.transaction() as session:
        session.execute(
            update(Shopper)
            .where(Shopper.id == device.shopper_id)
            .values(detection_paused_until=until)
        )
    return jsonify({"paused_until": until}), 200


@bp.get("/export")
@documented("Download everything that names me (JSON)", errors=(401,))
def export() -> tuple[Response, int]:
    """Everything the store keeps that names me, as JSON (a download)."""
    device = require_device()
    with services().db.sessions() as session:
        document = shopper_export(session, device.shopper_id)
    response = jsonify(document)
    response.headers["Content-Disposition"] = "attachment; filename=my-data.json"
    return response, 200


@bp.delete("")
@documented("Erase everything that names me", errors=(401,))
def erase() -> tuple[Response, int]:
    """Erase me: every row that names me goes, with my keys, so my phone is a stranger again."""
    device = require_device()
    with services().db.transaction() as session:
        session.execute(delete(Shopper).where(Shopper.id == device.shopper_id))
    services().resolver.invalidate()
    return jsonify({"erased": True}), 200


def shopper_export(session: Session, shopper_id: int) -> dict[str, Any]:
    """Every row naming the shopper, table by table (keys and token digests left out)."""
    left_out = {"identity_key", "token_sha256"}
    document: dict[str, Any] = {}
    for table in Base.metadata.sorted_tables:
        if "shopper_id" not in table.c and table.name != "shoppers":
            continue
        column = table.c.id if table.name == "shoppers" else table.c.shopper_id
        rows = session.execute(select(table).where(column == shopper_id)).mappings().all()
        document[table.name] = [{k: v for k, v in row.items() if k not in left_out} for row in rows]
    device_ids = [d["id"] for d in document.get("devices", [])]
    tag_ids = [t["id"] for t in document.get("customer_tags", [])]
    sightings = session.execute(
        select(Observation.gateway_id, Observation.rssi, Observation.seen_at)
        .where(Observation.device_id.in_(device_ids) | Observation.tag_id.in_(tag_ids))
        .order_by(Observation.seen_at)
    ).all()
    document["observations"] = [{"gateway_id": g, "rssi": r, "seen_at": t} for g, r, t in sightings]
    return document


@bp.post("/sightings")
@documented(
    "Store beacons the app heard (fused with gateways)", body=SightingsIn, errors=(400, 401, 403)
)
def report_sightings() -> tuple[Response, int]:
    """The app heard the store's beacons: fused with the gateways' readings to place the shopper."""
    device = require_device()
    body = parse_body(SightingsIn, request.get_json(silent=True))
    settings = services().settings
    states: FusionStates = services().fusion_states
    params = fusion_params(settings)
    now = services().clock()
    ignored: Counter[str] = Counter()
    with services().db.transaction() as session:
        if not _has_arrival_consent(session, device.shopper_id, body.store_id):
            raise ApiError(403, "no_consent", "arrival alerts are not switched on for this store")
        shopper = session.get(Shopper, device.shopper_id)
        assert shopper is not None  # noqa: S101 - the device's foreign key
        if shopper.detection_paused_until is not None and shopper.detection_paused_until > now:
            ignored["detection_paused"] = len(body.sightings)
            return jsonify(
                {"accepted": len(body.sightings), "used": 0, "ignored": dict(ignored)}
            ), 200
        wanted = {s.beacon.strip().lower() for s in body.sightings}
        places = {
            identifier: fusion.Place(kind or "floor", name)
            for identifier, kind, name in session.execute(
                select(Beacon.identifier, Zone.kind, Zone.name)
                .outerjoin(Zone, Zone.id == Beacon.zone_id)
                .where(Beacon.store_id == body.store_id, Beacon.identifier.in_(wanted))
            )
        }
        reports: list[fusion.BeaconReport] = []
        for sighting in body.sightings:
            place = places.get(sighting.beacon.strip().lower())
            if place is None:
                ignored["unregistered_beacon"] += 1
                continue
            reports.append(
                fusion.BeaconReport(
                    sighting.beacon.strip().lower(), place, sighting.rssi, sighting.seen_at
                )
            )
        if not reports:
            return jsonify(
                {"accepted": len(body.sightings), "used": 0, "ignored": dict(ignored)}
            ), 200
        before = {
            device.shopper_id: current_state(
                session, states, body.store_id, device.shopper_id, params, now
            )
        }
        outcome = apply_signals(
            session,
            body.store_id,
            None,
            before,
            {device.shopper_id: list[fusion.Signal](reports)},
            params,
            now,
        )
        ignored.update(outcome.ignored)
        why = {
            device.shopper_id: (1.0, [{"signal": "phone_beacon", "detail": reports[-1].beacon_id}])
        }
        alerts = raise_pickup_alerts(session, body.store_id, outcome.entered, None, why, now)
        outbound = services().outbound
        offers = engagement.on_presence_events(session, outcome.events, now, outbound.reach)
    states.put(body.store_id, device.shopper_id, outcome.states[device.shopper_id])
    publish(alerts + outcome.events)
    outbound.submit_all(offers)
    used = len(reports) - sum(outcome.ignored.values())
    return jsonify({"accepted": len(body.sightings), "used": used, "ignored": dict(ignored)}), 200


def _has_arrival_consent(session: Session, shopper_id: int, store_id: int) -> bool:
    return (
        session.scalar(
            select(Consent.id).where(
                Consent.shopper_id == shopper_id,
                Consent.store_id == store_id,
                Consent.purpose == "arrival",
            )
        )
        is not None
    )


@bp.post("/checkin")
@documented(
    'The shopper says "I\'m here" (optionally at a bay)', body=CheckinIn, errors=(400, 401, 403)
)
def check_in() -> tuple[Response, int]:
    """ "I'm here" (optionally "at bay 3"): an arrival as sure as it gets."""
    device = require_device()
    body = parse_body(CheckinIn, request.get_json(silent=True))
    now = services().clock()
    with services().db.transaction() as session:
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
        if visit is not None and now - visit.last_seen_at <= LOST_TIMEOUT_S:
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


@bp.post("/tags")
@documented(
    "Register a key-fob or car tag", body=TagIn, answer=TagOut, status=201, errors=(400, 401, 409)
)
def register_tag() -> tuple[Response, int]:
    """Register a key-fob or car tag: heard at a door or bay, it announces the shopper."""
    device = require_device()
    body = parse_body(TagIn, request.get_json(silent=True))
    identifier = body.id.strip().lower()
    if registered_id_problem(body.kind, identifier) is not None:
        raise ApiError(400, "invalid_tag_id", f"not a {body.kind} id (see docs/protocol.md)")
    with services().db.transaction() as session:
        tag = CustomerTag(
            shopper_id=device.shopper_id,
            kind=body.kind,
            identifier=identifier,
            label=body.label,
            created_at=services().clock(),
        )
        try:
            with session.begin_nested():
                session.add(tag)
        except IntegrityError as exc:
            raise ApiError(409, "tag_taken", "this tag is already registered") from exc
        out = TagOut(tag_id=tag.id, kind=tag.kind, id=tag.identifier, label=tag.label)
    return jsonify(out.model_dump()), 201


@bp.delete("/tags/<int:tag_id>")
@documented("Forget a tag", errors=(401, 404))
def remove_tag(tag_id: int) -> tuple[Response, int]:
    """Forget one of the shopper's tags (and every sighting of it)."""
    device = require_device()
    with services().db.transaction() as session:
        deleted = session.execute(
            delete(CustomerTag).where(
                CustomerTag.id == tag_id, CustomerTag.shopper_id == device.shopper_id
            )
        )
        if rows_changed(deleted) != 1:
            raise ApiError(404, "unknown_tag", f"you have no tag {tag_id}")
    return jsonify({"removed": True}), 200


@bp.get("/pickups")
@documented("The shopper's open pickup orders", answer=PickupsOut, errors=(401,))
def my_pickups() -> tuple[Response, int]:
    """The shopper's open pickup orders and who, if anyone, is on the way."""
    device = require_device()
    staffer = aliased(StaffUser)
    with services().db.sessions() as session:
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
@documented("The shopper's coupons", answer=CouponsOut, errors=(401,))
def my_coupons() -> tuple[Response, int]:
    """The shopper's coupons, newest first."""
    device = require_device()
    with services().db.sessions() as session:
        coupons = session.scalars(
            select(Coupon)
            .where(Coupon.shopper_id == device.shopper_id)
            .order_by(Coupon.issued_at.desc())
        ).all()
        base = request.url_root.rstrip("/")
        out = [
            {**coupon_out(c).model_dump(), "qr_png": coupon_qr_png_data_uri(base, c.code)}
            for c in coupons
        ]
    return jsonify({"coupons": out}), 200


@bp.post("/surveys/<int:survey_id>")
@documented("Answer the one-question survey", body=SurveyAnswerIn, errors=(400, 401, 404, 409))
def answer_survey(survey_id: int) -> tuple[Response, int]:
    """Answer the one-question survey, once."""
    device = require_device()
    body = parse_body(SurveyAnswerIn, request.get_json(silent=True))
    now = services().clock()
    outbound = services().outbound
    with services().db.transaction() as session:
        result = session.execute(
            update(Survey)
            .where(
                Survey.id == survey_id,
                Survey.shopper_id == device.shopper_id,
                Survey.answered_at.is_(None),
            )
            .values(score=body.score, comment=body.comment, answered_at=now)
        )
        survey = session.get(Survey, survey_id)
        if rows_changed(result) != 1 or survey is None:
            if survey is None or survey.shopper_id != device.shopper_id:
                raise ApiError(404, "unknown_survey", f"no survey {survey_id} for you")
            raise ApiError(409, "already_answered", "this survey was already answered")
        offers = engagement.on_trigger(
            session,
            survey.store_id,
            device.shopper_id,
            engagement.Trigger("survey_answered"),
            now,
            outbound.reach,
        )
    outbound.submit_all(offers)
    return jsonify({"answered": True}), 200
