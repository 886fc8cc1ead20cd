"""Request and response models of redemption at the till."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from store_server.engagement.coupons import CouponOut


class RedemptionOut(BaseModel):
    """A successful redemption."""

    redeemed: bool
    coupon: CouponOut


class RedeemIn(BaseModel):
    """A code typed or scanned at the till."""

    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, Field(min_length=1, max_length=64)]
