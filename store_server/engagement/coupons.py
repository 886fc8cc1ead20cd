"""Coupons: unguessable codes, issuing, and redemption at the till exactly once, never late."""

from __future__ import annotations

import secrets

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
# far beyond the web layer's limit on wrong codes (web/limits.py).
CODE_LENGTH = 10
# The refusal of a code no coupon has: the one failure that counts as guessing.
UNKNOWN_CODE = "unknown_code"


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


def redeem(
    session: Session,
    store_id: int,
    code: str,
    staff_id: int,
    now: float,
) -> CouponOut:
    """Redeem a code at the till: one conditional update decides, so it succeeds exactly once.

    Raises `UNKNOWN_CODE` for a code no coupon of the store has (only those look like guessing:
    the web layer counts them against the staffer).
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
        raise DomainError(Refusal.NOT_FOUND, UNKNOWN_CODE, "no coupon of this store has that code")
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
