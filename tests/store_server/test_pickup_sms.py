"""Urgent pickup updates by SMS, through a real local peer speaking the Twilio Messages API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from werkzeug.test import TestResponse

from store_server.app import create_app
from store_server.db.models import PickupOrder
from store_server.web.context import services
from tests.store_server.conftest import World
from tests.store_server.test_channels_sms import FROM, PHONE, SID, TOKEN, Provider, provider
from tests.support.polling import wait_until

__all__ = ["provider"]  # the fixture, imported for this module's tests


@pytest.fixture
def sms_app(world: World, provider: Provider) -> Iterator[Flask]:
    """The world's database served by an app that can send SMS through the local provider."""
    settings = services(world.app).settings.model_copy(
        update=dict(
            sms_base_url=provider.base_url,
            sms_account_sid=SID,
            sms_auth_token=TOKEN,
            sms_from=FROM,
        )
    )
    app = create_app(settings)
    yield app
    services(app).outbound.stop()
    services(app).publisher.stop()
    services(app).db.dispose()


def wait_for_messages(
    provider: Provider, count: int, deadline_s: float = 10.0
) -> list[dict[str, str]]:
    wait_until(lambda: len(provider.messages) >= count, deadline_s, 0.02)
    return list(provider.messages)


def opt_in(
    client: FlaskClient, world: World, first_name: str, channel: str, phone: str | None = PHONE
) -> TestResponse:
    """Join the store's app with arrival alerts by `channel` (no phone number if None)."""
    body = {
        "store_id": world.seed.store_id,
        "first_name": first_name,
        "consents": [{"purpose": "arrival", "channel": channel}],
    }
    if phone is not None:
        body["phone"] = phone
    return client.post("/api/v1/optin", json=body)


def test_on_my_way_goes_by_sms_to_a_shopper_who_chose_it(
    world: World, provider: Provider, sms_app: Flask
) -> None:
    client = sms_app.test_client()
    joined = opt_in(client, world, "Tess", "sms").get_json()
    tess = {"Authorization": f"Bearer {joined['device_token']}"}
    assert client.get("/api/v1/me", headers=tess).get_json()["phone"] == PHONE
    # Her order arrives from the order system; she checks in; Sam taps "on my way".
    client.put(
        f"/api/v1/stores/{world.seed.store_id}/orders/pos-77",
        headers={"Authorization": f"Bearer {world.seed.integration_token}"},
        json={"number": "77", "status": "ready", "items": [{"name": "Lamp"}]},
    )
    with world.db.transaction() as session:
        session.execute(
            update(PickupOrder)
            .where(PickupOrder.external_id == "pos-77")
            .values(shopper_id=joined["shopper_id"])
        )
    client.post("/api/v1/me/checkin", json={"store_id": world.seed.store_id}, headers=tess)
    [alert] = client.get(
        f"/api/v1/stores/{world.seed.store_id}/arrivals", headers=world.staff_headers()
    ).get_json()["arrivals"]
    response = client.post(
        f"/api/v1/stores/{world.seed.store_id}/alerts/{alert['alert_id']}/acknowledge",
        headers=world.staff_headers(),
    )
    assert response.status_code == 200
    [message] = wait_for_messages(provider, 1)
    assert (message["To"], message["From"]) == (PHONE, FROM)
    assert "Sam is on the way" in message["Body"] and "STOP" in message["Body"]


def test_no_sms_without_that_choice_and_no_phone_kept_without_it(
    world: World, provider: Provider, sms_app: Flask
) -> None:
    client = sms_app.test_client()
    joined = opt_in(client, world, "Uma", "app").get_json()
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {joined['device_token']}"})
    assert me.get_json()["phone"] is None
    needs = opt_in(client, world, "Vic", "sms", phone=None)
    assert needs.status_code == 400 and needs.get_json()["error"]["code"] == "phone_required"
    # Maria chose the app only: Sam's acknowledgement sends no text.
    [alert] = world.arrive("maria")
    client.post(
        f"/api/v1/stores/{world.seed.store_id}/alerts/{alert['alert_id']}/acknowledge",
        headers=world.staff_headers(),
    )
    services(sms_app).outbound.stop()  # drains the queue: anything queued is sent now
    assert provider.messages == []
