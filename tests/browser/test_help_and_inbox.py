"""The phone page and the tablets in headless Chromium: an in-app offer decided while the page
was closed is in the inbox when it opens (once, across reloads and a dropped network); a help
request goes to both tablets, escalates, is acknowledged on one and closed."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import update

from bench.stack import Stack
from store_server.db.database import Database
from store_server.db.models import Shopper, Store
from tests.browser.test_shopper_page import phone_page
from tests.browser.test_staff_actions import two_tablets
from tests.live import announce_arrival, login

pytestmark = pytest.mark.browser
# The sweep runs every 5 s on the live server; an escalation shows within one run or two.
ESCALATION_TIMEOUT_MS = 20_000
DAYTIME_HOUR = 13
PERSON_LINE = "To reach a person: call +442079460000 or see https://demo-store.example/help."


def daytime_zone() -> str:
    """An Etc zone where it is early afternoon now: no quiet hours hold the offer."""
    offset = DAYTIME_HOUR - datetime.now(UTC).hour
    return f"Etc/GMT{-offset:+d}" if offset else "UTC"


def change(stack: Stack, statement: Any) -> None:
    db = Database(stack.database_url)
    with db.transaction() as session:
        session.execute(statement)
    db.dispose()


def open_phone(browser: Browser, stack: Stack, person: str) -> Page:
    page = phone_page(browser)
    token = stack.seed["device_tokens"][person]
    page.goto(f"{stack.url}/app?store={stack.seed['store_id']}#device={token}")
    expect(page.locator("#connection")).to_have_text("Live")
    return page


def test_an_in_app_offer_to_a_closed_page_is_in_the_inbox_on_open(
    browser: Browser, stack: Stack
) -> None:
    change(stack, update(Shopper).values(timezone=daytime_zone()))
    manager = login(stack.url, "morgan@demo.store", stack.seed["accounts"][1]["password"])
    created = requests.post(
        f"{stack.url}/api/v1/stores/{stack.seed['store_id']}/campaigns",
        json={
            "name": "Welcome",
            "trigger": "entered",
            "offer_text": "20 % off dresses today",
            "percent_off": 20,
            "valid_minutes": 120,
            "channels": ["app"],
        },
        headers={"Authorization": f"Bearer {manager['token']}"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    announce_arrival(stack, "leo")  # Leo's page is closed: the offer waits for him

    page = open_phone(browser, stack, "leo")
    entry = page.locator("#inbox li")
    expect(entry).to_have_count(1)
    expect(entry.locator(".title")).to_have_text("20 % off dresses today")
    expect(entry.locator(".body")).to_contain_text(PERSON_LINE)
    expect(page.locator(".coupon .offer")).to_have_text("20 % off dresses today")
    expect(page.locator("#person-phone")).to_have_text("call +442079460000")
    for _ in range(2):  # reloads and dropped networks never duplicate it
        page.reload()
        expect(page.locator("#connection")).to_have_text("Live")
        page.context.set_offline(True)
        expect(page.locator("#connection")).to_have_text("Offline")
        page.context.set_offline(False)
        expect(page.locator("#connection")).to_have_text("Live")
        expect(entry).to_have_count(1)
        expect(entry).to_have_attribute("data-seen", "true")


def test_help_request_through_escalation_acknowledge_and_close_on_two_tablets(
    page: Page, browser: Browser, stack: Stack
) -> None:
    change(stack, update(Store).values(ack_limit_s=1))  # escalate at the sweep's next run
    sam, morgan = two_tablets(page, stack)
    phone = open_phone(browser, stack, "leo")
    phone.locator("#help-zone").select_option(label="At shoes")
    phone.get_by_role("button", name="Ask for help").click()
    expect(phone.locator("#help-status")).to_have_text(
        "We've told the staff: someone will come to you at shoes."
    )
    expect(phone.get_by_role("button", name="Ask for help")).to_be_disabled()
    for tablet in (sam, morgan):
        card = tablet.locator(".help")
        expect(card.locator(".name")).to_have_text("Leo")
        expect(card.locator(".where")).to_have_text("shoes")
        expect(card.locator(".wait")).to_have_text(re.compile(r"^\d+:\d\d$"))
        expect(card.locator(".escalated")).to_be_visible(timeout=ESCALATION_TIMEOUT_MS)

    sam.locator(".help").get_by_role("button", name="On my way").click()
    for tablet in (sam, morgan):
        expect(tablet.locator(".help .going")).to_have_text("Sam is on the way")
    expect(morgan.locator(".help").get_by_role("button", name="On my way")).to_be_hidden()
    expect(phone.locator("#help-status")).to_have_text("Sam is on the way to you.")
    phone.reload()  # the page recovers who is coming
    expect(phone.locator("#help-status")).to_have_text("Sam is on the way to you.")

    morgan.locator(".help").get_by_role("button", name="Helped").click()
    for tablet in (sam, morgan):
        expect(tablet.locator(".help")).to_have_count(0)
        expect(tablet.locator("#no-help")).to_be_visible()
    expect(phone.locator("#help-status")).to_be_hidden()
    expect(phone.locator("#survey")).to_be_visible()
