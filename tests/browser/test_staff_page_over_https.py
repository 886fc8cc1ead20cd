"""The staff tablet page in Chromium through nginx over HTTPS (docs/deployment.md): it logs in,
its Socket.IO link goes live over wss://, and a pickup arrival posted through the proxy appears."""

from __future__ import annotations

import shutil

import pytest
from playwright.sync_api import Browser, expect

from bench.stack import Stack
from tests.browser.test_staff_page import log_in
from tests.live import announce_arrival
from tests.proxy import Proxy

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("nginx") is None, reason="needs Debian's nginx package"),
]


def test_tablet_behind_nginx_sees_the_arrival(
    browser: Browser, proxied_stack: tuple[Stack, Proxy]
) -> None:
    stack, proxy = proxied_stack
    # The test certificate is accepted as a tablet's would be once its CA is installed.
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        log_in(page, proxy.https_url, "sam@demo.store", stack.seed["accounts"][0]["password"])
        expect(page.locator("#link")).to_have_text("live")
        assert page.evaluate("window.isSecureContext") is True
        announce_arrival(stack, "maria", url=proxy.https_url, verify=proxy.ca)
        card = page.locator(".arrival")
        expect(card).to_have_count(1, timeout=20_000)
        expect(card.locator(".name")).to_have_text("Maria")
    finally:
        context.close()
