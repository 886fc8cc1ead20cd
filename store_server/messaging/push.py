"""Web Push for the shopper page: the VAPID public key and the browser's subscriptions.

An endpoint and its keys are a capability to send to someone's phone: they are never logged and
never echoed back.
"""

from __future__ import annotations

import base64
import binascii
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store_server.accounts.auth import require_device
from store_server.db.database import rows_changed
from store_server.db.models import WebPushSubscription
from store_server.messaging.channels.webpush import VapidKeyError, VapidKeys, ensure_vapid_keys
from store_server.web.context import services
from store_server.web.errors import ApiError
from store_server.web.openapi import documented
from store_server.web.schemas import (
    PushKeyOut,
    PushSubscribedOut,
    PushSubscriptionIn,
    PushUnsubscribeIn,
    parse_body,
)

bp = Blueprint("push", __name__, url_prefix="/api/v1")
log = logging.getLogger(__name__)
VAPID_EXTENSION = "store_vapid_keys"

# RFC 8291 section 3.1: the browser's ECDH share is an uncompressed P-256 point (0x04, X, Y);
# section 3.2: its authentication secret is 16 random octets.
P256DH_BYTES = 65
UNCOMPRESSED_POINT = 0x04
AUTH_SECRET_BYTES = 16
# Plain http only for a push service on this machine (tests, a local development service).
LOCAL_PUSH_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# One shopper uses a phone or two and perhaps a laptop; a browser that re-subscribes gets a new
# endpoint and rarely says the old one is gone. Beyond this many, the oldest are almost surely
# dead, and keeping them would only cost a failed send each.
MAX_SUBSCRIPTIONS_PER_SHOPPER = 10


def _base64url(value: str) -> bytes | None:
    """Decode base64url with or without padding; None if it is not base64url."""
    unpadded = value.rstrip("=")
    try:
        return base64.urlsafe_b64decode(unpadded + "=" * (-len(unpadded) % 4))
    except (binascii.Error, ValueError):
        return None


def _endpoint_problem(endpoint: str) -> str | None:
    if any(c.isspace() or not c.isprintable() for c in endpoint):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname
    except ValueError:
        return "not a URL"
    if not host or parts.username is not None or parts.password is not None:
        return "must be an https URL with a host (and no user name)"
    if parts.scheme == "https" or (parts.scheme == "http" and host in LOCAL_PUSH_HOSTS):
        return None
    return "must be an https URL"


def _p256dh_problem(p256dh: str) -> str | None:
    raw = _base64url(p256dh)
    if raw is None or len(raw) != P256DH_BYTES or raw[0] != UNCOMPRESSED_POINT:
        return f"must be a {P256DH_BYTES}-byte uncompressed P-256 point, base64url"
    try:  # a point off the curve can never be encrypted to
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError:
        return "not a point on the P-256 curve"
    return None


def subscription_problems(body: PushSubscriptionIn) -> list[dict[str, Any]]:
    """What is wrong with a subscription beyond its shape, in `parse_body`'s field format."""
    problems: list[dict[str, Any]] = []
    if why := _endpoint_problem(body.endpoint):
        problems.append({"loc": ["endpoint"], "msg": why})
    if why := _p256dh_problem(body.keys.p256dh):
        problems.append({"loc": ["keys", "p256dh"], "msg": why})
    auth = _base64url(body.keys.auth)
    if auth is None or len(auth) != AUTH_SECRET_BYTES:
        problems.append(
            {"loc": ["keys", "auth"], "msg": f"must be {AUTH_SECRET_BYTES} bytes, base64url"}
        )
    return problems


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


@bp.post("/me/push-subscriptions")
@documented(
    "Store this browser's Web Push subscription (upsert by endpoint; 200 if it existed)",
    body=PushSubscriptionIn,
    answer=PushSubscribedOut,
    status=201,
    errors=(400, 401),
)
def subscribe() -> tuple[Response, int]:
    """Store this browser's subscription for me (upsert by endpoint; a browser that changed
    hands moves to its new shopper)."""
    device = require_device()
    body = parse_body(PushSubscriptionIn, request.get_json(silent=True))
    if problems := subscription_problems(body):
        raise ApiError(400, "invalid_body", "the request body is not valid", {"fields": problems})
    now = services().clock()
    with services().db.transaction() as session:
        created = _upsert(session, device.shopper_id, body, now)
        _drop_oldest(session, device.shopper_id)
    log.info("event=push_subscribed shopper=%s created=%s", device.shopper_id, created)
    out = PushSubscribedOut(subscribed=True, created=created)
    return jsonify(out.model_dump()), 201 if created else 200


def _upsert(session: Session, shopper_id: int, body: PushSubscriptionIn, now: float) -> bool:
    """Insert or update the subscription with this endpoint; True if it was new."""
    existing = session.scalar(
        select(WebPushSubscription).where(WebPushSubscription.endpoint == body.endpoint)
    )
    if existing is None:
        try:
            with session.begin_nested():
                session.add(
                    WebPushSubscription(
                        shopper_id=shopper_id,
                        endpoint=body.endpoint,
                        p256dh=body.keys.p256dh,
                        auth=body.keys.auth,
                        created_at=now,
                    )
                )
            return True
        except IntegrityError:  # the same browser, twice at once: the other request won
            existing = session.scalar(
                select(WebPushSubscription).where(WebPushSubscription.endpoint == body.endpoint)
            )
            if existing is None:
                raise
    # A browser now someone else's (a shared tablet, a phone handed on) moves to them: the
    # previous shopper must not get its notifications any more.
    existing.shopper_id = shopper_id
    existing.p256dh = body.keys.p256dh
    existing.auth = body.keys.auth
    # The page re-sends its subscription on every visit: the newest is the browser in use,
    # which the router prefers and the per-shopper limit keeps.
    existing.created_at = now
    return False


def _drop_oldest(session: Session, shopper_id: int) -> None:
    stale = session.scalars(
        select(WebPushSubscription.id)
        .where(WebPushSubscription.shopper_id == shopper_id)
        .order_by(WebPushSubscription.created_at.desc(), WebPushSubscription.id.desc())
        .offset(MAX_SUBSCRIPTIONS_PER_SHOPPER)
    ).all()
    if stale:
        session.execute(delete(WebPushSubscription).where(WebPushSubscription.id.in_(stale)))


@bp.delete("/me/push-subscriptions")
@documented(
    "Forget a Web Push subscription (idempotent)", body=PushUnsubscribeIn, errors=(400, 401)
)
def unsubscribe() -> tuple[Response, int]:
    """Forget one of my browser's subscriptions (idempotent: an unknown endpoint is fine)."""
    device = require_device()
    body = parse_body(PushUnsubscribeIn, request.get_json(silent=True))
    with services().db.transaction() as session:
        result = session.execute(
            delete(WebPushSubscription).where(
                WebPushSubscription.endpoint == body.endpoint,
                WebPushSubscription.shopper_id == device.shopper_id,
            )
        )
        removed = rows_changed(result) > 0
    log.info("event=push_unsubscribed shopper=%s removed=%s", device.shopper_id, removed)
    return jsonify({"removed": removed}), 200
