"""Coupons: unguessable codes, issuing, and redemption at the till exactly once, never late."""

from __future__ import annotations

import secrets
from collections import deque
from dataclasses import dataclass, field

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store_server.db.database import rows_changed
from store_server.db.models import Coupon
from store_server.web.auth import require_staff
from store_server.web.context import services
from store_server.web.errors import ApiError
from store_server.web.openapi import documented
from store_server.web.schemas import CouponOut, RedeemIn, RedemptionOut, parse_body

bp = Blueprint("coupons", __name__, url_prefix="/api/v1/stores")
# Crockford's base32 without I, L, O, U: easy to read out and type at a till.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# 10 characters = 50 random bits: guessing one live code among millions takes ~10^8 tries,
# far beyond the rate limit below.
CODE_LENGTH = 10
# A till may mistype; ten failures a minute per staffer is generous for people and useless
# for guessing.
MAX_FAILED_REDEMPTIONS = 10
FAILURE_WINDOW_S = 60.0


def new_code() -> str:
    """A fresh random coupon code."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(raw: str) -> str:
    """What a staffer typed or a scanner read, as a code: no spaces or dashes, upper case."""
    text = raw.strip().rsplit("/", 1)[-1]  # a scanned redemption URL ends with the code
    return text.replace("-", "").replace(" ", "").upper()


def issue_coupon(
    session: Session,
    store_id: int,
    shopper_id: int,
    source: str,
    offer: str,
    percent_off: int | None,
    now: float,
    valid_s: float,
    amount_off_cents: int | None = None,
    product_scope: str | None = None,
) -> Coupon:
    """Create a coupon with a unique code (a collision, vanishingly rare, draws again)."""
    while True:
        coupon = Coupon(
            store_id=store_id,
            shopper_id=shopper_id,
            code=new_code(),
            source=source,
            offer=offer,
            percent_off=percent_off,
            amount_off_cents=amount_off_cents,
            product_scope=product_scope,
            issued_at=now,
            expires_at=now + valid_s,
        )
        try:
            with session.begin_nested():
                session.add(coupon)
            return coupon
        except IntegrityError:
            continue


def coupon_out(coupon: Coupon) -> CouponOut:
    """A coupon for its holder or the till."""
    return CouponOut(
        code=coupon.code,
        offer=coupon.offer,
        percent_off=coupon.percent_off,
        amount_off_cents=coupon.amount_off_cents,
        product_scope=coupon.product_scope,
        issued_at=coupon.issued_at,
        expires_at=coupon.expires_at,
        redeemed_at=coupon.redeemed_at,
    )


@dataclass
class FailureLimiter:
    """Counts failed attempts per key in a sliding window (one process; see decisions.md)."""

    limit: int
    window_s: float
    _failures: dict[object, deque[float]] = field(default_factory=dict)

    def allowed(self, key: object, now: float) -> bool:
        """Whether `key` may try again at `now`."""
        recent = self._failures.get(key)
        while recent and recent[0] <= now - self.window_s:
            recent.popleft()
        return not recent or len(recent) < self.limit

    def failed(self, key: object, now: float) -> None:
        """Record a failed attempt."""
        self._failures.setdefault(key, deque()).append(now)


def redemption_limiter() -> FailureLimiter:
    """A new limiter for an app (kept in app.extensions)."""
    return FailureLimiter(MAX_FAILED_REDEMPTIONS, FAILURE_WINDOW_S)


@bp.post("/<int:store_id>/redemptions")
@documented(
    "Redeem a coupon code at the till (exactly once, never after expiry)",
    body=RedeemIn,
    answer=RedemptionOut,
    errors=(400, 401, 403, 404, 409, 410, 429),
)
def redeem(store_id: int) -> tuple[Response, int]:
    """Redeem a code at the till: one conditional update decides, so it succeeds exactly once."""
    staff = require_staff(store_id)
    now = services().clock()
    limiter: FailureLimiter = services().redemption_limiter
    if not limiter.allowed(staff.staff_id, now):
        raise ApiError(429, "too_many_attempts", "too many wrong codes; wait a minute")
    code = normalise_code(parse_body(RedeemIn, request.get_json(silent=True)).code)
    with services().db.transaction() as session:
        result = session.execute(
            update(Coupon)
            .where(
                Coupon.code == code,
                Coupon.store_id == store_id,
                Coupon.redeemed_at.is_(None),
                Coupon.expires_at > now,
            )
            .values(redeemed_at=now, redeemed_by=staff.staff_id)
        )
        coupon = session.scalars(
            select(Coupon).where(Coupon.code == code, Coupon.store_id == store_id)
        ).one_or_none()
        if rows_changed(result) == 1 and coupon is not None:
            return jsonify({"redeemed": True, "coupon": coupon_out(coupon).model_dump()}), 200
    if coupon is None:
        limiter.failed(staff.staff_id, now)  # only unknown codes look like guessing
        raise ApiError(404, "unknown_code", "no coupon of this store has that code")
    if coupon.redeemed_at is not None:
        raise ApiError(
            409,
            "already_redeemed",
            "this coupon was already used",
            {"redeemed_at": coupon.redeemed_at},
        )
    raise ApiError(410, "expired", "this coupon has expired", {"expires_at": coupon.expires_at})
