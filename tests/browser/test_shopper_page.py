"""The shopper's phone page in headless Chromium: join with explicit consents; Maria sees staff
coming, gets her thank-you coupon with a countdown, answers the survey, and erases herself."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from bench.stack import Stack
from store_server.db.database import Database
from store_server.db.models import Shopper
from store_server.shoppers.recovery import recovery_token
from tests.live import announce_arrival, login

pytestmark = pytest.mark.browser
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
}


def phone_page(browser: Browser) -> Page:
    return browser.new_context(**PHONE).new_page()


def test_joining_needs_a_ticked_consent_and_keeps_the_choice(
    browser: Browser, stack: Stack
) -> None:
    page = phone_page(browser)
    page.goto(f"{stack.url}/app?store={stack.seed['store_id']}")
    expect(page.locator("#store-name")).to_have_text("Demo Store, High Street")
    for box in page.locator("input[name=consent]").all():
        expect(box).not_to_be_checked()
    page.get_by_label("First name").fill("Zoe")
    page.get_by_role("button", name="Join").click()
    expect(page.get_by_role("alert")).to_contain_text("Tick at least one box")
    page.get_by_label("Tell the staff when I arrive to collect an order").check()
    page.get_by_role("button", name="Join").click()
    expect(page.locator("#hello-name")).to_have_text("Zoe")
    expect(page.get_by_text("No order waiting for you.")).to_be_visible()


def test_maria_sees_staff_coming_gets_a_coupon_answers_and_erases(
    browser: Browser, stack: Stack
) -> None:
    page = phone_page(browser)
    token = stack.seed["device_tokens"]["maria"]
    page.goto(f"{stack.url}/app?store={stack.seed['store_id']}#device={token}")
    expect(page.locator("#hello-name")).to_have_text("Maria")
    assert token not in page.url  # the token left the address bar
    expect(page.locator("#pickups li")).to_have_text("Order 1001: ready to collect")

    announce_arrival(stack)
    sam = login(stack.url, "sam@demo.store", stack.seed["accounts"][0]["password"])
    staff = {"Authorization": f"Bearer {sam['token']}"}
    arrivals = requests.get(
        f"{stack.url}/api/v1/stores/{stack.seed['store_id']}/arrivals", headers=staff, timeout=10
    ).json()["arrivals"]
    base = f"{stack.url}/api/v1/stores/{stack.seed['store_id']}/alerts/{arrivals[0]['alert_id']}"
    requests.post(f"{base}/acknowledge", headers=staff, timeout=10).raise_for_status()
    expect(page.locator("#live")).to_have_text("Sam is on the way")
    requests.post(f"{base}/handover", headers=staff, timeout=10).raise_for_status()

    coupon = page.locator(".coupon")
    expect(coupon.locator(".offer")).to_contain_text("10 % off your next visit")
    expect(coupon.locator(".code")).to_have_text(re.compile(r"^[0-9A-Z]{5}-[0-9A-Z]{5}$"))
    expect(coupon.locator(".countdown")).to_have_text(re.compile(r"valid for (29|30) days"))
    expect(coupon.locator("img.qr")).to_be_visible()
    coupon.locator("img.qr").evaluate("img => img.decode()")  # rejects if it is no image
    assert coupon.locator("img.qr").evaluate("img => img.naturalWidth") > 100
    qr_target = f"{stack.url}/r/{coupon.locator('.code').inner_text().replace('-', '')}"
    assert "Show this code at the till" in requests.get(qr_target, timeout=10).text
    page.locator(".scale button", has_text=re.compile(r"^9$")).click()
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Thank you!")).to_be_visible()
    page.screenshot(path=str(stack.workdir / "shopper-after-pickup.png"), full_page=True)

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Erase everything").click()
    expect(page.get_by_role("alert")).to_have_text("Everything about you was erased.")
    me = requests.get(
        f"{stack.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert me.status_code == 401


def test_an_arrival_only_sign_up_sees_her_order_and_claim_links_say_what_went_wrong(
    browser: Browser, stack: Stack
) -> None:
    store = stack.seed["store_id"]
    orders = f"{stack.url}/api/v1/stores/{store}/orders"
    integration = {"Authorization": f"Bearer {stack.seed['integration_token']}"}
    order: dict[str, Any] = {"number": "4100", "status": "ready", "items": [{"name": "Lamp"}]}
    pushed = requests.put(
        f"{orders}/pos-4100",
        json={**order, "customer_email": "nia@example.com"},
        headers=integration,
        timeout=10,
    )
    assert pushed.json()["matched_to_shopper"] is False
    page = phone_page(browser)
    page.goto(f"{stack.url}/app?store={store}")
    page.get_by_label("First name").fill("Nia")
    page.get_by_label("Tell the staff when I arrive to collect an order").check()
    expect(page.get_by_text("Used only to recognise your pickup orders")).to_be_visible()
    page.get_by_label("E-mail or phone number you give the shop with your orders").fill(
        " Nia@Example.com"
    )
    page.get_by_role("button", name="Join").click()
    expect(page.locator("#pickups li")).to_have_text("Order 4100: ready to collect")

    # A second order without any e-mail: its claim link, opened on her phone, links it.
    claimable = requests.put(
        f"{orders}/pos-4101", json={**order, "number": "4101"}, headers=integration, timeout=10
    ).json()
    page.goto(claimable["claim_url"])
    expect(page.locator("#claim-result")).to_contain_text("Order 4101 is linked to this phone")
    assert "claim=" not in page.url  # the token left the address bar
    expect(page.locator("#pickups li")).to_have_text(
        ["Order 4100: ready to collect", "Order 4101: ready to collect"]
    )
    # Someone else's phone opening the same link is told, and gets nothing.
    other = phone_page(browser)
    other.goto(f"{stack.url}/app?store={store}")
    other.get_by_label("First name").fill("Ivo")
    other.get_by_label("Tell the staff when I arrive to collect an order").check()
    other.get_by_role("button", name="Join").click()
    expect(other.locator("#hello-name")).to_have_text("Ivo")
    other.goto(claimable["claim_url"])
    expect(other.locator("#claim-result")).to_contain_text("already linked to another phone")
    # Ivo has no order: "I'm here" says so and what to do.
    other.get_by_role("button", name="I'm here").click()
    expect(other.locator("#checkin-result")).to_have_text(
        "We don't see a pickup order for you yet — open the link in your order's ready message,"
        " or tell a staff member"
    )


def test_the_page_recovers_from_reloads_and_dropped_networks_at_every_step_of_a_pickup(
    browser: Browser, stack: Stack
) -> None:
    store = stack.seed["store_id"]
    page = phone_page(browser)
    token = stack.seed["device_tokens"]["maria"]
    page.goto(f"{stack.url}/app?store={store}#device={token}")
    order = page.locator("#pickups li")
    connection = page.get_by_role("status").filter(has_text=re.compile("Live|Reconnecting|Offline"))
    expect(connection).to_have_text("Live")
    sam = login(stack.url, "sam@demo.store", stack.seed["accounts"][0]["password"])
    staff = {"Authorization": f"Bearer {sam['token']}"}
    alerts = f"{stack.url}/api/v1/stores/{store}/alerts"

    def arrive() -> None:
        announce_arrival(stack)

    def acknowledge() -> None:
        arrivals = requests.get(
            f"{stack.url}/api/v1/stores/{store}/arrivals", headers=staff, timeout=10
        ).json()["arrivals"]
        alert = arrivals[0]["alert_id"]
        requests.post(f"{alerts}/{alert}/acknowledge", headers=staff, timeout=10).raise_for_status()

    def hand_over() -> None:
        arrivals = requests.get(
            f"{stack.url}/api/v1/stores/{store}/arrivals", headers=staff, timeout=10
        ).json()["arrivals"]
        alert = arrivals[0]["alert_id"]
        requests.post(f"{alerts}/{alert}/handover", headers=staff, timeout=10).raise_for_status()

    steps = [
        (arrive, "Order 1001: we know you're here", ""),
        (acknowledge, "Order 1001: Sam is on the way", "Sam is on the way"),
        (hand_over, "Order 1001: handed over to you", "Thank you for collecting your order!"),
    ]
    for act, order_text, banner in steps:
        # The step happens while the phone is offline: its events are missed for good.
        page.context.set_offline(True)
        expect(connection).to_have_text("Offline")
        act()
        page.context.set_offline(False)
        # Back online, the page catches up by itself; then a reload shows the same, once.
        for _ in ("caught up", "reloaded"):
            expect(connection).to_have_text("Live")
            expect(order).to_have_text([order_text])
            expect(page.locator("#live")).to_have_text(banner)
            page.reload()
    expect(page.locator(".coupon")).to_have_count(1)
    expect(page.locator("#survey")).to_have_count(1)
    expect(page.locator("#survey")).to_be_visible()
    expect(page.locator("#survey-question")).to_contain_text("recommend us")

    # The answer, sent while offline, is not lost: the form stays and says why.
    page.locator(".scale button", has_text=re.compile(r"^8$")).click()
    page.context.set_offline(True)
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#survey-error")).to_contain_text("check your connection")
    expect(page.locator("#survey")).to_be_visible()
    page.context.set_offline(False)
    expect(connection).to_have_text("Live")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Thank you!")).to_be_visible()
    page.reload()
    expect(connection).to_have_text("Live")
    expect(order).to_have_text(["Order 1001: handed over to you"])
    expect(page.locator("#survey")).to_be_hidden()
    expect(page.locator(".coupon")).to_have_count(1)
    pending = requests.get(
        f"{stack.url}/api/v1/me/surveys", headers={"Authorization": f"Bearer {token}"}, timeout=10
    ).json()
    assert pending == {"surveys": []}


def test_offers_arrival_alerts_and_the_pause_switch_on_and_off_from_the_page(
    browser: Browser, stack: Stack
) -> None:
    token = stack.seed["device_tokens"]["maria"]
    page = phone_page(browser)
    page.goto(f"{stack.url}/app?store={stack.seed['store_id']}#device={token}")
    choices = page.locator("#choices")
    expect(page.locator("#hello-name")).to_have_text("Maria")

    def consents() -> set[tuple[str, str]]:
        me = requests.get(
            f"{stack.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
        ).json()
        return {(c["purpose"], c["channel"]) for c in me["consents"]}

    in_app = choices.get_by_label("Offers in this app")
    wanted = not in_app.is_checked()
    in_app.set_checked(wanted)
    expect(page.locator("#privacy-result")).to_contain_text(
        "Offers in this app are on." if wanted else "Offers in this app are off."
    )
    assert (("offers", "app") in consents()) is wanted
    page.reload()
    expect(choices.get_by_label("Offers in this app")).to_be_checked(checked=wanted)

    page.get_by_role("button", name="Stop arrival alerts").click()
    expect(page.locator("#privacy-result")).to_contain_text("Arrival alerts are off")
    assert not any(purpose == "arrival" for purpose, _ in consents())
    expect(choices.get_by_label("Arrival alerts")).not_to_be_checked()
    page.get_by_role("button", name="Turn arrival alerts back on").click()
    expect(page.locator("#privacy-result")).to_contain_text("Arrival alerts are on")
    assert ("arrival", "app") in consents()
    expect(page.get_by_role("button", name="Stop arrival alerts")).to_be_visible()

    page.get_by_role("button", name="Pause detection for an hour").click()
    expect(page.locator("#pause-state")).to_contain_text("Paused: the store will not recognise")
    page.reload()
    page.get_by_role("button", name="Resume detection").click()
    expect(page.locator("#privacy-result")).to_contain_text("Detection is back on")
    expect(page.get_by_role("button", name="Pause detection for an hour")).to_be_visible()
    me = requests.get(
        f"{stack.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
    ).json()
    assert me["detection_paused_until"] is None


RECOVERY_SECRET = "recovery-test-secret"


class KnownSecretStack(Stack):
    """A stack whose server signs links with a secret the test knows (to make a link)."""

    def server_env(self) -> dict[str, str]:
        return {**super().server_env(), "STORE_SECRET_KEY": RECOVERY_SECRET}


def recovery_link(stack: Stack, person: str) -> str:
    """The link the store would send her (the test signs it as the server does)."""
    db = Database(stack.database_url)
    try:
        with db.transaction() as session:
            shopper = session.scalars(
                select(Shopper.id).where(Shopper.first_name == person.title())
            ).one()
            token = recovery_token(session, RECOVERY_SECRET.encode(), shopper, time.time())
    finally:
        db.dispose()
    return f"{stack.url}/app?store={stack.seed['store_id']}#recover={token}"


def test_a_lost_phone_is_replaced_then_erased_through_recovery_links(
    browser: Browser, tmp_path: Path, prepared_store: Stack
) -> None:
    with KnownSecretStack(tmp_path / "stack") as stack:
        stack.start_server(copy_of=prepared_store)
        page = phone_page(browser)
        page.goto(f"{stack.url}/app?store={stack.seed['store_id']}")
        page.get_by_label("E-mail or phone number (with the country code)").fill("+14155550100")
        page.get_by_role("button", name="Send me a link").click()
        expect(page.locator("#lost-result")).to_contain_text("a link is on its way")

        old_token = stack.seed["device_tokens"]["maria"]
        page.goto(recovery_link(stack, "maria"))
        expect(page).not_to_have_url(re.compile("recover="))  # the token left the address bar
        page.get_by_role("button", name="Use this phone").click()
        expect(page.locator("#hello-name")).to_have_text("Maria")
        me = requests.get(
            f"{stack.url}/api/v1/me", headers={"Authorization": f"Bearer {old_token}"}, timeout=10
        )
        assert me.status_code == 401  # the lost phone is a stranger now

        page.goto(recovery_link(stack, "maria"))
        page.once("dialog", lambda dialog: dialog.accept())
        page.locator("#recover").get_by_role("button", name="Erase everything").click()
        expect(page.get_by_role("alert")).to_contain_text("Everything about you was erased")
        expect(page.locator("#join")).to_be_visible()
