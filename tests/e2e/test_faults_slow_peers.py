"""Fault: the SMTP relay and the SMS provider accept the connection, then say nothing.

A real store server, a real SMTP server (aiosmtpd) and a Twilio-compatible SMS API on loopback,
each behind a proxy that stalls: it accepts and then sends no byte back until the test resumes
it. With a text and an e-mail stuck in those conversations, a pickup arrival and a help
request still reach a staff tablet (a real Socket.IO client), and the tablet has them while
both conversations are still held open. Once the peers recover, each message is delivered,
once: none lost, none doubled.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from bench.stack import Stack
from store_server.db.database import Database
from store_server.db.models import Delivery
from tests.live import LiveClient, announce_arrival, login
from tests.support.polling import wait_until
from tests.support.slow_peers import Peers, proxied_peers
from tests.support.sms_provider import FROM, SID, SmsProvider
from tests.support.smtp import Mailbox
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.e2e
DEADLINE_S = 20.0
# Longer than the whole test: in this test no attempt may end by giving up, only by the peer
# answering once resumed (tests/store_server/test_slow_peers.py gives up on a silent peer).
PATIENT_TIMEOUT_S = 60
TESS_EMAIL = "tess@example.com"
TESS_PHONE = "+14155550142"


@pytest.fixture
def peers() -> Iterator[Peers]:
    with proxied_peers() as peers:
        yield peers


def delivered(stack: Stack) -> list[tuple[str, int]]:
    """Each message's status and number of tries."""
    db = Database(stack.database_url)
    try:
        with db.sessions() as session:
            return [(r.status, r.tries) for r in session.scalars(select(Delivery))]
    finally:
        db.dispose()


def test_stalled_smtp_and_sms_peers_delay_no_staff_alert_and_lose_nothing(
    tmp_path: Path,
    prepared_store: Stack,
    peers: tuple[Mailbox, TcpProxy, SmsProvider, TcpProxy],
) -> None:
    mailbox, smtp, provider, sms = peers
    settings = {
        "STORE_SMTP_HOST": "127.0.0.1",
        "STORE_SMTP_PORT": str(smtp.port),
        "STORE_SMTP_SECURITY": "plain",
        "STORE_MAIL_FROM": "Demo Store <store@demo.store>",
        "STORE_SMS_BASE_URL": f"http://127.0.0.1:{sms.port}",
        "STORE_SMS_ACCOUNT_SID": SID,
        "STORE_SMS_FROM": FROM,
        "STORE_DELIVERY_TIMEOUT_S": str(PATIENT_TIMEOUT_S),
    }
    with Stack(tmp_path / "stack", server_settings=settings) as stack:
        stack.start_server(copy_of=prepared_store)
        store = stack.seed["store_id"]
        sam = login(stack.url, "sam@demo.store", stack.seed["accounts"][0]["password"])
        tablet = LiveClient(stack.url, {"token": sam["token"]}, ("arrival", "help_request"))
        try:
            joined = requests.post(
                f"{stack.url}/api/v1/optin",
                json={
                    "store_id": store,
                    "first_name": "Tess",
                    "email": TESS_EMAIL,
                    "phone": TESS_PHONE,
                    "consents": [
                        {"purpose": "arrival", "channel": "sms"},
                        {"purpose": "arrival", "channel": "email"},
                    ],
                },
                timeout=10,
            )
            assert joined.status_code == 201, joined.text
            smtp.stall()
            sms.stall()
            # Tess lost her phone: a link by e-mail and one by text, each stuck in its peer.
            for contact in ({"email": TESS_EMAIL}, {"phone": TESS_PHONE}):
                asked = requests.post(
                    f"{stack.url}/api/v1/recovery", json={"store_id": store, **contact}, timeout=10
                )
                assert asked.status_code == 202, asked.text
            assert wait_until(lambda: smtp.held() == 1 and sms.held() == 1, DEADLINE_S), (
                f"not both stuck at once: smtp {smtp.held()}, sms {sms.held()}"
            )

            announce_arrival(stack, "maria")
            helped = requests.post(
                f"{stack.url}/api/v1/me/help-requests",
                json={"store_id": store},
                headers={"Authorization": f"Bearer {stack.seed['device_tokens']['ana']}"},
                timeout=10,
            )
            assert helped.status_code == 201, helped.text

            def both_alerts() -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
                arrivals = tablet.wait_for("arrival", 0)
                requests_ = tablet.wait_for("help_request", 0)
                return (arrivals, requests_) if arrivals and requests_ else None

            seen = wait_until(both_alerts, DEADLINE_S)
            # Checked once the tablet has both: the peers were still holding both messages.
            still_held = (smtp.held(), sms.held())
            assert seen, "the tablet did not get the arrival and the help request"
            assert [a["first_name"] for a in seen[0]] == ["Maria"]
            assert [r["first_name"] for r in seen[1]] == ["Ana"]
            assert still_held == (1, 1), "a message left or gave up before the alerts came"
            assert (mailbox.messages, provider.bodies()) == ([], [])

            smtp.resume()
            sms.resume()
            assert wait_until(
                lambda: delivered(stack) == [("delivered", 1), ("delivered", 1)], DEADLINE_S
            ), delivered(stack)
            # Recorded only once each peer had accepted it: what they hold is final.
            assert [to for to, _ in mailbox.messages] == [[TESS_EMAIL]]
            assert [m["To"] for m in provider.received] == [TESS_PHONE]
            assert stack.server is not None
            assert not [line for line in stack.server.lines if " status=5" in line]
        finally:
            tablet.close()
