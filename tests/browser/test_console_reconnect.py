"""The manager console in headless Chromium when the server cuts its socket (her role or stores
changed): it reconnects by itself while the store is still hers to manage, and hears the store
live again; otherwise it says why and shows the log-in, as the staff tablet does."""

from __future__ import annotations

import pytest
import requests
from playwright.sync_api import Page, expect

from bench.stack import Stack
from store_server.accounts.staff import add_staff
from store_server.db.database import Database
from store_server.db.models import Store
from tests.browser.test_console import log_in
from tests.browser.test_staff_stores import TWO, second_store
from tests.live import announce_arrival, login
from tests.support.polling import wait_until

pytestmark = pytest.mark.browser
ADA = ("ada@demo.store", "ada-the-admin-1")
# Records why the console's socket ended, for the test to wait on.
WATCH_CUT = "window.consoleSocket.on('disconnect', (reason) => { window.cutReason = reason; })"
CUT_BY_SERVER = "window.cutReason === 'io server disconnect'"


def wait_until_cut_by_server(page: Page) -> None:
    """Poll the page until the server cut its socket off (30 s, Playwright's default): from
    Python, as `wait_for_function` would compile its predicate in the page, which the
    console's CSP (no 'unsafe-eval') refuses whenever the first check is false."""
    assert wait_until(
        lambda: page.evaluate(CUT_BY_SERVER), 30, sleep=lambda s: page.wait_for_timeout(s * 1000)
    )


def with_admin(stack: Stack) -> int:
    """Ada, an admin of the demo store's chain; Two manages both stores (Station Road made
    too). Returns Two's account id."""
    second_store(stack)
    db = Database(stack.database_url)
    try:
        with db.transaction() as session:
            demo = session.get(Store, stack.seed["store_id"])
            assert demo is not None
            add_staff(session, [], ADA[0], "Ada", "admin", ADA[1], chain_id=demo.chain_id)
        return int(login(stack.url, *TWO)["staff"]["id"])
    finally:
        db.dispose()


def change_access(stack: Stack, staff_id: int, role: str, store_ids: list[int]) -> None:
    """Ada changes an account's role and stores in her console's API."""
    token = login(stack.url, *ADA)["token"]
    changed = requests.put(
        f"{stack.url}/api/v1/stores/{stack.seed['store_id']}/staff/{staff_id}/access",
        json={"role": role, "store_ids": store_ids},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert changed.status_code == 200, changed.text


def console_at_demo(page: Page, stack: Stack) -> None:
    log_in(page, stack, *TWO)
    expect(page.locator("#link")).to_have_text("live")
    expect(page.locator("#who")).to_have_text("Two · Demo Store, High Street")
    page.evaluate(WATCH_CUT)


def test_the_console_reconnects_by_itself_while_the_store_is_still_hers(
    page: Page, stack: Stack
) -> None:
    two = with_admin(stack)
    console_at_demo(page, stack)

    # Made an admin: every connection of hers ends (her rooms change); the demo store is still
    # hers to manage, so the console connects again by itself.
    change_access(stack, two, "admin", [])
    wait_until_cut_by_server(page)
    expect(page.locator("#link")).to_have_text("live")
    expect(page.locator("#login")).to_be_hidden()

    # Live again, in the store's rooms: a shopper's entry reaches the feed.
    announce_arrival(stack, rssi=-45)
    expect(page.locator('#presence li[data-kind="entered"] .what')).to_have_text("Maria entered")


def test_the_console_says_why_and_asks_for_a_log_in_when_the_store_is_taken_away(
    page: Page, stack: Stack
) -> None:
    two = with_admin(stack)
    station = login(stack.url, *TWO)["staff"]["stores"][1]["id"]
    console_at_demo(page, stack)

    change_access(stack, two, "manager", [station])  # the demo store is no longer hers
    wait_until_cut_by_server(page)
    expect(page.locator("#login-error")).to_have_text(
        "You no longer manage this store. Log in again to see your stores."
    )
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#tabs")).to_be_hidden()
    # A new log-in opens where she still manages.
    log_in(page, stack, *TWO)
    expect(page.locator("#who")).to_have_text("Two · Station Road")
    expect(page.locator("#link")).to_have_text("live")
