"""The till in headless Chromium: scanning a coupon's QR through the BarcodeDetector ponyfill
(served from npm's install, as on Safari, Firefox and desktop Chrome, which have no native
detector) from a camera stream, and redeeming from the coupon's link as staff."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import segno
from playwright.sync_api import Browser, BrowserType, Page, expect

from bench.stack import Stack
from store_server.db.database import Database
from store_server.db.models import Shopper
from store_server.engagement.coupons import issue_coupon
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.test_staff_page import log_in

pytestmark = pytest.mark.browser

# The fake camera's frame: a QR code, 8 pixels a module, on white, as a till camera sees a phone.
FRAME_W, FRAME_H, MODULE_PX = 640, 480, 8
# The ponyfill's files; no native BarcodeDetector may stand in for it.
NO_NATIVE_DETECTOR = "delete window.BarcodeDetector;"


def new_coupon(stack: Stack) -> str:
    db = Database(stack.database_url)
    try:
        with db.transaction() as session:
            maria = session.query(Shopper).filter_by(first_name="Maria").one()
            coupon = issue_coupon(
                session, stack.seed["store_id"], maria.id, "campaign", "20 % off dresses", 20,
                time.time(), 3600.0,
            )  # fmt: skip
            return coupon.code
    finally:
        db.dispose()


def camera_file(path: Path, text: str) -> Path:
    """A one-frame Y4M video (what Chromium's fake camera plays in a loop) of `text` as a QR."""
    matrix = [[bool(m) for m in row] for row in segno.make_qr(text, error="m").matrix]
    size = len(matrix) * MODULE_PX
    assert size <= FRAME_H - 4 * MODULE_PX
    left, top = (FRAME_W - size) // 2, (FRAME_H - size) // 2
    luma = bytearray(b"\xeb" * (FRAME_W * FRAME_H))  # white (BT.601 video range)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if not dark:
                continue
            for dy in range(MODULE_PX):
                start = (top + y * MODULE_PX + dy) * FRAME_W + left + x * MODULE_PX
                luma[start : start + MODULE_PX] = b"\x10" * MODULE_PX  # black
    chroma = b"\x80" * (FRAME_W * FRAME_H // 4)  # no colour
    header = f"YUV4MPEG2 W{FRAME_W} H{FRAME_H} F10:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + b"FRAME\n" + bytes(luma) + chroma + chroma)
    return path


@pytest.fixture
def till_browser(browser_type: BrowserType, tmp_path: Path, stack: Stack) -> Iterator[Browser]:
    """Chromium whose camera shows the QR code of a fresh coupon (its code in `.code`)."""
    code = new_coupon(stack)
    video = camera_file(tmp_path / "qr.y4m", f"{stack.url}/r/{code}")
    browser = browser_type.launch(
        executable_path=CHROMIUM,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ],
    )
    browser.code = code  # type: ignore[attr-defined]
    try:
        yield browser
    finally:
        browser.close()


def test_the_tablet_scans_a_coupon_qr_through_the_ponyfill(
    till_browser: Browser, stack: Stack
) -> None:
    context = till_browser.new_context(viewport={"width": 1280, "height": 800})
    context.grant_permissions(["camera"], origin=stack.url)
    context.add_init_script(NO_NATIVE_DETECTOR)
    page = context.new_page()
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    log_in(page, stack.url, "sam@demo.store", stack.seed["accounts"][0]["password"])
    expect(page.locator("#link")).to_have_text("live")
    page.get_by_role("button", name="Scan").click()
    expect(page.locator("#redeem-result")).to_have_text(
        "Redeemed: 20 % off dresses", timeout=30_000
    )
    assert f"{stack.url}/vendor/barcode-detector.js" in fetched
    assert f"{stack.url}/vendor/zxing_reader.wasm" in fetched
    assert all(url.startswith(stack.url) for url in fetched if url.startswith("http"))  # no CDN
    context.close()


def test_a_staffer_redeems_from_the_coupon_link_and_a_manager_undoes_it(
    page: Page, stack: Stack
) -> None:
    code = new_coupon(stack)
    shopper = page.context.browser.new_context().new_page()  # type: ignore[union-attr]
    shopper.goto(f"{stack.url}/r/{code}")
    expect(shopper.get_by_text("Show this code at the till")).to_be_visible()
    expect(shopper.get_by_role("button", name="Redeem")).to_be_hidden()

    log_in(page, stack.url, "sam@demo.store", stack.seed["accounts"][0]["password"])
    expect(page.locator("#link")).to_have_text("live")
    page.goto(f"{stack.url}/r/{code}")
    expect(page.locator("#till-state")).to_have_text(re.compile(r"^Not used yet"))
    page.get_by_role("button", name="Redeem").click()
    expect(page.locator("#till-state")).to_have_text(re.compile(r"^Already used on .+ \(Sam\)\.$"))
    expect(page.get_by_role("button", name="Undo redemption")).to_be_hidden()  # staff, not manager

    manager = page.context.browser.new_context().new_page()  # type: ignore[union-attr]
    log_in(manager, stack.url, "morgan@demo.store", stack.seed["accounts"][1]["password"])
    expect(manager.locator("#link")).to_have_text("live")
    manager.goto(f"{stack.url}/r/{code}")
    manager.get_by_role("button", name="Undo redemption").click()
    expect(manager.locator("#till-state")).to_have_text(re.compile(r"^Not used yet"))
    expect(manager.get_by_role("button", name="Redeem")).to_be_visible()
