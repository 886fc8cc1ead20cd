"""The shopper page as an installable app with Web Push, in headless Chromium: the manifest and
icons (starting at the page's store), the service worker, pushed messages shown (and expired
ones not), the page subscribing and unsubscribing with the shopper's consent, the worker renewing
a subscription the browser changed, and the new in-app coupon message."""

from __future__ import annotations

import base64
import json
import re
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, Worker, expect

from bench.stack import Stack
from store_server.db.database import Database
from store_server.db.models import Shopper
from store_server.engagement.coupons import issue_coupon
from tests.support.polling import wait_until

pytestmark = pytest.mark.browser
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
}
DEADLINE_S = 10.0
MESSAGE_ID = "5f0c" * 8
# What a browser's push service hands out; never contacted here (see the fake PushManager).
FAKE_ENDPOINT = "https://push.example.net/wpush/v2/gAAAA-phone-1"


@pytest.fixture(autouse=True)
def vapid_keys_in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The stack's server generates its VAPID keys here, not in the repository's var/."""
    monkeypatch.setenv("STORE_VAR_DIR", str(tmp_path / "var"))


@pytest.fixture
def phone(browser: Browser) -> Iterator[BrowserContext]:
    """A phone that has allowed notifications for the page."""
    context = browser.new_context(**PHONE, permissions=["notifications"])
    yield context
    context.close()


def app_url(stack: Stack, person: str | None = None) -> str:
    url = f"{stack.url}/app?store={stack.seed['store_id']}"
    return f"{url}#device={stack.seed['device_tokens'][person]}" if person else url


def open_app(context: BrowserContext, url: str) -> tuple[Page, Worker]:
    """Open the page and return it with its service worker, once that is activated."""
    page = context.new_page()
    with context.expect_event("serviceworker", timeout=DEADLINE_S * 1000) as started:
        page.goto(url)
    worker: Worker = started.value
    assert worker.url.endswith("/sw.js")
    state = page.evaluate(
        """deadline => new Promise((resolve, reject) => {
            setTimeout(() => reject(new Error("not activated in time")), deadline);
            navigator.serviceWorker.ready.then((registration) => {
                const active = registration.active;
                if (active.state === "activated") resolve(registration.scope);
                active.addEventListener("statechange", () => {
                    if (active.state === "activated") resolve(registration.scope);
                });
            });
        })""",
        DEADLINE_S * 1000,
    )
    assert state == f"{stack_origin(page)}/"
    return page, worker


def waiting_in(page: Page) -> Callable[[float], None]:
    """A `sleep` for `wait_until` that waits in the page: Playwright dispatches the browser's
    events (CDP, console) only while the test calls into it."""
    return lambda seconds: page.wait_for_timeout(seconds * 1000)


def stack_origin(page: Page) -> str:
    origin: str = page.evaluate("location.origin")
    return origin


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_manifest_is_linked_parses_and_its_icons_load(
    phone: BrowserContext, read_only_stack: Stack
) -> None:
    page, _ = open_app(phone, app_url(read_only_stack))
    store_id = read_only_stack.seed["store_id"]
    href = page.locator("link[rel=manifest]").get_attribute("href")
    assert href == f"/manifest.webmanifest?store={store_id}"
    theme = page.locator("meta[name=theme-color]").get_attribute("content")

    answer = page.request.get(f"{read_only_stack.url}{href}")
    assert answer.ok
    assert answer.headers["content-type"].startswith("application/manifest+json")
    manifest = answer.json()
    # The installed app opens the store whose page it was installed from.
    assert manifest["start_url"] == f"/app?store={store_id}"
    assert manifest["display"] == "standalone"
    assert manifest["name"] and manifest["short_name"]
    assert manifest["theme_color"] == theme
    sizes = set()
    for icon in manifest["icons"]:
        image = page.request.get(f"{read_only_stack.url}{icon['src']}")
        assert image.ok and image.headers["content-type"] == "image/png"
        width, height = png_size(image.body())
        assert icon["sizes"] == f"{width}x{height}"
        sizes.add(width)
    assert {192, 512} <= sizes

    # As Chromium itself reads it: no parse errors, and nothing but the test's incognito
    # profile stands between the page and "Install app".
    cdp: CDPSession = phone.new_cdp_session(page)
    parsed = cdp.send("Page.getAppManifest")
    assert parsed["url"] == f"{read_only_stack.url}{href}" and parsed["errors"] == []
    assert parsed["manifest"]["startUrl"] == f"{read_only_stack.url}/app?store={store_id}"
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    assert {e["errorId"] for e in errors} <= {"in-incognito"}


def test_the_service_worker_is_served_from_the_root_uncached(read_only_stack: Stack) -> None:
    answer = requests.get(f"{read_only_stack.url}/sw.js", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/javascript")
    assert answer.headers["Cache-Control"] == "no-cache"


class PushDelivery:
    """Real push messages into the page's service worker, the way DevTools' "Push" button
    sends them (trusted events; headless Chromium cannot reach a push service)."""

    def __init__(self, context: BrowserContext, page: Page, origin: str) -> None:
        self.page = page
        self.origin = origin
        self.registrations: list[dict[str, Any]] = []
        self.cdp = context.new_cdp_session(page)
        self.cdp.on("ServiceWorker.workerRegistrationUpdated", self._updated)
        self.cdp.send("ServiceWorker.enable")

    def _updated(self, event: dict[str, Any]) -> None:
        self.registrations.extend(r for r in event["registrations"] if not r["isDeleted"])

    def registration_id(self) -> str:
        def registered() -> str:
            for registration in self.registrations:
                if registration["scopeURL"] == f"{self.origin}/":
                    return str(registration["registrationId"])
            return ""

        # Waiting in the page lets Playwright dispatch the CDP events.
        found = wait_until(registered, DEADLINE_S, 0.05, sleep=waiting_in(self.page))
        assert found, "the service worker's registration never showed up"
        return found

    def send(self, data: str) -> None:
        self.cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": self.origin, "registrationId": self.registration_id(), "data": data},
        )


def notifications(worker: Worker) -> list[dict[str, Any]]:
    shown: list[dict[str, Any]] = worker.evaluate(
        """self.registration.getNotifications().then((list) => list.map((n) => (
            {title: n.title, body: n.body, tag: n.tag, data: n.data})))"""
    )
    return shown


def wait_for_notifications(worker: Worker, page: Page, count: int) -> list[dict[str, Any]]:
    def enough() -> tuple[list[dict[str, Any]]] | None:
        shown = notifications(worker)
        return (shown,) if len(shown) >= count else None

    found = wait_until(enough, DEADLINE_S, 0.05, sleep=waiting_in(page))
    assert found, f"expected {count} notification(s), saw {notifications(worker)}"
    return found[0]


def message(stack: Stack, message_id: str, title: str, expires_in_s: float) -> dict[str, Any]:
    """A message as the server pushes it (channels.Notification.payload())."""
    now = time.time()
    return {
        "id": message_id,
        "kind": "coupon",
        "title": title,
        "body": "Show this code at the till",
        "url": f"{stack.url}/r/ABCDE12345",
        "expires_at": now + expires_in_s,
        "data": {"code": "ABCDE12345", "percent_off": 20, "expires_at": now + expires_in_s},
    }


def test_every_push_shows_a_notification_an_expired_one_says_it_ended(
    phone: BrowserContext, read_only_stack: Stack
) -> None:
    # Safari revokes the subscription of a site whose pushes show nothing.
    page, worker = open_app(phone, app_url(read_only_stack, "maria"))
    push = PushDelivery(phone, page, read_only_stack.url)
    expired = message(read_only_stack, "e" * 32, "Expired offer", expires_in_s=-1)
    live = message(read_only_stack, MESSAGE_ID, "20 % off dresses today", expires_in_s=600)
    push.send(json.dumps(expired))
    push.send("not JSON at all")
    push.send(json.dumps(live))
    shown = {n["tag"]: n for n in wait_for_notifications(worker, page, 3)}
    assert shown[MESSAGE_ID] == {
        "title": live["title"],
        "body": live["body"],
        "tag": MESSAGE_ID,
        "data": live,
    }
    ended = shown["e" * 32]
    assert ended["title"] == "This offer has ended"
    assert ended["body"] == "This offer has ended: Expired offer"
    assert ended["data"]["url"] is None
    assert shown[""]["title"] == "Your store"  # the unreadable one, untagged
    worker.evaluate(
        """async (keep) => {
            for (const n of await self.registration.getNotifications()) {
                if (n.tag !== keep) n.close();
            }
        }""",
        MESSAGE_ID,
    )

    # A tap tells the store it was seen (the opaque id is the capability).
    with phone.expect_event(
        "request",
        lambda r: (
            r.method == "POST"
            and r.url == f"{read_only_stack.url}/api/v1/messages/{MESSAGE_ID}/seen"
        ),
        timeout=DEADLINE_S * 1000,
    ):
        worker.evaluate(
            """async (tag) => {
                const [notification] = await self.registration.getNotifications({tag});
                self.dispatchEvent(new NotificationEvent("notificationclick", {notification}));
            }""",
            MESSAGE_ID,
        )
    assert notifications(worker) == []  # closed on the tap


FAKE_PUSH_MANAGER = """
(() => {
  // Chromium refuses the Push API in incognito profiles (every Playwright context is one), and
  // no push service is reachable here: this stands in for the browser's PushManager only.
  const keys = { p256dh: "%(p256dh)s", auth: "%(auth)s" };
  let current = null;
  window.__push = { subscribed: [], unsubscribed: 0 };
  PushManager.prototype.getSubscription = async function () { return current; };
  PushManager.prototype.subscribe = async function (options) {
    window.__push.subscribed.push({
      userVisibleOnly: options.userVisibleOnly,
      key: Array.from(new Uint8Array(options.applicationServerKey)),
    });
    current = {
      endpoint: "%(endpoint)s",
      options: { applicationServerKey: new Uint8Array(options.applicationServerKey).buffer },
      toJSON: () => ({ endpoint: "%(endpoint)s", expirationTime: null, keys }),
      unsubscribe: async () => { current = null; window.__push.unsubscribed += 1; return true; },
    };
    return current;
  };
})();
"""


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def browser_keys() -> dict[str, str]:
    """Keys as a browser makes them: a P-256 share and a 16-byte secret."""
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return {"p256dh": b64url(point), "auth": b64url(b"0123456789abcdef")}


def push_subscriptions(stack: Stack, token: str) -> list[dict[str, Any]]:
    exported = requests.get(
        f"{stack.url}/api/v1/me/export", headers={"Authorization": f"Bearer {token}"}, timeout=10
    ).json()
    rows: list[dict[str, Any]] = exported["push_subscriptions"]
    return rows


def wait_for_subscriptions(stack: Stack, page: Page, token: str, count: int) -> list[Any]:
    def exactly() -> tuple[list[Any]] | None:
        rows = push_subscriptions(stack, token)
        return (rows,) if len(rows) == count else None

    found = wait_until(exactly, DEADLINE_S, 0.05, sleep=waiting_in(page))
    assert found, f"expected {count} subscription(s), have {push_subscriptions(stack, token)}"
    return found[0]


# The worker's PushManager as the browser's push service leaves it after rotating a
# subscription: subscribing again gives a new endpoint. As FAKE_PUSH_MANAGER for the page.
FAKE_WORKER_PUSH_MANAGER = """(rotated) => {
  self.__subscribed = [];
  PushManager.prototype.subscribe = async function (options) {
    self.__subscribed.push({
      userVisibleOnly: options.userVisibleOnly, key: options.applicationServerKey,
    });
    return { endpoint: rotated.endpoint, toJSON: () => rotated };
  };
}"""


def rotated_subscription() -> dict[str, Any]:
    """A push subscription as the push service hands out after rotating one."""
    return {"endpoint": f"{FAKE_ENDPOINT}-rotated", "expirationTime": None, "keys": browser_keys()}


def test_ticking_push_subscribes_and_unticking_unsubscribes(
    phone: BrowserContext, stack: Stack
) -> None:
    keys = browser_keys()
    phone.add_init_script(FAKE_PUSH_MANAGER % {**keys, "endpoint": FAKE_ENDPOINT})
    page, worker = open_app(phone, app_url(stack))
    page.get_by_label("First name").fill("Nia")
    page.get_by_label("Send offers to this phone as notifications").check()
    page.get_by_role("button", name="Join").click()
    expect(page.locator("#hello-name")).to_have_text("Nia")
    expect(page.locator("#push-status")).to_have_text("Notifications are on for this phone.")

    token = page.evaluate("localStorage.getItem('shopper-device')")
    [row] = wait_for_subscriptions(stack, page, token, 1)
    assert (row["endpoint"], row["p256dh"], row["auth"]) == (
        FAKE_ENDPOINT,
        keys["p256dh"],
        keys["auth"],
    )
    server_key = requests.get(f"{stack.url}/api/v1/push/key", timeout=10).json()
    raw_key = base64.urlsafe_b64decode(server_key["application_server_key"] + "==")
    assert page.evaluate("window.__push.subscribed") == [
        {"userVisibleOnly": True, "key": list(raw_key)}
    ]

    card = page.locator("#notifications")
    expect(card.get_by_label("Offers")).to_be_checked()
    expect(card.get_by_label("Pickup updates")).not_to_be_checked()
    card.get_by_label("Offers").uncheck()
    expect(page.locator("#push-status")).to_be_hidden()
    wait_for_subscriptions(stack, page, token, 0)
    assert page.evaluate("window.__push.unsubscribed") == 1
    me = requests.get(
        f"{stack.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
    ).json()
    assert [c for c in me["consents"] if c["channel"] == "push"] == []
    # Nor does the service worker subscribe this phone again when the browser rotates it.
    worker.evaluate(FAKE_WORKER_PUSH_MANAGER, rotated_subscription())
    worker.evaluate("renewSubscription()")
    assert worker.evaluate("self.__subscribed") == []
    assert push_subscriptions(stack, token) == []


def test_the_service_worker_renews_a_subscription_the_browser_changed(
    phone: BrowserContext, stack: Stack
) -> None:
    phone.add_init_script(FAKE_PUSH_MANAGER % {**browser_keys(), "endpoint": FAKE_ENDPOINT})
    page, worker = open_app(phone, app_url(stack))
    page.get_by_label("First name").fill("Nia")
    page.get_by_label("Send offers to this phone as notifications").check()
    page.get_by_role("button", name="Join").click()
    expect(page.locator("#push-status")).to_have_text("Notifications are on for this phone.")
    token = page.evaluate("localStorage.getItem('shopper-device')")
    wait_for_subscriptions(stack, page, token, 1)

    rotated = rotated_subscription()
    worker.evaluate(FAKE_WORKER_PUSH_MANAGER, rotated)
    # Dispatched here: DevTools cannot make the browser fire it.
    worker.evaluate('self.dispatchEvent(new ExtendableEvent("pushsubscriptionchange"))')
    rows = wait_for_subscriptions(stack, page, token, 2)
    by_endpoint = {r["endpoint"]: (r["p256dh"], r["auth"]) for r in rows}
    assert by_endpoint.keys() == {FAKE_ENDPOINT, rotated["endpoint"]}
    assert by_endpoint[rotated["endpoint"]] == (rotated["keys"]["p256dh"], rotated["keys"]["auth"])
    server_key = requests.get(f"{stack.url}/api/v1/push/key", timeout=10).json()
    assert worker.evaluate("self.__subscribed") == [
        {"userVisibleOnly": True, "key": server_key["application_server_key"]}
    ]


def test_without_the_push_api_the_page_says_so(browser: Browser, read_only_stack: Stack) -> None:
    context = browser.new_context(**PHONE)
    try:
        context.add_init_script("delete window.PushManager;")
        page = context.new_page()
        page.goto(app_url(read_only_stack))
        line = page.locator("#join .push-unavailable")
        expect(line).to_have_text("Notifications are not available on this browser.")
        expect(page.get_by_label("Send offers to this phone as notifications")).to_be_disabled()
    finally:
        context.close()


def test_a_coupon_message_reloads_the_coupons_and_reports_it_seen(
    phone: BrowserContext, stack: Stack
) -> None:
    page, _ = open_app(phone, app_url(stack, "maria"))
    expect(page.get_by_text("No coupon yet.")).to_be_visible()
    db = Database(stack.database_url)
    try:
        with db.transaction() as session:
            maria = session.query(Shopper).filter_by(first_name="Maria").one()
            coupon = issue_coupon(
                session,
                stack.seed["store_id"],
                maria.id,
                "campaign",
                "Summer dresses",
                None,
                time.time(),
                3600.0,
                amount_off_cents=500,
                product_scope="dresses",
            )
            code, expires_at = coupon.code, coupon.expires_at
    finally:
        db.dispose()
    event = {
        "id": MESSAGE_ID,
        "kind": "coupon",
        "title": "Summer dresses",
        "body": "5.00 off dresses",
        "url": f"{stack.url}/r/{code}",
        "expires_at": expires_at,
        "data": {"code": code, "offer": "Summer dresses", "expires_at": expires_at},
    }
    with page.expect_request(
        lambda r: r.method == "POST" and r.url.endswith(f"/api/v1/messages/{MESSAGE_ID}/seen"),
        timeout=DEADLINE_S * 1000,
    ):
        # As the server's Socket.IO `coupon` event would arrive (no qr_png in it any more).
        page.wait_for_function("typeof socket !== 'undefined' && socket !== null")
        page.evaluate("(event) => socket.listeners('coupon').forEach((f) => f(event))", event)
    card = page.locator(".coupon")
    expect(card.locator(".offer")).to_have_text("Summer dresses")
    # "$5.00" once the store's info names its currency, "5.00" until then.
    expect(card.locator(".terms")).to_have_text(re.compile(r"^(US)?\$?5\.00 off · dresses$"))
    expect(card.locator(".code")).to_have_text(f"{code[:5]}-{code[5:]}")
    expect(card.locator("img.qr")).to_be_visible()
    expect(card.locator(".countdown")).to_contain_text("expires in")
