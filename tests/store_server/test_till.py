"""The till: a coupon's state for a staffer who opened its link, "already used" says when,
and a manager undoes a redemption within 10 minutes (an audit row says who and when)."""

from __future__ import annotations

import time

from sqlalchemy import select

from store_server.db.models import RedemptionAudit, Shopper, StaffUser
from store_server.engagement.coupons import UNDO_WINDOW_S, issue_coupon
from tests.store_server.conftest import World

MANAGER = "morgan@demo.store"


def new_coupon(world: World) -> str:
    with world.db.transaction() as session:
        maria = session.scalars(select(Shopper).where(Shopper.first_name == "Maria")).one()
        coupon = issue_coupon(
            session, world.seed.store_id, maria.id, "campaign", "20 % off dresses", 20,
            time.time(), 3600.0,
        )  # fmt: skip
        return coupon.code


def path(world: World, code: str = "") -> str:
    suffix = f"/{code}" if code else ""
    return f"/api/v1/stores/{world.seed.store_id}/redemptions{suffix}"


def redeem(world: World, code: str, email: str = "sam@demo.store") -> None:
    response = world.client().post(
        path(world), json={"code": code}, headers=world.staff_headers(email)
    )
    assert response.status_code == 200, response.get_json()


def test_a_staffer_sees_an_unused_coupon_then_when_and_by_whom_it_was_used(world: World) -> None:
    code = new_coupon(world)
    headers = world.staff_headers()
    unused = world.client().get(path(world, f"{code[:5]}-{code[5:]}".lower()), headers=headers)
    assert unused.status_code == 200
    assert unused.get_json()["coupon"]["redeemed_at"] is None
    assert unused.get_json()["redeemed_by"] is None
    redeem(world, code)
    used = world.client().get(path(world, code), headers=headers).get_json()
    assert used["redeemed_by"] == "Sam"
    assert used["undo_until"] == used["coupon"]["redeemed_at"] + UNDO_WINDOW_S
    again = world.client().post(path(world), json={"code": code}, headers=headers)
    assert again.status_code == 409
    assert again.get_json()["error"]["details"]["redeemed_at"] == used["coupon"]["redeemed_at"]


def test_another_store_and_unknown_codes_see_nothing(world: World) -> None:
    code = new_coupon(world)
    other = world.client().get(path(world, code), headers=world.staff_headers("kim@other.store"))
    assert other.status_code == 403
    unknown = world.client().get(path(world, "0000000000"), headers=world.staff_headers())
    assert unknown.status_code == 404
    assert unknown.get_json()["error"]["code"] == "unknown_code"
    assert world.client().get(path(world, code)).status_code == 401
    too_long = world.client().get(path(world, "A" * 65), headers=world.staff_headers())
    assert too_long.status_code == 404


def test_a_manager_undoes_within_ten_minutes_and_the_audit_says_who_and_when(
    world: World,
) -> None:
    code = new_coupon(world)
    redeem(world, code)
    redeemed_at = world.client().get(path(world, code), headers=world.staff_headers()).get_json()
    redeemed_at = redeemed_at["coupon"]["redeemed_at"]
    undo_at = redeemed_at + UNDO_WINDOW_S - 1
    world.clock.now = lambda: undo_at
    staff_try = world.client().delete(path(world, code), headers=world.staff_headers())
    assert staff_try.status_code == 403
    assert staff_try.get_json()["error"]["code"] == "managers_only"
    undone = world.client().delete(path(world, code), headers=world.staff_headers(MANAGER))
    assert undone.status_code == 200, undone.get_json()
    assert undone.get_json()["coupon"]["redeemed_at"] is None
    twice = world.client().delete(path(world, code), headers=world.staff_headers(MANAGER))
    assert twice.status_code == 409
    assert twice.get_json()["error"]["code"] == "not_redeemed"
    redeem(world, code)  # usable again
    with world.db.sessions() as session:
        manager_id = session.scalars(select(StaffUser.id).where(StaffUser.email == MANAGER)).one()
        audit = session.scalars(select(RedemptionAudit).order_by(RedemptionAudit.id)).all()
        rows = [(a.action, a.staff_id == manager_id, a.at, a.redeemed_at) for a in audit]
    assert rows == [
        ("redeemed", False, redeemed_at, None),
        ("undone", True, undo_at, redeemed_at),
        ("redeemed", False, undo_at, None),
    ]


def test_after_ten_minutes_a_redemption_stays(world: World) -> None:
    code = new_coupon(world)
    redeem(world, code)
    view = world.client().get(path(world, code), headers=world.staff_headers()).get_json()
    redeemed_at = view["coupon"]["redeemed_at"]
    world.clock.now = lambda: redeemed_at + UNDO_WINDOW_S
    assert (
        world.client()
        .get(path(world, code), headers=world.staff_headers())
        .get_json()["undo_until"]
        is None
    )
    late = world.client().delete(path(world, code), headers=world.staff_headers(MANAGER))
    assert late.status_code == 409
    assert late.get_json()["error"]["code"] == "undo_too_late"
    still = world.client().get(path(world, code), headers=world.staff_headers()).get_json()
    assert still["coupon"]["redeemed_at"] == redeemed_at
    with world.db.sessions() as session:
        actions = session.scalars(select(RedemptionAudit.action)).all()
    assert actions == ["redeemed"]


def test_the_coupon_link_serves_the_till_script_and_no_data(world: World) -> None:
    code = new_coupon(world)
    page = world.client().get(f"/r/{code}").get_data(as_text=True)
    assert "redeem.js" in page
    assert "20 % off" not in page  # the state comes from the API, for staff only
