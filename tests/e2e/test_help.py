"""Help on the floor end to end: the real server and its sweep; two tablets, a manager and the
shopper's app as real Socket.IO clients."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
import requests
from sqlalchemy import update

from bench.stack import Stack
from store_server.db.database import Database
from store_server.db.models import Store
from tests.live import LiveClient, login
from tests.support.polling import wait_until

pytestmark = pytest.mark.e2e
# The sweep runs every 5 s on the live server: an escalation arrives within one run or two.
ESCALATION_DEADLINE_S = 20.0
EVENT_DEADLINE_S = 10.0
STAFF_EVENTS = ("help_request", "help_updated", "help_escalated")


def acknowledged(client: LiveClient) -> list[dict[str, Any]]:
    """The `help_updated` events so far that say someone is on the way."""
    return [e for e in client.wait_for("help_updated", 0) if e["status"] == "acknowledged"]


def someone_coming(client: LiveClient) -> list[dict[str, Any]]:
    """The `help_update` events so far that name who is coming."""
    return [e for e in client.wait_for("help_update", 0) if e["staff_on_the_way"]]


def test_help_request_through_escalation_and_acknowledge_on_two_tablets(stack: Stack) -> None:
    db = Database(stack.database_url)
    with db.transaction() as session:  # escalate at the sweep's next run
        session.execute(update(Store).values(ack_limit_s=1))
    db.dispose()
    accounts = stack.seed["accounts"]
    sam = login(stack.url, "sam@demo.store", accounts[0]["password"])
    morgan = login(stack.url, "morgan@demo.store", accounts[1]["password"])
    tablets = [LiveClient(stack.url, {"token": s["token"]}, STAFF_EVENTS) for s in (sam, morgan)]
    token = stack.seed["device_tokens"]["ana"]
    app = LiveClient(stack.url, {"device_token": token}, ("help_update",))
    store = stack.seed["store_id"]
    try:
        asked = requests.post(
            f"{stack.url}/api/v1/me/help-requests",
            json={"store_id": store},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert asked.status_code == 201, asked.text
        request_id = asked.json()["request_id"]
        assert asked.json()["where"] == "at the store"  # not placed by presence: still helped
        for tablet in tablets:
            [seen] = tablet.wait_for("help_request", EVENT_DEADLINE_S)
            assert (seen["request_id"], seen["first_name"]) == (request_id, "Ana")
        # Only the manager's client hears the escalation, and only once.
        [escalated] = tablets[1].wait_for("help_escalated", ESCALATION_DEADLINE_S)
        assert escalated["escalation_level"] == 1
        assert tablets[0].wait_for("help_escalated", 0) == []
        base = f"{stack.url}/api/v1/stores/{store}/help-requests/{request_id}"
        first = requests.post(
            f"{base}/acknowledge", headers={"Authorization": f"Bearer {sam['token']}"}, timeout=10
        )
        second = requests.post(
            f"{base}/acknowledge",
            headers={"Authorization": f"Bearer {morgan['token']}"},
            timeout=10,
        )
        assert first.status_code == 200 and second.status_code == 409
        for tablet in tablets:
            [going] = wait_until(partial(acknowledged, tablet), EVENT_DEADLINE_S)
            assert going["acknowledged_by"] == "Sam"
        [coming] = wait_until(partial(someone_coming, app), EVENT_DEADLINE_S)
        assert (coming["staff_on_the_way"], coming["where"]) == ("Sam", "at the store")
        assert len(tablets[1].wait_for("help_escalated", 0)) == 1
    finally:
        for client in (*tablets, app):
            client.close()
