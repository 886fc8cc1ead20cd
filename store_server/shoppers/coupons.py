"""A shopper's coupons."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from store_server.db.models import Coupon


def shopper_coupons(session: Session, shopper_id: int) -> Sequence[Coupon]:
    """The shopper's coupons, newest first."""
    return session.scalars(
        select(Coupon).where(Coupon.shopper_id == shopper_id).order_by(Coupon.issued_at.desc())
    ).all()
