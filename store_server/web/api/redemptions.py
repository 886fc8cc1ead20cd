"""Redemption at the till: a staffer redeems a shopper's coupon code; a manager may undo it."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from store_server.engagement import coupons
from store_server.problems import DomainError
from store_server.vocabulary import StaffRole
from store_server.web.auth import authorise
from store_server.web.context import services
from store_server.web.errors import ApiError
from store_server.web.limits import COUPON_FAILURES_PER_STAFF, limits
from store_server.web.openapi import documented
from store_server.web.schemas import parse_body
from store_server.web.schemas.redemptions import RedeemIn, RedemptionOut, TillCouponOut

bp = Blueprint("coupons", __name__, url_prefix="/api/v1/stores")
# Longer than any code a till could mean (RedeemIn's limit): such a path names no coupon.
MAX_CODE_CHARS = 64


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
    staff = authorise(store_id)
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


@bp.get("/<int:store_id>/redemptions/<code>")
@documented(
    "A coupon as the till sees it: unused, used (when, by whom) or expired",
    answer=TillCouponOut,
    errors=(401, 403, 404, 429),
)
def till_coupon(store_id: int, code: str) -> tuple[Response, int]:
    """What a staffer who opened a coupon's link sees before redeeming it."""
    staff = authorise(store_id)
    now = services().clock()
    key = ("coupon-failures", str(staff.staff_id))
    limits().refuse_if_over(COUPON_FAILURES_PER_STAFF, *key)  # a look-up is a guess too
    try:
        with services().db.transaction() as session:
            view = coupons.till_view(session, store_id, _code(code), now)
    except (ApiError, DomainError):
        limits().failed(COUPON_FAILURES_PER_STAFF, *key)
        raise
    return jsonify(view.model_dump()), 200


@bp.delete("/<int:store_id>/redemptions/<code>")
@documented(
    "Undo a redemption made less than 10 minutes ago (managers; an audit row says who, when)",
    answer=TillCouponOut,
    errors=(401, 403, 404, 409),
)
def undo(store_id: int, code: str) -> tuple[Response, int]:
    """A manager reverses a till mistake: the coupon can be redeemed again."""
    manager = authorise(store_id, StaffRole.MANAGER)
    now = services().clock()
    with services().db.transaction() as session:
        coupons.undo_redemption(session, store_id, _code(code), manager.staff_id, now)
        view = coupons.till_view(session, store_id, _code(code), now)
    return jsonify(view.model_dump()), 200


def _code(raw: str) -> str:
    code = coupons.normalise_code(raw)
    if not code or len(code) > MAX_CODE_CHARS:
        raise ApiError(404, "unknown_code", "no coupon of this store has that code")
    return code
