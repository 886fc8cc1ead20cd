"""The manager console in headless Chromium: campaigns through the form (with the API's field
errors shown next to the fields), pause, the report, gateway calibration, the live feed, and a
manager of two stores switching between them."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect
from sqlalchemy import update

from bench.stack import Stack
from store_server.accounts.staff import add_staff
from store_server.accounts.stores import create_store
from store_server.db.database import Database
from store_server.db.models import Chain, Store
from tests.live import announce_arrival, login
from tests.support.polling import wait_until

pytestmark = pytest.mark.browser
# The sweep runs every 5 s on the live server; an escalation shows within one run or two.
ESCALATION_TIMEOUT_MS = 20_000


def manager_account(stack: Stack) -> tuple[str, str]:
    account = next(a for a in stack.seed["accounts"] if a["role"] == "manager")
    return account["email"], account["password"]


def log_in(page: Page, stack: Stack, email: str, password: str) -> None:
    page.goto(f"{stack.url}/console")
    page.get_by_label("E-mail", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()


def api_get(stack: Stack, path: str, token: str) -> Any:
    response = requests.get(
        f"{stack.url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    response.raise_for_status()
    return response.json()


def test_staff_cannot_use_the_console(page: Page, stack: Stack) -> None:
    staff = next(a for a in stack.seed["accounts"] if a["role"] == "staff")
    log_in(page, stack, staff["email"], staff["password"])
    expect(page.locator("#login-error")).to_contain_text("for managers")
    expect(page.locator("#campaigns")).to_be_hidden()


def test_manager_creates_pauses_reads_results_and_calibrates(
    page: Page, stack: Stack, tmp_path: Path
) -> None:
    log_in(page, stack, *manager_account(stack))
    expect(page.locator("#link")).to_have_text("live")
    expect(page.get_by_role("tab", name="Campaigns")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_text("No campaigns yet")).to_be_visible()

    # A dwell campaign with two mistakes: a holdout above 50 %, and no zone.
    page.get_by_role("button", name="New campaign").click()
    form = page.locator("#campaign-form")
    page.get_by_label("Campaign name").fill("Dresses dwell")
    page.locator("#c-trigger").select_option("zone_dwell")
    page.get_by_label("At least this many minutes").fill("2")
    page.get_by_label("Offer text the shopper reads").fill("20 % off dresses for two hours")
    page.locator("#c-discount-kind").select_option("percent")
    page.locator("#c-discount-value").fill("20")
    page.get_by_label("Sat", exact=True).check()
    page.get_by_label("Sun", exact=True).check()
    page.locator('#c-channels li[data-channel="push"] input').check()
    page.get_by_role("button", name="Move push notification up").click()
    page.get_by_label("Hold out this % of shoppers").fill("60")
    page.get_by_role("button", name="Save campaign").click()

    # The API checks each field first, then the fields together: one mistake at a time.
    holdout_error = form.locator('.field-error[data-for="holdout_share"]')
    expect(holdout_error).to_contain_text("less than or equal to 0.5")
    expect(form.locator('.field-error[data-for="name"]')).to_be_hidden()
    page.get_by_label("Hold out this % of shoppers").fill("10")
    page.get_by_role("button", name="Save campaign").click()
    zone_error = form.locator('.field-error[data-for="zone"]')
    expect(zone_error).to_have_text("zone_dwell needs the zone's name")
    expect(holdout_error).to_be_hidden()
    expect(page.get_by_text("No campaigns yet")).to_be_visible()  # nothing was created

    page.locator("#c-zone").select_option("dresses")
    page.get_by_role("button", name="Save campaign").click()
    expect(form).to_be_hidden()

    row = page.locator("#campaign-table tbody tr", has_text="Dresses dwell")
    expect(row).to_have_count(1)
    expect(row.locator(".status")).to_have_text("running")
    expect(row.locator(".version")).to_have_text("v1")
    expect(row.locator(".trigger")).to_have_text("someone spends 2 min or more in dresses")
    expect(row.locator(".offer")).to_have_text("20 % off: 20 % off dresses for two hours")
    expect(row.locator(".channels")).to_have_text("push → app")

    # What the API stored is what the form said, in the API's units.
    email, password = manager_account(stack)
    token = login(stack.url, email, password)["token"]
    store_id = stack.seed["store_id"]
    stored = api_get(stack, f"/api/v1/stores/{store_id}/campaigns", token)["campaigns"][0]
    current = stored["current"]
    assert (current["zone"], current["min_dwell_s"], current["holdout_share"]) == (
        "dresses",
        120,
        0.1,
    )
    assert (current["days"], current["channels"], current["valid_minutes"]) == (
        [6, 7],
        ["push", "app"],
        120,
    )

    # Editing makes version 2 from the form as it was filled.
    row.get_by_role("button", name="Edit").click()
    expect(page.get_by_label("At least this many minutes")).to_have_value("2")
    page.get_by_label("At least this many minutes").fill("5")
    page.get_by_role("button", name="Save campaign").click()
    expect(row.locator(".version")).to_have_text("v2")
    expect(row.locator(".trigger")).to_have_text("someone spends 5 min or more in dresses")

    row.get_by_role("button", name="Pause").click()
    expect(row.locator(".status")).to_have_text("paused")
    expect(row.get_by_role("button", name="Resume")).to_be_visible()
    page.reload()  # paused on the server, not only on the page
    expect(page.locator("#campaign-table tbody tr .status")).to_have_text("paused")

    page.get_by_role("tab", name="Results").click()
    expect(page.locator("#report-pickups")).to_contain_text("Pickup arrivals")
    expect(page.locator("#report-help")).to_contain_text("Help requests")
    expect(page.locator("#report-campaigns")).to_contain_text("No campaign has decided")
    expect(page.locator("#report-care")).to_contain_text("No survey answers yet")
    expect(page.locator("#report-gateways tbody tr")).to_have_count(2)
    expect(page.locator("#report-beacons tbody tr")).to_have_count(3)

    page.get_by_role("tab", name="Layout").click()
    gateway = page.locator('#gateway-table tr[data-gateway-id="gw-entrance"]')
    offset = gateway.get_by_label("Calibration of gw-entrance in dB")
    expect(offset).to_have_value("0")
    offset.fill("30")
    gateway.get_by_role("button", name="Save").click()
    expect(gateway.locator(".row-error")).to_contain_text("rssi_offset_db")
    offset.fill("4.5")
    gateway.get_by_role("button", name="Save").click()
    expect(gateway.locator(".saved")).to_have_text("saved")
    expect(gateway.locator(".row-error")).to_be_hidden()
    page.screenshot(path=str(tmp_path / "console-layout.png"), full_page=True)

    layout = api_get(stack, f"/api/v1/stores/{store_id}/layout", token)
    entrance = next(g for g in layout["gateways"] if g["id"] == "gw-entrance")
    assert entrance["rssi_offset_db"] == 4.5
    gateway_token = stack.seed["gateway_tokens"]["gw-entrance"]
    config = api_get(stack, "/api/v1/gateways/gw-entrance/config", gateway_token)
    assert config["entry_rssi_dbm"] == -74.5
    page.reload()
    expect(page.get_by_label("Calibration of gw-entrance in dB")).to_have_value("4.5")


def test_live_feed_shows_presence_and_escalations(page: Page, stack: Stack) -> None:
    db = Database(stack.database_url)
    with db.transaction() as session:  # escalate at the sweep's next run
        session.execute(update(Store).values(ack_limit_s=1))
    db.dispose()
    log_in(page, stack, *manager_account(stack))
    expect(page.locator("#link")).to_have_text("live")

    announce_arrival(stack, rssi=-45)  # close to the door: an entry however fusion is tuned
    expect(page.locator("#live-badge")).to_have_text("1", timeout=ESCALATION_TIMEOUT_MS)
    page.get_by_role("tab", name="Live").click()
    expect(page.locator("#live-badge")).to_be_hidden()
    expect(page.locator('#presence li[data-kind="entered"] .what')).to_have_text("Maria entered")
    expect(page.locator('#presence li[data-kind="arrival"] .what')).to_have_text(
        re.compile(r"^Maria arrived for pickup #1001 at front door$")
    )
    escalation = page.locator("#escalations li")
    expect(escalation).to_have_count(1)
    expect(escalation.locator(".what")).to_have_text(
        "Nobody has gone to Maria (order #1001) at front door"
    )


def test_a_console_opened_late_shows_when_it_escalated_and_takes_it(
    page: Page, stack: Stack
) -> None:
    db = Database(stack.database_url)
    with db.transaction() as session:  # escalate at the sweep's next run
        session.execute(update(Store).values(ack_limit_s=1))
    db.dispose()
    email, password = manager_account(stack)
    token = login(stack.url, email, password)["token"]
    announce_arrival(stack, rssi=-45)
    arrivals_path = f"/api/v1/stores/{stack.seed['store_id']}/arrivals"

    def escalated() -> dict[str, Any] | None:
        found = api_get(stack, arrivals_path, token)["arrivals"]
        return next((a for a in found if a["escalation_level"] > 0), None)

    alert = wait_until(escalated, timeout=ESCALATION_TIMEOUT_MS / 1000)
    assert alert is not None, "the sweep did not escalate"
    log_in(page, stack, email, password)  # opened after the escalation
    page.get_by_role("tab", name="Live").click()
    item = page.locator("#escalations li")
    expect(item).to_have_count(1)
    shown = datetime.fromisoformat(item.locator("time").get_attribute("datetime") or "")
    assert abs(shown.timestamp() - alert["escalated_at"]) < 0.002
    item.get_by_role("button", name="I'll take it").click()
    expect(item.locator(".level")).to_have_text("Morgan is on the way")
    expect(item.get_by_role("button", name="I'll take it")).to_be_hidden()
    [taken] = api_get(stack, arrivals_path, token)["arrivals"]
    assert taken["status"] == "acknowledged" and taken["acknowledged_by"] == "Morgan"


def test_manager_sets_the_store_and_manages_staff_accounts(page: Page, stack: Stack) -> None:
    token = login(stack.url, *manager_account(stack))["token"]
    settings_path = f"/api/v1/stores/{stack.seed['store_id']}/settings"
    original = api_get(stack, settings_path, token)
    try:
        store_page_round_trip(page, stack, original["timezone"])
    finally:  # the stack is shared: the other tests see the store as seeded
        keys = set(original) - {"id", "locale", "public_url"}
        requests.put(
            f"{stack.url}{settings_path}",
            json={k: original[k] for k in keys},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ).raise_for_status()


def store_page_round_trip(page: Page, stack: Stack, timezone: str) -> None:
    log_in(page, stack, *manager_account(stack))
    page.get_by_role("tab", name="Store").click()
    expect(page.get_by_label("Time zone (e.g. Europe/London)")).to_have_value(timezone)
    # A made-up time zone and a phone without its country code: each error beside its field.
    page.get_by_label("Time zone (e.g. Europe/London)").fill("Mars/Olympus_Mons")
    page.get_by_label("The store's phone (with the country code)").fill("020 7946 0000")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator('.field-error[data-for="timezone"]')).to_contain_text("time zone")
    page.get_by_label("Time zone (e.g. Europe/London)").fill(timezone)
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator('.field-error[data-for="help_phone"]')).to_contain_text("country code")
    page.get_by_label("The store's phone (with the country code)").fill("+44 20 7946 0000")
    page.get_by_label("Minimum gap between two offers (minutes)").fill("45")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#store-notice")).to_contain_text("Settings saved")
    expect(page.get_by_label("The store's phone (with the country code)")).to_have_value(
        "+442079460000"
    )

    page.get_by_label("Name", exact=True).last.fill("Robin")
    page.get_by_label("E-mail (their log-in)").fill("robin@demo.store")
    page.get_by_label("Password (10 characters or more)").fill("robin-pass-1")
    page.get_by_role("button", name="Add account").click()
    row = page.locator("#staff-table tr", has_text="robin@demo.store")
    expect(row).to_contain_text("active")
    assert login(stack.url, "robin@demo.store", "robin-pass-1")["staff"]["name"] == "Robin"
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Deactivate").click()
    expect(row).to_contain_text("deactivated")
    refused = requests.post(
        f"{stack.url}/api/v1/auth/login",
        json={"email": "robin@demo.store", "password": "robin-pass-1"},
        timeout=10,
    )
    assert refused.status_code == 401


def test_a_manager_of_two_stores_switches_between_them(page: Page, stack: Stack) -> None:
    db = Database(stack.database_url)
    try:
        with db.transaction() as session:
            demo = session.get(Store, stack.seed["store_id"])
            assert demo is not None
            chain = session.get(Chain, demo.chain_id)
            assert chain is not None
            second = create_store(session, "Station Road", "UTC", "GBP", chain=chain.name)
            add_staff(
                session, [demo.id, second.id], "two@demo.store", "Two", "manager", "two-stores-1"
            )
            second_id = second.id
    finally:
        db.dispose()
    log_in(page, stack, "two@demo.store", "two-stores-1")
    expect(page.locator("#link")).to_have_text("live")
    picker = page.locator("#store-pick")
    expect(picker.locator("option")).to_have_count(2)
    picker.select_option(str(second_id))
    expect(page.locator("#who")).to_contain_text("Station Road")
    expect(page.locator("#link")).to_have_text("live")
    page.get_by_role("tab", name="Store").click()
    expect(page.locator("#s-name")).to_have_value("Station Road")
