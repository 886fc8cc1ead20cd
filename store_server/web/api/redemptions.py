"""Redemption at the till: a staffer redeems a shopper's coupon code."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from store_server.engagement import coupons
from store_server.problems import DomainError
from store_server.web.auth import require_staff
from store_server.web.context import services
from store_server.web.limits import COUPON_FAILURES_PER_STAFF, limits
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
    """Redeem a code at the till: one conditional update decides, so it succeeds exactly once.

    Unknown codes count against the staffer; over the limit an unknown code is answered 429,
    while a valid code still redeems (the shopper at the till is not the one guessing).
    """
    staff = require_staff(store_id)
    now = services().clock()
    code = coupons.normalise_code(parse_body(RedeemIn, request.get_json(silent=True)).code)
    key = ("coupon-failures", str(staff.staff_id))
    try:
        with services().db.transaction() as session:
            coupon = coupons.redeem(session, store_id, code, staff.staff_id, now)
    except DomainError as exc:
        if exc.code == coupons.UNKNOWN_CODE:
            limits().refuse_if_over(COUPON_FAILURES_PER_STAFF, *key)
            limits().failed(COUPON_FAILURES_PER_STAFF, *key)
        raise
    return jsonify({"redeemed": True, "coupon": coupon.model_dump()}), 200
