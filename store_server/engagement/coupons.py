"""Coupons: unguessable codes, issuing, and redemption at the till exactly once, never late."""

from __future__ import annotations

import secrets
from collections import deque
from dataclasses import dataclass, field

from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store_server.db.database import rows_changed
from store_server.db.models import Coupon
from store_server.problems import DomainError, Refusal

# Crockford's base32 without I, L, O, U: easy to read out and type at a till.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# 10 characters = 50 random bits: guessing one live code among millions takes ~10^8 tries,
# far beyond the rate limit below.
CODE_LENGTH = 10
# A till may mistype; ten failures a minute per staffer is generous for people and useless
# for guessing.
MAX_FAILED_REDEMPTIONS = 10
FAILURE_WINDOW_S = 60.0


class CouponOut(BaseModel):
    """A coupon as its holder or the till sees it."""

    code: str
    offer: str
    percent_off: int | None
    amount_off_cents: int | None
    product_scope: str | None
    issued_at: float
    expires_at: float
    redeemed_at: float | None


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


def redeem(
    session: Session,
    store_id: int,
    code: str,
    staff_id: int,
    now: float,
    limiter: FailureLimiter,
) -> CouponOut:
    """Redeem a code at the till: one conditional update decides, so it succeeds exactly once.

    An unknown code counts as a failure in `limiter` (only unknown codes look like guessing).
    """
    result = session.execute(
        update(Coupon)
        .where(
            Coupon.code == code,
            Coupon.store_id == store_id,
            Coupon.redeemed_at.is_(None),
            Coupon.expires_at > now,
        )
        .values(redeemed_at=now, redeemed_by=staff_id)
    )
    coupon = session.scalars(
        select(Coupon).where(Coupon.code == code, Coupon.store_id == store_id)
    ).one_or_none()
    if rows_changed(result) == 1 and coupon is not None:
        return coupon_out(coupon)
    if coupon is None:
        limiter.failed(staff_id, now)
        raise DomainError(
            Refusal.NOT_FOUND, "unknown_code", "no coupon of this store has that code"
        )
    if coupon.redeemed_at is not None:
        raise DomainError(
            Refusal.CONFLICT,
            "already_redeemed",
            "this coupon was already used",
            {"redeemed_at": coupon.redeemed_at},
        )
    raise DomainError(
        Refusal.GONE, "expired", "this coupon has expired", {"expires_at": coupon.expires_at}
    )
