"""A staffer of several stores in headless Chromium: the tablet's store picker (kept on the
device, moving her Socket.IO rooms), and a manager changing her stores in the console, which
cuts her tablet off the store taken away."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect
from sqlalchemy import select

from bench.stack import Stack
from store_server.accounts.staff import add_staff
from store_server.accounts.stores import create_store
from store_server.db.database import Database
from store_server.db.models import Chain, Store
from tests.live import login
from tests.support.seeding import OTHER_STORE_NAME

pytestmark = pytest.mark.browser
RAE = ("rae@demo.store", "rae-two-stores")
TWO = ("two@demo.store", "two-stores-1")


def second_store(stack: Stack) -> int:
    """Station Road, in the demo store's chain; Rae works at both (she opens at Station Road)
    and Two manages both."""
    db = Database(stack.database_url)
    try:
        with db.transaction() as session:
            demo = session.get(Store, stack.seed["store_id"])
            assert demo is not None
            chain = session.get(Chain, demo.chain_id)
            assert chain is not None
            second = create_store(session, "Station Road", "UTC", "GBP", chain=chain.name)
            add_staff(session, [second.id, demo.id], RAE[0], "Rae", "staff", RAE[1])
            add_staff(session, [demo.id, second.id], TWO[0], "Two", "manager", TWO[1])
            return second.id
    finally:
        db.dispose()


def tablet(page: Page, stack: Stack, email: str, password: str) -> None:
    page.goto(f"{stack.url}/staff")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#link")).to_have_text("live")


def ask_for_help(stack: Stack, person: str) -> Any:
    asked = requests.post(
        f"{stack.url}/api/v1/me/help-requests",
        json={"store_id": stack.seed["store_id"]},
        headers={"Authorization": f"Bearer {stack.seed['device_tokens'][person]}"},
        timeout=10,
    )
    assert asked.status_code == 201, asked.text
    return asked.json()["request_id"]


def test_the_tablet_picks_her_store_keeps_it_and_hears_only_that_one(
    page: Page, stack: Stack
) -> None:
    station = second_store(stack)
    demo = stack.seed["store_id"]
    sam = page.context.browser.new_page()  # type: ignore[union-attr]
    tablet(sam, stack, "sam@demo.store", stack.seed["accounts"][0]["password"])
    tablet(page, stack, *RAE)
    picker = page.get_by_label("Store", exact=True)
    expect(picker.locator("option")).to_have_text(["Demo Store, High Street", "Station Road"])
    expect(picker).to_have_value(str(station))  # where she opens
    expect(page.locator("#who")).to_have_text("Rae · Station Road")

    ask_for_help(stack, "leo")  # at the demo store: Sam's tablet hears it, not Rae's
    expect(sam.locator("#help-requests li .name")).to_have_text(["Leo"])
    expect(page.locator("#help-requests li")).to_have_count(0)

    picker.select_option(str(demo))
    expect(page.locator("#who")).to_have_text("Rae · Demo Store, High Street")
    expect(page.locator("#help-requests li .name")).to_have_text(["Leo"])  # caught up
    expect(page.locator("#link")).to_have_text("live")
    ask_for_help(stack, "maria")  # live, in the demo store's room she joined
    expect(page.locator("#help-requests li .name")).to_have_text(["Leo", "Maria"])

    # Kept on the device: after a reload, and after logging out and in again.
    page.reload()
    expect(page.get_by_label("Store", exact=True)).to_have_value(str(demo))
    page.get_by_role("button", name="Log out").click()
    tablet(page, stack, *RAE)
    expect(page.get_by_label("Store", exact=True)).to_have_value(str(demo))
    expect(page.locator("#help-requests li")).to_have_count(2)

    # Back at Station Road: the demo store's rooms are left.
    page.get_by_label("Store", exact=True).select_option(str(station))
    expect(page.locator("#help-requests li")).to_have_count(0)
    expect(page.locator("#link")).to_have_text("live")
    sam.locator("#help-requests li", has_text="Leo").get_by_role("button", name="On my way").click()
    expect(sam.locator("#help-requests li", has_text="Leo").locator(".going")).to_be_visible()
    expect(page.locator("#help-requests li")).to_have_count(0)
    sam.close()


def test_a_manager_takes_a_store_from_a_staffer_and_her_tablet_there_is_cut_off(
    page: Page, stack: Stack
) -> None:
    station = second_store(stack)
    rae = page.context.browser.new_page()  # type: ignore[union-attr]
    tablet(rae, stack, *RAE)
    rae.get_by_label("Store", exact=True).select_option(str(stack.seed["store_id"]))
    expect(rae.locator("#link")).to_have_text("live")

    page.goto(f"{stack.url}/console")
    page.get_by_label("E-mail", exact=True).fill(TWO[0])
    page.get_by_label("Password", exact=True).fill(TWO[1])
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("tab", name="Store").click()
    row = page.locator("#staff-table tr", has_text=RAE[0])
    row.get_by_role("button", name="Stores and role").click()
    form = page.locator("#access-form")
    expect(form.get_by_label("Demo Store")).to_be_checked()
    expect(form.get_by_label("Station Road")).to_be_checked()
    # Making an admin is for admins: the API's refusal shows in the form.
    form.get_by_label("Role").select_option("admin")
    form.get_by_role("button", name="Save stores and role").click()
    expect(form.locator(".form-error")).to_have_text("only an admin of the chain can do this")
    form.get_by_label("Role").select_option("staff")
    form.get_by_label("Demo Store").uncheck()
    form.get_by_role("button", name="Save stores and role").click()
    expect(page.locator("#store-notice")).to_have_text("Rae is now staff at Station Road.")
    expect(form).to_be_hidden()

    # Her tablet at the demo store is disconnected and says why; a new log-in opens where
    # she still works.
    expect(rae.get_by_role("alert")).to_have_text(
        "You no longer work at this store. Log in again to see your stores."
    )
    assert [s["id"] for s in login(stack.url, *RAE)["staff"]["stores"]] == [station]
    tablet(rae, stack, *RAE)
    expect(rae.locator("#who")).to_have_text("Rae · Station Road")
    expect(rae.get_by_label("Store", exact=True)).to_be_hidden()
    rae.close()


def test_an_address_at_two_chains_logs_in_after_choosing_the_chain(
    page: Page, stack: Stack
) -> None:
    password = stack.seed["accounts"][0]["password"]  # Sam's at the demo store
    db = Database(stack.database_url)
    try:
        with db.transaction() as session:
            other = session.scalars(select(Store).where(Store.name == OTHER_STORE_NAME)).one()
            add_staff(session, [other.id], "sam@demo.store", "Sam", "staff", password)
            other_chain = session.get(Chain, other.chain_id)
            assert other_chain is not None
            other_chain_name = other_chain.name
    finally:
        db.dispose()
    page.goto(f"{stack.url}/staff")
    page.get_by_label("E-mail").fill("sam@demo.store")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text(
        "this e-mail logs in at several chains: choose one"
    )
    chain = page.get_by_label("Chain")
    expect(chain.locator("option")).to_have_count(2)
    chain.select_option(label=other_chain_name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#link")).to_have_text("live")
    expect(page.locator("#who")).to_have_text(f"Sam · {OTHER_STORE_NAME}")
