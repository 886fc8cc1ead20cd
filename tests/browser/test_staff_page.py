"""The staff tablet page in headless Chromium: log in, and see Maria's arrival appear live."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from bench.stack import Stack
from tests.support.seeding import OTHER_STAFF

pytestmark = pytest.mark.browser


def log_in(page: Page, url: str, email: str, password: str) -> None:
    page.goto(f"{url}/staff")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_wrong_password_shows_an_error(page: Page, stack: Stack) -> None:
    log_in(page, stack.url, "sam@demo.store", "not-the-password")
    expect(page.get_by_role("alert")).to_have_text("wrong e-mail or password")
    expect(page.locator("#board")).to_be_hidden()
    expect(page.locator("#login")).to_be_visible()


def test_staffer_sees_the_arrival_appear_and_other_store_does_not(
    page: Page, stack: Stack, tmp_path: Path
) -> None:
    log_in(page, stack.url, "sam@demo.store", stack.seed["accounts"][0]["password"])
    expect(page.locator("#link")).to_have_text("live")
    expect(page.locator("#login")).to_be_hidden()
    expect(page.get_by_text("Nobody is waiting")).to_be_visible()

    other = page.context.browser.new_page()  # type: ignore[union-attr]
    log_in(other, stack.url, *OTHER_STAFF)
    expect(other.locator("#link")).to_have_text("live")

    stack.start_sim("pickup-door", "--seed", "5")
    stack.start_gateway("gw-entrance")

    card = page.locator(".arrival")
    expect(card).to_have_count(1, timeout=30_000)
    expect(card.locator(".name")).to_have_text("Maria")
    expect(card.locator(".order")).to_have_text("#1001")
    expect(card.locator(".where")).to_have_text("front door")
    expect(card.locator(".items li")).to_have_text(["Linen summer dress", "2 × Silk scarf"])
    expect(card).to_have_class(re.compile(r"\bnew\b"))
    expect(card.locator(".wait")).to_have_text(re.compile(r"^\d+:\d\d$"))
    card.locator(".confidence").click()
    expect(card.locator(".reasons")).to_contain_text("gw-entrance")
    page.screenshot(path=str(tmp_path / "staff-tablet.png"))

    # A reload (a tablet waking up) shows the same single arrival, not a duplicate.
    page.reload()
    expect(page.locator("#link")).to_have_text("live")
    expect(page.locator(".arrival")).to_have_count(1)
    expect(other.locator(".arrival")).to_have_count(0)
    expect(other.get_by_text("Nobody is waiting")).to_be_visible()
