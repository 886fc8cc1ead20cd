"""The unauthenticated shopper-facing API: joining a store's app, a store's public facts, and
the Web Push key."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, request

from store_server.messaging.channels.webpush import VapidKeyError, VapidKeys, ensure_vapid_keys
from store_server.shoppers import recovery
from store_server.shoppers.enrolment import PickupContact, check_opt_in, opt_in, store_facts
from store_server.web.context import services
from store_server.web.errors import ApiError
from store_server.web.limits import OPT_IN_PER_ADDRESS, client_address, limits
from store_server.web.openapi import documented
from store_server.web.realtime import end_shopper_connections
from store_server.web.schemas import parse_body
from store_server.web.schemas.public import (
    OptInIn,
    OptInOut,
    PushKeyOut,
    RecoveryErasedOut,
    RecoveryLinkIn,
    RecoveryRequestIn,
    RecoveryRequestOut,
    StoreInfoOut,
)

bp = Blueprint("public", __name__, url_prefix="/api/v1")
# The log lines keep the logger name they always had.
log = logging.getLogger("store_server.messaging.push")
VAPID_EXTENSION = "store_vapid_keys"


@bp.get("/stores/<int:store_id>/info")
@documented(
    "A store's name, curbside bays, zones, and phone and web page to reach a person",
    answer=StoreInfoOut,
    errors=(404,),
    public=True,
)
def store_info(store_id: int) -> tuple[Response, int]:
    """Public facts a shopper's page needs: the store's name, its curbside bays, the zones she
    may ask for help in, and the phone and web page where she reaches a person."""
    with services().db.sessions() as session:
        facts = store_facts(session, store_id)
    out = {
        "store_id": facts.store_id,
        "name": facts.name,
        "bays": [{"name": name, "label": label} for name, label in facts.bays],
        "zones": [{"name": name, "label": label} for name, label in facts.zones],
        "phone": facts.help_phone,
        "web_page": facts.help_url,
    }
    return jsonify(out), 200


@bp.post("/optin")
@documented(
    "Join a store's app with explicit consents",
    body=OptInIn,
    answer=OptInOut,
    status=201,
    errors=(400, 404, 429),
    public=True,
)
def join() -> tuple[Response, int]:
    """Join a store's app with explicit consents; returns the app's token and identity key.

    With arrival alerts, `pickup_email` / `pickup_phone` name her for the store's order system:
    orders naming them (already pushed, or pushed later) are hers.
    """
    body = parse_body(OptInIn, request.get_json(silent=True))
    limits().charge(OPT_IN_PER_ADDRESS, "opt-in", client_address())  # a bad body stores nothing
    consents = [(c.purpose, c.channel) for c in body.consents]
    pickup = PickupContact(body.pickup_email, body.pickup_phone)
    check_opt_in(consents, body.email, body.phone, body.timezone, pickup)
    now = services().clock()
    with services().db.transaction() as session:
        enrolled = opt_in(
            session,
            body.store_id,
            body.first_name,
            now,
            consents=consents,
            email=body.email,
            phone=body.phone,
            timezone=body.timezone,
            pickup=pickup,
        )
    out = OptInOut(
        device_token=enrolled.device_token,
        identity_key=enrolled.identity_key.hex(),
        rotation_exponent=enrolled.rotation_exponent,
        shopper_id=enrolled.shopper_id,
        orders_linked=enrolled.orders_linked,
    )
    return jsonify(out.model_dump()), 201


def vapid_keys() -> VapidKeys:
    """The server's VAPID keys, generated under `var_dir` on first use (503 if unreadable)."""
    keys: VapidKeys | None = current_app.extensions.get(VAPID_EXTENSION)
    if keys is None:
        var_dir = Path(services().settings.var_dir)
        try:
            keys = ensure_vapid_keys(var_dir)
        except (VapidKeyError, OSError) as exc:
            log.error("event=vapid_keys_unavailable type=%s", type(exc).__name__)
            raise ApiError(
                503, "push_unavailable", "Web Push is not set up on this server"
            ) from exc
        current_app.extensions[VAPID_EXTENSION] = keys
    return keys


@bp.get("/push/key")
@documented(
    "The VAPID public key to subscribe to Web Push with",
    answer=PushKeyOut,
    errors=(503,),
    public=True,
)
def application_server_key() -> tuple[Response, int]:
    """The VAPID public key the page subscribes with (public: it is published by design)."""
    out = PushKeyOut(application_server_key=vapid_keys().application_server_key)
    return jsonify(out.model_dump()), 200


@bp.post("/recovery")
@documented(
    "Send a recovery link (new phone or erase) to a shopper's e-mail or phone",
    body=RecoveryRequestIn,
    answer=RecoveryRequestOut,
    status=202,
    errors=(400,),
    public=True,
)
def request_recovery() -> tuple[Response, int]:
    """A shopper who lost her phone asks for a link; the answer never says whether anyone has
    the address or number, and the link goes only there."""
    body = parse_body(RecoveryRequestIn, request.get_json(silent=True))
    found = services()
    with found.db.transaction() as session:
        jobs = recovery.request_link(
            session,
            found.settings.secret_key.encode(),
            body.store_id,
            body.email,
            body.phone,
            found.clock(),
            found.outbound.reach.base_url,
        )
    found.outbound.submit_all(jobs)
    out = RecoveryRequestOut(sent="if a shopper of this store has it, a link is on its way")
    return jsonify(out.model_dump()), 202


@bp.post("/recovery/new-phone")
@documented(
    "Move a shopper to this phone with her recovery link; her old phones stop working",
    body=RecoveryLinkIn,
    answer=OptInOut,
    status=201,
    errors=(400, 410),
    public=True,
)
def recover_on_new_phone() -> tuple[Response, int]:
    """Her old phones' keys and tokens are forgotten; this phone gets a new app."""
    body = parse_body(RecoveryLinkIn, request.get_json(silent=True))
    found = services()
    with found.db.transaction() as session:
        moved = recovery.move_to_new_phone(
            session, found.settings.secret_key.encode(), body.token, found.clock()
        )
    end_shopper_connections(moved.shopper_id)
    assert moved.enrolment is not None  # noqa: S101 - a move always makes one
    out = OptInOut(
        device_token=moved.enrolment.device_token,
        identity_key=moved.enrolment.identity_key.hex(),
        rotation_exponent=moved.enrolment.rotation_exponent,
        shopper_id=moved.shopper_id,
        orders_linked=0,
    )
    return jsonify(out.model_dump()), 201


@bp.post("/recovery/erase")
@documented(
    "Erase everything that names a shopper, with her recovery link",
    body=RecoveryLinkIn,
    answer=RecoveryErasedOut,
    errors=(400, 410),
    public=True,
)
def erase_with_link() -> tuple[Response, int]:
    """Erase her: every row that names her goes; her open pages are disconnected."""
    body = parse_body(RecoveryLinkIn, request.get_json(silent=True))
    found = services()
    with found.db.transaction() as session:
        erased = recovery.erase_by_link(
            session, found.settings.secret_key.encode(), body.token, found.clock()
        )
    end_shopper_connections(erased.shopper_id)
    return jsonify(RecoveryErasedOut(erased=True).model_dump()), 200
