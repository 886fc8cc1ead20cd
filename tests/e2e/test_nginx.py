"""The store server behind a private nginx on loopback, configured by docs/store-server.nginx.conf:
HTTPS with a generated certificate, the WebSocket upgrade, plain HTTP redirected, /metrics kept
off the proxy. A staff tablet connected over wss:// sees a pickup arrival a gateway posted over
https://, as in a real store.
"""

from __future__ import annotations

import shutil

import pytest
import requests

from bench.stack import Stack
from tests.live import LiveClient, announce_arrival
from tests.proxy import Proxy

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("nginx") is None, reason="needs Debian's nginx package"),
]


def test_tablet_over_wss_sees_an_arrival_posted_over_https(
    proxied_stack: tuple[Stack, Proxy],
) -> None:
    stack, proxy = proxied_stack
    session = requests.Session()
    session.verify = proxy.ca
    sam = session.post(
        f"{proxy.https_url}/api/v1/auth/login",
        json={"email": "sam@demo.store", "password": stack.seed["accounts"][0]["password"]},
        timeout=10,
        verify=proxy.ca,
    )
    assert sam.status_code == 200
    tablet = LiveClient(proxy.https_url, {"token": sam.json()["token"]}, http_session=session)
    try:
        assert tablet.sio.transport() == "websocket"
        announce_arrival(stack, "maria", url=proxy.https_url, verify=proxy.ca)
        [arrival] = tablet.wait_for_arrival(20)
        assert arrival["first_name"] == "Maria"
    finally:
        tablet.close()


def test_plain_http_is_redirected_and_metrics_stay_off_the_proxy(
    proxied_stack: tuple[Stack, Proxy],
) -> None:
    stack, proxy = proxied_stack
    redirect = requests.get(f"{proxy.http_url}/staff", allow_redirects=False, timeout=10)
    assert redirect.status_code == 301
    assert redirect.headers["Location"].startswith("https://127.0.0.1")
    assert (
        requests.get(f"{proxy.https_url}/metrics", verify=proxy.ca, timeout=10).status_code == 403
    )
    assert requests.get(f"{stack.url}/metrics", timeout=10).status_code == 200
