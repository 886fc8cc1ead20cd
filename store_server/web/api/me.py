"""`/api/v1/me`: the shopper's own API, authenticated by the app's device token.

Profile and consents, pausing detection, export and erasure, beacon sightings and check-in,
tags, pickups, coupons, the inbox, help requests, surveys, and this browser's Web Push
subscriptions.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request

from store_server.assistance import help_requests
from store_server.assistance.views import MyHelpRequestOut
from store_server.engagement.coupons import coupon_out
from store_server.engagement.qr import coupon_qr_png_data_uri
from store_server.messaging import push
from store_server.pickup.matching import claim_order, linked_open_orders
from store_server.presence.visits import fusion_params
from store_server.shoppers import checkin, consents, data, inbox, pickups, surveys, tags
from store_server.shoppers.coupons import shopper_coupons
from store_server.web.auth import require_device
from store_server.web.context import services
from store_server.web.errors import ApiError
from store_server.web.limits import CHECK_IN_PER_DEVICE, limits
from store_server.web.openapi import documented
from store_server.web.realtime import end_shopper_connections
from store_server.web.schemas import (
    CouponsOut,
    JsonObjectOut,
    optional_json,
    parse_body,
    registered_id_problem,
)
from store_server.web.schemas.help_requests import HelpAskIn, MyHelpRequestsOut
from store_server.web.schemas.me import (
    CheckinIn,
    CheckinOut,
    ClaimIn,
    ClaimOut,
    ConsentsIn,
    ConsentsSetOut,
    ErasedOut,
    InboxEntryOut,
    InboxMessage,
    InboxOut,
    PausedOut,
    PauseIn,
    PendingSurveyOut,
    PendingSurveysOut,
    PickupOut,
    PickupsOut,
    ProfileOut,
    PushSubscribedOut,
    PushSubscriptionIn,
    PushUnsubscribeIn,
    RemovedOut,
    SightingsIn,
    SightingsOut,
    SurveyAnsweredOut,
    SurveyAnswerIn,
    TagIn,
    TagOut,
)

bp = Blueprint("me", __name__, url_prefix="/api/v1/me")
# The push log lines keep the logger name they always had.
push_log = logging.getLogger("store_server.messaging.push")


@bp.get("")
@documented("What the store knows of me", answer=ProfileOut, errors=(401,), caller="shopper")
def profile() -> tuple[Response, int]:
    """What the store knows of me: name, e-mail (if given for e-mail messages), consents."""
    device = require_device()
    now = services().clock()
    with services().db.sessions() as session:
        found = consents.profile(session, device.shopper_id)
        shopper = found.shopper
        out = ProfileOut(
            shopper_id=shopper.id,
            first_name=shopper.first_name,
            email=shopper.email or shopper.unconfirmed_email,
            phone=shopper.phone,
            pickup_email=shopper.pickup_email,
            pickup_phone=shopper.pickup_phone,
            timezone=shopper.timezone,
            consents=[
                {
                    "store_id": c.store_id,
                    "purpose": c.purpose,
                    "channel": c.channel,
                    "granted_at": c.granted_at,
                }
                for c in found.consents
            ],
            detection_paused_until=consents.paused_until(shopper, now),
        )
    return jsonify(out.model_dump()), 200


@bp.put("/consents")
@documented(
    "Set my consents for one store",
    body=ConsentsIn,
    answer=ConsentsSetOut,
    errors=(400, 401, 404),
    caller="shopper",
)
def replace_consents() -> tuple[Response, int]:
    """Set exactly these consents for one store (an empty list withdraws all of them)."""
    device = require_device()
    body = parse_body(ConsentsIn, request.get_json(silent=True))
    now = services().clock()
    wanted = [(c.purpose, c.channel) for c in body.consents]
    with services().db.transaction() as session:
        still_consented = consents.replace_consents(
            session, device.shopper_id, body.store_id, wanted, now
        )
    if not still_consented:
        end_shopper_connections(device.shopper_id)
    return jsonify({"store_id": body.store_id, "consents": len(body.consents)}), 200


@bp.post("/pause")
@documented(
    "Pause arrival detection for a while (`minutes: 0` resumes at once)",
    answer=PausedOut,
    body=PauseIn,
    body_required=False,
    errors=(400, 401),
    caller="shopper",
)
def pause_detection() -> tuple[Response, int]:
    """Stop being recognised for a while; `minutes: 0` resumes at once (`paused_until` null)."""
    device = require_device()
    body = parse_body(PauseIn, optional_json(request))
    now = services().clock()
    with services().db.transaction() as session:
        until = consents.pause_detection(session, device.shopper_id, body.minutes, now)
    return jsonify({"paused_until": until}), 200


@bp.get("/export")
@documented(
    "Download everything that names me (JSON)",
    answer=JsonObjectOut,
    errors=(401,),
    caller="shopper",
)
def export() -> tuple[Response, int]:
    """Everything the store keeps that names me, as JSON (a download)."""
    device = require_device()
    with services().db.sessions() as session:
        document = data.shopper_export(session, device.shopper_id)
    response = jsonify(document)
    response.headers["Content-Disposition"] = "attachment; filename=my-data.json"
    return response, 200


@bp.delete("")
@documented("Erase everything that names me", answer=ErasedOut, errors=(401,), caller="shopper")
def erase() -> tuple[Response, int]:
    """Erase me: every row that names me goes, with my keys, so my phone is a stranger again."""
    device = require_device()
    with services().db.transaction() as session:
        data.erase_shopper(session, device.shopper_id)
    end_shopper_connections(device.shopper_id)
    return jsonify({"erased": True}), 200


@bp.post("/sightings")
@documented(
    "Store beacons the app heard (fused with gateways)",
    answer=SightingsOut,
    body=SightingsIn,
    errors=(400, 401, 403),
    caller="shopper",
)
def report_sightings() -> tuple[Response, int]:
    """The app heard the store's beacons: fused with the gateways' readings to place the shopper.

    `app_state` and `region` say why the app reports: an iPhone with the app in the background
    is woken by Core Location on entering (`enter`) or leaving (`exit`) the region of the
    store's iBeacons, at `region.at`; leaving closes her visit unless a gateway still hears
    her, and staying in the region counts as an entry (docs/protocol.md). A report with a
    region event may carry no sighting. A region event at a bad time is ignored like a
    sighting (`future_timestamp`, `stale_timestamp`, `out_of_order`).

    `ignored` counts, per reason, sightings never used as evidence: `unregistered_beacon`
    (no store has it), `other_store_beacon`, `rssi_out_of_range` (outside -120..0 dBm),
    `future_timestamp` / `stale_timestamp` (over 300 s off the server's clock), `out_of_order`,
    `detection_paused`.
    """
    device = require_device()
    body = parse_body(SightingsIn, request.get_json(silent=True))
    states = services().fusion_states
    params = fusion_params(services().settings)
    now = services().clock()
    outbound = services().outbound
    heard = [checkin.Sighting(s.beacon, s.rssi, s.seen_at) for s in body.sightings]
    region = None if body.region is None else checkin.RegionEvent(body.region.event, body.region.at)
    with services().db.transaction() as session:
        outcome = checkin.report_sightings(
            session,
            states,
            device.shopper_id,
            body.store_id,
            heard,
            params,
            now,
            outbound.reach,
            body.app_state,
            region,
        )
    if outcome.state is not None:
        states.put(body.store_id, device.shopper_id, outcome.state)
        services().publisher.publish(outcome.events)
        outbound.submit_all(outcome.offers)
    answer = {"accepted": outcome.accepted, "used": outcome.used, "ignored": dict(outcome.ignored)}
    return jsonify(answer), 200


@bp.post("/checkin")
@documented(
    'The shopper says "I\'m here" (optionally at a bay)',
    body=CheckinIn,
    answer=CheckinOut,
    errors=(400, 401, 403, 429),
    caller="shopper",
)
def check_in() -> tuple[Response, int]:
    """ "I'm here" (optionally "at bay 3"): an arrival as sure as it gets; `orders_linked` 0
    says the staff have no order of hers to bring."""
    device = require_device()
    limits().charge(CHECK_IN_PER_DEVICE, "check-in", str(device.device_id))
    body = parse_body(CheckinIn, request.get_json(silent=True))
    states = services().fusion_states
    params = fusion_params(services().settings)
    now = services().clock()
    outbound = services().outbound
    with services().db.transaction() as session:
        done = checkin.check_in(
            session,
            states,
            device.shopper_id,
            body.store_id,
            body.bay,
            params,
            now,
            outbound.reach,
        )
        linked = linked_open_orders(session, device.shopper_id, body.store_id)
    done.outcome.remember(states, body.store_id)
    services().publisher.publish(done.events)
    outbound.submit_all(done.outcome.offers)
    out = CheckinOut(checked_in=True, where=done.where, alerts=done.alerts, orders_linked=linked)
    return jsonify(out.model_dump()), 200


@bp.post("/claims")
@documented(
    "Link an order to me with the claim link from its ready message",
    body=ClaimIn,
    answer=ClaimOut,
    errors=(400, 401, 403, 409, 410),
    caller="shopper",
)
def claim() -> tuple[Response, int]:
    """Attach the order of a claim link (`#claim=TOKEN`) to me; again by me changes nothing.

    400 `claim_invalid` (forged, malformed or another store's), 410 `claim_expired` (or the
    order is over), 409 `claim_taken` (linked to someone else's phone).
    """
    device = require_device()
    body = parse_body(ClaimIn, request.get_json(silent=True))
    secret = services().settings.secret_key.encode()
    now = services().clock()
    with services().db.transaction() as session:
        done = claim_order(session, secret, device.shopper_id, body.store_id, body.token, now)
    out = ClaimOut(
        claimed=True,
        order_number=done.order_number,
        status=done.status,
        already_yours=done.already_mine,
    )
    return jsonify(out.model_dump()), 200


@bp.post("/tags")
@documented(
    "Register a key-fob or car tag",
    body=TagIn,
    answer=TagOut,
    status=201,
    errors=(400, 401, 409),
    caller="shopper",
)
def register_tag() -> tuple[Response, int]:
    """Register a key-fob or car tag: heard at a door or bay, it announces the shopper.

    400 `invalid_tag_id` (not an id of its kind), `tag_is_store_beacon` (a store beacon's id:
    every gateway hears it all day); 409 `tag_taken`.
    """
    device = require_device()
    body = parse_body(TagIn, request.get_json(silent=True))
    identifier = body.id.strip().lower()
    if registered_id_problem(body.kind, identifier) is not None:
        raise ApiError(400, "invalid_tag_id", f"not a {body.kind} id (see docs/protocol.md)")
    now = services().clock()
    with services().db.transaction() as session:
        tag = tags.register_tag(session, device.shopper_id, body.kind, identifier, body.label, now)
        out = TagOut(tag_id=tag.id, kind=tag.kind, id=tag.identifier, label=tag.label)
    return jsonify(out.model_dump()), 201


@bp.delete("/tags/<int:tag_id>")
@documented("Forget a tag", answer=RemovedOut, errors=(401, 404), caller="shopper")
def remove_tag(tag_id: int) -> tuple[Response, int]:
    """Forget one of the shopper's tags (and every sighting of it)."""
    device = require_device()
    with services().db.transaction() as session:
        tags.remove_tag(session, device.shopper_id, tag_id)
    return jsonify({"removed": True}), 200


@bp.get("/pickups")
@documented(
    "My pickup orders: open ones and those handed over in the last day",
    answer=PickupsOut,
    errors=(401,),
    caller="shopper",
)
def my_pickups() -> tuple[Response, int]:
    """My orders, one entry each, with the step they are at and who, if anyone, is coming."""
    device = require_device()
    now = services().clock()
    with services().db.sessions() as session:
        found = pickups.my_pickups(session, device.shopper_id, now)
    out = [
        PickupOut(
            order_id=p.order_id,
            order_number=p.order_number,
            store_id=p.store_id,
            status=p.status,
            stage=p.stage,
            staff_on_the_way=p.staff_on_the_way,
            handed_over_at=p.handed_over_at,
        ).model_dump()
        for p in found
    ]
    return jsonify({"pickups": out}), 200


@bp.get("/coupons")
@documented("The shopper's coupons", answer=CouponsOut, errors=(401,), caller="shopper")
def my_coupons() -> tuple[Response, int]:
    """The shopper's coupons, newest first."""
    device = require_device()
    with services().db.sessions() as session:
        coupons = shopper_coupons(session, device.shopper_id)
        base = request.url_root.rstrip("/")
        out = [
            {**coupon_out(c).model_dump(), "qr_png": coupon_qr_png_data_uri(base, c.code)}
            for c in coupons
        ]
    return jsonify({"coupons": out}), 200


@bp.get("/inbox")
@documented(
    "My inbox: offers sent to me, kept whatever the connection",
    answer=InboxOut,
    errors=(401,),
    caller="shopper",
)
def my_inbox() -> tuple[Response, int]:
    """Offers sent to me that are still valid, newest first: an offer decided while my page
    was closed is here when it opens (one entry per message, however often it reloads)."""
    device = require_device()
    now = services().clock()
    with services().db.sessions() as session:
        found = inbox.inbox(session, device.shopper_id, now)
    out = InboxOut(
        messages=[
            InboxEntryOut(
                store_id=e.store_id,
                sent_at=e.sent_at,
                seen=e.seen,
                message=InboxMessage.model_validate(e.content),
            )
            for e in found
        ]
    )
    return jsonify(out.model_dump()), 200


@bp.post("/help-requests")
@documented(
    '"Ask for help": every staff tablet of the store sees it (200: her open request already)',
    body=HelpAskIn,
    answer=MyHelpRequestOut,
    status=201,
    also=(200,),
    errors=(400, 401, 403),
    caller="shopper",
)
def ask_for_help() -> tuple[Response, int]:
    """Ask for help at a store, in the zone she picks or where presence places her (else "at
    the store"); a second tap while one is open returns it (200), never a duplicate."""
    device = require_device()
    body = parse_body(HelpAskIn, request.get_json(silent=True))
    now = services().clock()
    with services().db.transaction() as session:
        asked = help_requests.ask_for_help(
            session, device.shopper_id, body.store_id, body.zone, now
        )
    services().publisher.publish(asked.events)
    return jsonify(asked.request.model_dump()), 201 if asked.created else 200


@bp.get("/help-requests")
@documented("My open help requests", answer=MyHelpRequestsOut, errors=(401,), caller="shopper")
def my_help_requests() -> tuple[Response, int]:
    """My open help requests and who is coming: the page shows them again after a reload."""
    device = require_device()
    with services().db.sessions() as session:
        out = MyHelpRequestsOut(
            help_requests=help_requests.my_open_requests(session, device.shopper_id)
        )
    return jsonify(out.model_dump()), 200


@bp.get("/surveys")
@documented("My unanswered surveys", answer=PendingSurveysOut, errors=(401,), caller="shopper")
def my_surveys() -> tuple[Response, int]:
    """My surveys not answered yet, oldest first: the page shows them again after a reload."""
    device = require_device()
    with services().db.sessions() as session:
        found = surveys.pending_surveys(session, device.shopper_id)
    out = [
        PendingSurveyOut(
            id=p.survey_id,
            store_id=p.store_id,
            order_number=p.order_number,
            question=p.question,
            sent_at=p.sent_at,
        ).model_dump()
        for p in found
    ]
    return jsonify({"surveys": out}), 200


@bp.post("/surveys/<int:survey_id>")
@documented(
    "Answer the one-question survey",
    answer=SurveyAnsweredOut,
    body=SurveyAnswerIn,
    errors=(400, 401, 404, 409),
    caller="shopper",
)
def answer_survey(survey_id: int) -> tuple[Response, int]:
    """Answer the one-question survey, once."""
    device = require_device()
    body = parse_body(SurveyAnswerIn, request.get_json(silent=True))
    now = services().clock()
    outbound = services().outbound
    with services().db.transaction() as session:
        offers = surveys.answer_survey(
            session, device.shopper_id, survey_id, body.score, body.comment, now, outbound.reach
        )
    outbound.submit_all(offers)
    return jsonify({"answered": True}), 200


@bp.post("/push-subscriptions")
@documented(
    "Store this browser's Web Push subscription (upsert by endpoint; 200 if it existed)",
    body=PushSubscriptionIn,
    answer=PushSubscribedOut,
    status=201,
    also=(200,),
    errors=(400, 401),
    caller="shopper",
)
def subscribe_push() -> tuple[Response, int]:
    """Store this browser's subscription for me (upsert by endpoint; a browser that changed
    hands moves to its new shopper)."""
    device = require_device()
    body = parse_body(PushSubscriptionIn, request.get_json(silent=True))
    subscription = push.Subscription(body.endpoint, body.keys.p256dh, body.keys.auth)
    now = services().clock()
    with services().db.transaction() as session:
        created = push.subscribe(session, device.shopper_id, subscription, now)
    push_log.info("event=push_subscribed shopper=%s created=%s", device.shopper_id, created)
    out = PushSubscribedOut(subscribed=True, created=created)
    return jsonify(out.model_dump()), 201 if created else 200


@bp.delete("/push-subscriptions")
@documented(
    "Forget a Web Push subscription (idempotent)",
    answer=RemovedOut,
    body=PushUnsubscribeIn,
    errors=(400, 401),
    caller="shopper",
)
def unsubscribe_push() -> tuple[Response, int]:
    """Forget one of my browser's subscriptions (idempotent: an unknown endpoint is fine)."""
    device = require_device()
    body = parse_body(PushUnsubscribeIn, request.get_json(silent=True))
    with services().db.transaction() as session:
        removed = push.unsubscribe(session, device.shopper_id, body.endpoint)
    push_log.info("event=push_unsubscribed shopper=%s removed=%s", device.shopper_id, removed)
    return jsonify({"removed": removed}), 200
