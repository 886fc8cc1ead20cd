"""Request and response models of redemption at the till."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from store_server.engagement.coupons import CouponOut, TillCouponOut
from store_server.web.schemas import Strict

__all__ = ["RedeemIn", "RedemptionOut", "TillCouponOut"]


class RedemptionOut(BaseModel):
    """A successful redemption."""

    redeemed: bool
    coupon: CouponOut


class RedeemIn(Strict):
    """A code typed or scanned at the till."""

    code: Annotated[str, Field(min_length=1, max_length=64)]
