"""A shopper who lost her phone moves to a new one or erases everything, through a signed link
sent by SMS (a real local Twilio-compatible peer) to the number she gives."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from store_server.app import create_app
from store_server.db.models import Shopper
from store_server.shoppers.recovery import RECOVERY_LINK_VALID_S
from store_server.web.context import services
from tests.store_server.conftest import World
from tests.store_server.test_channels_sms import FROM, PHONE, SID, TOKEN, Provider, provider
from tests.support.polling import wait_until

__all__ = ["provider"]  # the fixture, imported for this module's tests


@pytest.fixture
def sms_app(world: World, provider: Provider) -> Iterator[Flask]:
    settings = services(world.app).settings.model_copy(
        update=dict(
            sms_base_url=provider.base_url,
            sms_account_sid=SID,
            sms_auth_token=TOKEN,
            sms_from=FROM,
        )
    )
    app = create_app(settings, world.clock)
    yield app
    services(app).outbound.stop()
    services(app).publisher.stop()
    services(app).db.dispose()


def join(client: FlaskClient, store_id: int) -> dict[str, object]:
    answer = client.post(
        "/api/v1/optin",
        json={
            "store_id": store_id,
            "first_name": "Tess",
            "phone": PHONE,
            "consents": [{"purpose": "arrival", "channel": "sms"}],
        },
    )
    assert answer.status_code == 201
    body: dict[str, object] = answer.get_json()
    return body


def link_sent(client: FlaskClient, app: Flask, provider: Provider, store_id: int) -> str:
    """Ask for a link for PHONE and read its token from the text."""
    before = len(provider.messages)
    asked = client.post("/api/v1/recovery", json={"store_id": store_id, "phone": PHONE})
    assert asked.status_code == 202
    assert services(app).outbound.wait_idle(30)
    assert wait_until(lambda: len(provider.messages) > before, 30)
    text = provider.messages[-1]
    assert text["To"] == PHONE
    found = re.search(r"#recover=([\w.-]+)", text["Body"])
    assert found is not None
    return found.group(1)


def me(client: FlaskClient, token: object) -> int:
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code


def test_a_link_moves_her_to_a_new_phone_once_and_the_old_one_stops(
    world: World, provider: Provider, sms_app: Flask
) -> None:
    client = sms_app.test_client()
    joined = join(client, world.seed.store_id)
    token = link_sent(client, sms_app, provider, world.seed.store_id)
    moved = client.post("/api/v1/recovery/new-phone", json={"token": token})
    assert moved.status_code == 201
    assert moved.get_json()["shopper_id"] == joined["shopper_id"]
    assert me(client, moved.get_json()["device_token"]) == 200
    assert me(client, joined["device_token"]) == 401  # the lost phone is a stranger now
    again = client.post("/api/v1/recovery/new-phone", json={"token": token})
    assert again.status_code == 410 and again.get_json()["error"]["code"] == "recovery_used"


def test_a_link_erases_everything_and_works_once(
    world: World, provider: Provider, sms_app: Flask
) -> None:
    client = sms_app.test_client()
    joined = join(client, world.seed.store_id)
    token = link_sent(client, sms_app, provider, world.seed.store_id)
    erased = client.post("/api/v1/recovery/erase", json={"token": token})
    assert erased.status_code == 200 and erased.get_json() == {"erased": True}
    with world.db.sessions() as session:
        assert session.get(Shopper, int(str(joined["shopper_id"]))) is None
    again = client.post("/api/v1/recovery/erase", json={"token": token})
    assert again.status_code == 410 and again.get_json()["error"]["code"] == "recovery_used"


def test_nobody_and_another_stores_shopper_get_the_same_answer_and_no_text(
    world: World, provider: Provider, sms_app: Flask
) -> None:
    client = sms_app.test_client()
    join(client, world.other_store_id)  # she joined the other store only
    for store_id, phone in ((world.seed.store_id, PHONE), (world.seed.store_id, "+15555550100")):
        asked = client.post("/api/v1/recovery", json={"store_id": store_id, "phone": phone})
        assert asked.status_code == 202
        assert asked.get_json() == {
            "sent": "if a shopper of this store has it, a link is on its way"
        }
    assert services(sms_app).outbound.wait_idle(30)
    assert provider.messages == []


def test_a_forged_or_expired_link_is_refused(
    world: World, provider: Provider, sms_app: Flask
) -> None:
    client = sms_app.test_client()
    join(client, world.seed.store_id)
    token = link_sent(client, sms_app, provider, world.seed.store_id)
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    refused = client.post("/api/v1/recovery/erase", json={"token": forged})
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "recovery_invalid"
    now = world.clock()
    world.clock.now = lambda: now + RECOVERY_LINK_VALID_S + 1
    expired = client.post("/api/v1/recovery/new-phone", json={"token": token})
    assert expired.status_code == 410
    assert expired.get_json()["error"]["code"] == "recovery_expired"


@pytest.mark.parametrize(
    "body",
    [
        {"store_id": 1},
        {"store_id": 1, "email": "a@b.example", "phone": PHONE},
        {"store_id": 1, "phone": PHONE, "extra": 1},
    ],
)
def test_a_request_names_its_bad_field(world: World, body: dict[str, object]) -> None:
    answer = world.client().post("/api/v1/recovery", json=body)
    assert answer.status_code == 400
    assert answer.get_json()["error"]["code"] == "invalid_body"
