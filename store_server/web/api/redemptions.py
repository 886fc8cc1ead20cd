"""Redemption at the till: a staffer redeems a shopper's coupon code."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from store_server.engagement import coupons
from store_server.web.auth import require_staff
from store_server.web.context import services
from store_server.web.errors import ApiError
from store_server.web.openapi import documented
from store_server.web.schemas import parse_body
from store_server.web.schemas.redemptions import RedeemIn, RedemptionOut

bp = Blueprint("coupons", __name__, url_prefix="/api/v1/stores")


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
    limiter: coupons.FailureLimiter = services().redemption_limiter
    if not limiter.allowed(staff.staff_id, now):
        raise ApiError(429, "too_many_attempts", "too many wrong codes; wait a minute")
    code = coupons.normalise_code(parse_body(RedeemIn, request.get_json(silent=True)).code)
    with services().db.transaction() as session:
        coupon = coupons.redeem(session, store_id, code, staff.staff_id, now, limiter)
    return jsonify({"redeemed": True, "coupon": coupon.model_dump()}), 200
