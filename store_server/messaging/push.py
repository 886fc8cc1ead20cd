"""Web Push subscriptions: a browser's endpoint and keys, checked and stored for its shopper.

An endpoint and its keys are a capability to send to someone's phone: they are never logged and
never echoed back.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store_server.db.database import rows_changed
from store_server.db.models import WebPushSubscription
from store_server.problems import DomainError, Refusal

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


def subscription_problems(endpoint: str, p256dh: str, auth_secret: str) -> list[dict[str, Any]]:
    """What is wrong with a subscription beyond its shape, in `parse_body`'s field format."""
    problems: list[dict[str, Any]] = []
    if why := _endpoint_problem(endpoint):
        problems.append({"loc": ["endpoint"], "msg": why})
    if why := _p256dh_problem(p256dh):
        problems.append({"loc": ["keys", "p256dh"], "msg": why})
    auth = _base64url(auth_secret)
    if auth is None or len(auth) != AUTH_SECRET_BYTES:
        problems.append(
            {"loc": ["keys", "auth"], "msg": f"must be {AUTH_SECRET_BYTES} bytes, base64url"}
        )
    return problems


@dataclass(frozen=True)
class Subscription:
    """A browser's push subscription as `PushSubscription.toJSON()` gives it."""

    endpoint: str
    p256dh: str
    auth: str


def subscribe(session: Session, shopper_id: int, subscription: Subscription, now: float) -> bool:
    """Store this browser's subscription for the shopper; True if it was new.

    An upsert by endpoint: a browser that changed hands moves to its new shopper; beyond
    MAX_SUBSCRIPTIONS_PER_SHOPPER, the shopper's oldest subscriptions go.
    """
    problems = subscription_problems(subscription.endpoint, subscription.p256dh, subscription.auth)
    if problems:
        raise DomainError(
            Refusal.INVALID, "invalid_body", "the request body is not valid", {"fields": problems}
        )
    created = _upsert(session, shopper_id, subscription, now)
    _drop_oldest(session, shopper_id)
    return created


def unsubscribe(session: Session, shopper_id: int, endpoint: str) -> bool:
    """Forget the shopper's subscription with this endpoint; True if there was one."""
    result = session.execute(
        delete(WebPushSubscription).where(
            WebPushSubscription.endpoint == endpoint,
            WebPushSubscription.shopper_id == shopper_id,
        )
    )
    return rows_changed(result) > 0


def _upsert(session: Session, shopper_id: int, body: Subscription, now: float) -> bool:
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
                        p256dh=body.p256dh,
                        auth=body.auth,
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
    existing.p256dh = body.p256dh
    existing.auth = body.auth
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
