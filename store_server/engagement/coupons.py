"""Coupons: unguessable codes, issuing, and redemption at the till exactly once, never late."""

from __future__ import annotations

import logging
import secrets

from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store_server.db.database import rows_changed
from store_server.db.models import Coupon, RedemptionAudit, StaffUser
from store_server.problems import DomainError, Refusal

log = logging.getLogger(__name__)
# Crockford's base32 without I, L, O, U: easy to read out and type at a till.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# 10 characters = 50 random bits: guessing one live code among millions takes ~10^8 tries,
# far beyond the web layer's limit on wrong codes (web/limits.py).
CODE_LENGTH = 10
# A till mistake (the wrong coupon scanned, the sale voided) is noticed at the till, within
# minutes; after that a redemption is part of the day's takings and stays.
UNDO_WINDOW_S = 600.0
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
        session.add(
            RedemptionAudit(
                store_id=store_id,
                coupon_id=coupon.id,
                action="redeemed",
                staff_id=staff_id,
                at=now,
            )
        )
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


class TillCouponOut(BaseModel):
    """A coupon as the till sees it: its state, who redeemed it, until when that can be undone."""

    coupon: CouponOut
    redeemed_by: str | None  # the staffer's name
    undo_until: float | None  # a manager may undo the redemption until then


def _of_store(session: Session, store_id: int, code: str) -> Coupon:
    coupon = session.scalars(
        select(Coupon).where(Coupon.code == code, Coupon.store_id == store_id)
    ).one_or_none()
    if coupon is None:
        raise DomainError(
            Refusal.NOT_FOUND, "unknown_code", "no coupon of this store has that code"
        )
    return coupon


def till_view(session: Session, store_id: int, code: str, now: float) -> TillCouponOut:
    """A coupon of this store for the till: unused, used (when, by whom) or expired."""
    coupon = _of_store(session, store_id, code)
    redeemed_by = session.get(StaffUser, coupon.redeemed_by) if coupon.redeemed_by else None
    undo_until = None
    if coupon.redeemed_at is not None and coupon.redeemed_at + UNDO_WINDOW_S > now:
        undo_until = coupon.redeemed_at + UNDO_WINDOW_S
    return TillCouponOut(
        coupon=coupon_out(coupon),
        redeemed_by=redeemed_by.name if redeemed_by else None,
        undo_until=undo_until,
    )


def undo_redemption(
    session: Session, store_id: int, code: str, manager_id: int, now: float
) -> CouponOut:
    """A manager reverses a redemption made less than `UNDO_WINDOW_S` ago; an audit row says
    who and when. One conditional update decides, so two undos cannot both count.
    """
    coupon = _of_store(session, store_id, code)
    redeemed_at = coupon.redeemed_at
    result = session.execute(
        update(Coupon)
        .where(
            Coupon.id == coupon.id,
            Coupon.redeemed_at.is_not(None),
            Coupon.redeemed_at > now - UNDO_WINDOW_S,
        )
        .values(redeemed_at=None, redeemed_by=None)
        .execution_options(synchronize_session="fetch")
    )
    if rows_changed(result) != 1:
        if redeemed_at is None:
            raise DomainError(Refusal.CONFLICT, "not_redeemed", "this coupon is not redeemed")
        raise DomainError(
            Refusal.CONFLICT,
            "undo_too_late",
            "a redemption can be undone only in its first 10 minutes",
            {"redeemed_at": redeemed_at, "undo_until": redeemed_at + UNDO_WINDOW_S},
        )
    session.add(
        RedemptionAudit(
            store_id=store_id,
            coupon_id=coupon.id,
            action="undone",
            staff_id=manager_id,
            at=now,
            redeemed_at=redeemed_at,
        )
    )
    log.info("event=redemption_undone coupon=%d staff=%d", coupon.id, manager_id)
    session.refresh(coupon)
    return coupon_out(coupon)
