"""Two staff tablets in headless Chromium: acknowledge, see it on the other, catch up after a
disconnect, hand over, and redeem the thank-you coupon at the till."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import Page, expect

from bench.stack import Stack
from tests.browser.test_staff_page import log_in
from tests.live import announce_arrival

pytestmark = pytest.mark.browser


def two_tablets(page: Page, stack: Stack) -> tuple[Page, Page]:
    password = stack.seed["accounts"][0]["password"]
    log_in(page, stack.url, "sam@demo.store", password)
    other = page.context.browser.new_context().new_page()  # type: ignore[union-attr]
    log_in(other, stack.url, "morgan@demo.store", stack.seed["accounts"][1]["password"])
    for tablet in (page, other):
        expect(tablet.locator("#link")).to_have_text("live")
    return page, other


def test_acknowledging_shows_on_the_other_tablet(page: Page, stack: Stack) -> None:
    sam, morgan = two_tablets(page, stack)
    announce_arrival(stack)
    for tablet in (sam, morgan):
        expect(tablet.locator(".arrival .name")).to_have_text("Maria")
    sam.get_by_role("button", name="On my way").click()
    expect(sam.locator(".arrival .going")).to_have_text("Sam is on the way")
    expect(morgan.locator(".arrival .going")).to_have_text("Sam is on the way")
    expect(morgan.get_by_role("button", name="On my way")).to_be_hidden()
    expect(morgan.get_by_role("button", name="Handed over")).to_be_visible()


def test_a_disconnected_tablet_catches_up_without_duplicates(page: Page, stack: Stack) -> None:
    sam, morgan = two_tablets(page, stack)
    announce_arrival(stack)
    expect(morgan.locator(".arrival")).to_have_count(1)
    morgan.evaluate("window.staffSocket.disconnect()")
    expect(morgan.locator("#link")).to_have_text("offline")
    sam.get_by_role("button", name="On my way").click()
    announce_arrival(stack, "leo")  # no order: nothing to show
    expect(sam.locator(".arrival .going")).to_have_text("Sam is on the way")
    expect(morgan.locator(".arrival .going")).to_be_hidden()  # it missed the update...
    morgan.evaluate("window.staffSocket.connect()")
    expect(morgan.locator("#link")).to_have_text("live")
    expect(morgan.locator(".arrival .going")).to_have_text("Sam is on the way")  # ...and caught up
    expect(morgan.locator(".arrival")).to_have_count(1)


def test_handover_then_redeem_the_thank_you_coupon_once(page: Page, stack: Stack) -> None:
    sam, morgan = two_tablets(page, stack)
    announce_arrival(stack)
    sam.get_by_role("button", name="On my way").click()
    sam.get_by_role("button", name="Handed over").click()
    for tablet in (sam, morgan):
        expect(tablet.locator(".arrival")).to_have_count(0)
        expect(tablet.get_by_text("Nobody is waiting")).to_be_visible()
    coupons = requests.get(
        f"{stack.url}/api/v1/me/coupons",
        timeout=10,
        headers={"Authorization": f"Bearer {stack.seed['device_tokens']['maria']}"},
    ).json()["coupons"]
    code = coupons[0]["code"]
    sam.get_by_label("Coupon code").fill(f"{code[:5]}-{code[5:]}".lower())
    sam.get_by_role("button", name="Redeem").click()
    expect(sam.locator("#redeem-result")).to_have_text(re.compile(r"^Redeemed: 10 % off"))
    morgan.get_by_label("Coupon code").fill(code)
    morgan.get_by_role("button", name="Redeem").click()
    expect(morgan.locator("#redeem-result")).to_have_text(re.compile(r"^Already used on "))
    sam.screenshot(path=str(stack.workdir / "tablet-after-redeem.png"))
