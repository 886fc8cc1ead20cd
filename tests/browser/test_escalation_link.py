"""A manager's "I'll take it" link in headless Chromium: the token leaves the address bar,
reaches the server only in a POST body (never in its log), and the first to act wins."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page, expect
from sqlalchemy import select

from bench.stack import Stack
from store_server.db.database import Database
from store_server.db.models import StaffUser
from store_server.pickup.escalations import take_token, take_url
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
    token = take_token(SECRET.encode(), store_id, alert_id, morgan, time.time() + 600)

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
