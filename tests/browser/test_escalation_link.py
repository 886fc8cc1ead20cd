"""A manager's "I'll take it" in headless Chromium, for a pickup alert and for a help request:
from the link (the token leaves the address bar, reaches the server only in a POST body, never
in its log) or from the console's live feed; the first to act wins and the shopper is told who
is coming."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select, update

from bench.stack import Stack
from store_server.db.database import Database
from store_server.db.models import StaffUser, Store
from store_server.pickup.escalations import EscalationKind, take_token, take_url
from tests.browser.test_console import ESCALATION_TIMEOUT_MS, api_get, log_in, manager_account
from tests.browser.test_help_and_inbox import open_phone
from tests.live import announce_arrival, login, running_stack
from tests.support.polling import wait_until

pytestmark = pytest.mark.browser
SECRET = "escalation-link-test-secret"


@pytest.fixture
def signed_stack(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, prepared_store: Stack
) -> Iterator[Stack]:
    """A live store server whose signing secret the test knows."""
    monkeypatch.setenv("STORE_SECRET_KEY", SECRET)
    with running_stack(tmp_path / "stack", "bluez", prepared_store) as running:
        yield running


def test_the_link_takes_the_alert_once_and_its_token_is_in_no_log(
    page: Page, signed_stack: Stack
) -> None:
    stack = signed_stack
    store_id = stack.seed["store_id"]
    sam = login(stack.url, "sam@demo.store", stack.seed["accounts"][0]["password"])
    announce_arrival(stack, rssi=-45)
    arrivals = f"{stack.url}/api/v1/stores/{store_id}/arrivals"

    def open_alert() -> int | None:
        found = requests.get(
            arrivals, headers={"Authorization": f"Bearer {sam['token']}"}, timeout=10
        ).json()["arrivals"]
        return found[0]["alert_id"] if found else None

    alert_id = wait_until(open_alert, timeout=15)
    assert alert_id is not None
    db = Database(stack.database_url)
    with db.sessions() as session:
        morgan = session.scalars(
            select(StaffUser.id).where(StaffUser.email == "morgan@demo.store")
        ).one()
    db.dispose()
    token = take_token(
        SECRET.encode(), EscalationKind.PICKUP, store_id, alert_id, morgan, time.time() + 600
    )

    page.goto(take_url(stack.url, token))
    expect(page.get_by_role("button", name="I'll take it")).to_be_visible()
    assert page.evaluate("location.hash") == ""  # gone from the address bar and history
    page.get_by_role("button", name="I'll take it").click()
    expect(page.locator("#take-result")).to_have_text(
        "You are on your way to Maria (order #1001) at front door."
    )
    page.goto("about:blank")  # else the same page only changes its fragment
    page.goto(take_url(stack.url, token))  # a second tap, or a second manager's
    page.get_by_role("button", name="I'll take it").click()
    expect(page.locator("#take-error")).to_have_text("Morgan is on the way")
    page.goto("about:blank")
    page.goto(f"{stack.url}/escalation")
    expect(page.locator("#take-error")).to_contain_text("not complete")
    assert stack.server is not None
    log = "\n".join(stack.server.lines)
    assert "event=" in log  # the server's own log lines (gunicorn keeps no access log)...
    assert token.rsplit(".", 1)[1] not in log  # ...hold no token


def manager_id(stack: Stack) -> int:
    db = Database(stack.database_url)
    with db.sessions() as session:
        found = session.scalars(
            select(StaffUser.id).where(StaffUser.email == "morgan@demo.store")
        ).one()
    db.dispose()
    return found


def test_an_escalated_help_request_is_taken_from_the_console_or_from_the_link(
    page: Page, browser: Browser, signed_stack: Stack
) -> None:
    stack = signed_stack
    store_id = stack.seed["store_id"]
    db = Database(stack.database_url)
    with db.transaction() as session:  # escalate at the sweep's next run
        session.execute(update(Store).values(ack_limit_s=1))
    db.dispose()
    email, password = manager_account(stack)
    token = login(stack.url, email, password)["token"]
    requests_path = f"/api/v1/stores/{store_id}/help-requests"

    # Leo asks from his page; the console, opened after the escalation, lists it beside the
    # pickups with the escalation's own time, and takes it as a tablet would.
    phone = open_phone(browser, stack, "leo")
    phone.locator("#help-zone").select_option(label="At shoes")
    phone.get_by_role("button", name="Ask for help").click()
    expect(phone.locator("#help-status")).to_contain_text("someone will come to you at shoes")

    def escalated() -> dict[str, Any] | None:
        found = api_get(stack, requests_path, token)["help_requests"]
        return next((r for r in found if r["escalation_level"] > 0), None)

    leo = wait_until(escalated, timeout=ESCALATION_TIMEOUT_MS / 1000)
    assert leo is not None, "the sweep did not escalate"
    log_in(page, stack, email, password)
    page.get_by_role("tab", name="Live").click()
    item = page.locator('#escalations li[data-kind="help"]')
    expect(item).to_have_count(1)
    expect(item.locator(".what")).to_have_text(
        "Nobody has gone to Leo, who asked for help at shoes"
    )
    shown = datetime.fromisoformat(item.locator("time").get_attribute("datetime") or "")
    assert abs(shown.timestamp() - leo["escalated_at"]) < 0.002
    item.get_by_role("button", name="I'll take it").click()
    expect(item.locator(".level")).to_have_text("Morgan is on the way")
    expect(phone.locator("#help-status")).to_have_text("Morgan is on the way to you.")

    # Maria asks; her escalation reaches the open console live, and the link takes it.
    asked = requests.post(
        f"{stack.url}/api/v1/me/help-requests",
        json={"store_id": store_id},
        headers={"Authorization": f"Bearer {stack.seed['device_tokens']['maria']}"},
        timeout=10,
    )
    assert asked.status_code == 201, asked.text
    maria = asked.json()["request_id"]
    live = page.locator(f'#escalations li[data-kind="help"][data-id="{maria}"]')
    expect(live.locator(".what")).to_contain_text("Maria", timeout=ESCALATION_TIMEOUT_MS)
    link = take_token(
        SECRET.encode(), EscalationKind.HELP, store_id, maria, manager_id(stack), time.time() + 600
    )
    taker = browser.new_page()
    taker.goto(take_url(stack.url, link))
    taker.get_by_role("button", name="I'll take it").click()
    expect(taker.locator("#take-result")).to_have_text(
        re.compile(r"^You are on your way to Maria who asked for help at .+\.$")
    )
    expect(live.locator(".level")).to_have_text("Morgan is on the way")  # the console follows
    expect(live.get_by_role("button", name="I'll take it")).to_be_hidden()
    mine = requests.get(
        f"{stack.url}/api/v1/me/help-requests",
        headers={"Authorization": f"Bearer {stack.seed['device_tokens']['maria']}"},
        timeout=10,
    ).json()["help_requests"]
    assert [r["staff_on_the_way"] for r in mine] == ["Morgan"]
    taker.close()
