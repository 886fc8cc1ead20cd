"""Fault: the database unreachable for 15 s under a running server (PostgreSQL behind a TCP
proxy the test cuts; the machine's shared server is never touched).

While it is cut: requests answer 503 `database_unavailable` in the one error shape with a
`Retry-After` (never 500), `/readyz` says not ready, `/healthz` still says the process lives,
and a gateway's batch gets a 503, which the gateway keeps in its outbox and retries
(gateway/uplink.py `classify_answer`). Once it is back, with no restart: the same batch lands,
and everything answers again.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy.engine import make_url

from bench.stack import Stack
from store_server.presence.identity import eddystone_eid
from tests.live import login
from tests.store_server.conftest import fresh_postgres_database
from tests.support.polling import wait_until
from tests.support.services import postgres_url
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
OUTAGE_S = 15.0
RECOVERY_S = 30.0


@pytest.fixture
def cut_able_stack(tmp_path: Path) -> Iterator[tuple[Stack, TcpProxy]]:
    """The demo store on a fresh PostgreSQL database reached through a TCP proxy."""
    admin = postgres_url()
    if admin is None:
        pytest.skip("STORE_TEST_DATABASE_URL is not set (.ci/run sets it)")
    with contextlib.contextmanager(fresh_postgres_database)(admin) as direct:
        url = make_url(direct)
        proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
        stack = Stack(tmp_path / "stack")
        stack.database_url = url.set(host="127.0.0.1", port=proxy.port).render_as_string(
            hide_password=False
        )
        try:
            stack.start_server()
            yield stack, proxy
        finally:
            stack.stop()
            proxy.close()


def batch(stack: Stack, batch_id: str) -> requests.Response:
    """One reading of Maria's phone at the entrance, as gw-entrance uploads it."""
    key = next(
        bytes.fromhex(p["identity_key"]) for p in stack.seed["phones"] if p["person"] == "maria"
    )
    now = time.time()
    eid = eddystone_eid(key, 10, int(now)).hex()
    frame: dict[str, Any] = {"kind": "eddystone_eid", "eid": eid, "tx_power": -20}
    return requests.post(
        f"{stack.url}/api/v1/gateways/gw-entrance/batches",
        json={"batch_id": batch_id, "sent_at": now,
              "observations": [{"seen_at": now, "rssi": -50, "frame": frame}]},
        headers={"Authorization": f"Bearer {stack.seed['gateway_tokens']['gw-entrance']}"},
        timeout=30,
    )  # fmt: skip


def assert_unavailable(response: requests.Response) -> None:
    assert response.status_code == 503, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] in {"database_unavailable", "not_ready"}


def test_database_unreachable_for_15_s_answers_503_and_recovers_by_itself(
    cut_able_stack: tuple[Stack, TcpProxy],
) -> None:
    stack, proxy = cut_able_stack
    store = stack.seed["store_id"]
    sam = login(stack.url, "sam@demo.store", stack.seed["accounts"][0]["password"])
    staff = {"Authorization": f"Bearer {sam['token']}"}
    arrivals = f"{stack.url}/api/v1/stores/{store}/arrivals"
    assert requests.get(arrivals, headers=staff, timeout=30).status_code == 200

    proxy.cut()
    cut_at = time.monotonic()
    held = batch(stack, "held-during-the-outage")
    assert_unavailable(held)
    assert held.headers["Retry-After"]
    seen = 0
    while time.monotonic() - cut_at < OUTAGE_S:  # the whole outage: never a 500
        assert_unavailable(requests.get(arrivals, headers=staff, timeout=30))
        assert_unavailable(requests.get(f"{stack.url}/readyz", timeout=30))
        assert requests.get(f"{stack.url}/healthz", timeout=30).status_code == 200
        seen += 1
    assert seen >= 1

    proxy.restore()
    assert wait_until(
        lambda: requests.get(f"{stack.url}/readyz", timeout=30).status_code == 200, RECOVERY_S
    ), "the server did not recover by itself"
    assert batch(stack, "held-during-the-outage").status_code == 202  # the gateway's retry lands
    assert batch(stack, "held-during-the-outage").status_code == 409  # and only once
    assert requests.get(arrivals, headers=staff, timeout=30).status_code == 200
    assert stack.server is not None
    assert not [line for line in stack.server.lines if " status=500" in line]
