"""Escalations reach managers off the console: each manager's chosen channel, a message with a
signed, expiring "I'll take it" link (never in a log), and the escalation's real time."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator

import http_ece
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from sqlalchemy import select, update

from store_server.accounts.staff import add_staff
from store_server.app import create_app
from store_server.db.models import PickupAlert, StaffUser
from store_server.sweep import sweep
from store_server.web.context import services
from tests.store_server.conftest import World
from tests.store_server.test_channels_sms import FROM, PHONE, SID, TOKEN, Provider, provider
from tests.store_server.test_channels_webpush import Browser, PushService, push_service
from tests.support.smtp import Mailbox, smtp_peer

__all__ = ["provider", "push_service"]  # fixtures used here

MANAGER = "morgan@demo.store"
PASSWORD = "a-long-enough-password"
PUBLIC_URL = "http://127.0.0.1:5998"
TAKE_LINK = re.compile(re.escape(PUBLIC_URL) + r"/escalation#take=([A-Za-z0-9._-]+)")


@pytest.fixture
def mail_app(world: World, provider: Provider) -> Iterator[tuple[Flask, Mailbox]]:
    """The world's database served by an app that sends e-mail to a loopback SMTP peer and
    texts to a loopback SMS provider (push needs no setting)."""
    with smtp_peer() as (mailbox, port):
        settings = services(world.app).settings.model_copy(
            update={
                "public_url": PUBLIC_URL,
                "smtp_host": "127.0.0.1",
                "smtp_port": port,
                "smtp_security": "plain",
                "mail_from": "Demo Store <alerts@demo.store>",
                "sms_base_url": provider.base_url,
                "sms_account_sid": SID,
                "sms_auth_token": TOKEN,
                "sms_from": FROM,
            }
        )
        app = create_app(settings, world.clock)
        yield app, mailbox
        services(app).outbound.stop()
        services(app).publisher.stop()
        services(app).db.dispose()


def choose(app: Flask, world: World, body: dict[str, object], email: str = MANAGER) -> object:
    return app.test_client().put(
        f"/api/v1/stores/{world.seed.store_id}/escalation-channel",
        json=body,
        headers=world.staff_headers(email),
    )


def escalate(app: Flask, world: World) -> tuple[int, float]:
    """Maria arrives and nobody goes: the sweep escalates at the store's limit; the alert's id
    and its escalation time."""
    [alert] = world.arrive("maria")
    with world.db.sessions() as session:
        raised_at = session.scalars(
            select(PickupAlert.raised_at).where(PickupAlert.id == alert["alert_id"])
        ).one()
    result = sweep(world.db, services(app).settings, raised_at + 120)
    assert result.escalated == 1
    services(app).outbound.submit_all(result.notices)
    assert services(app).outbound.wait_idle(15.0)
    return alert["alert_id"], raised_at + 120


def test_a_manager_hears_by_email_and_takes_it_from_the_link(
    world: World, mail_app: tuple[Flask, Mailbox], caplog: pytest.LogCaptureFixture
) -> None:
    app, mailbox = mail_app
    chosen = choose(app, world, {"channel": "email"})
    assert chosen.status_code == 200, chosen.get_json()  # type: ignore[attr-defined]
    assert chosen.get_json()["channel"] == "email"  # type: ignore[attr-defined]
    caplog.set_level(logging.DEBUG)
    alert_id, escalated_at = escalate(app, world)

    [(recipients, message)] = mailbox.messages
    assert recipients == [MANAGER]
    assert message["Subject"] == "Nobody has gone to Maria (order #1001)"
    assert "List-Unsubscribe" not in message  # a work message, not a mailing
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Maria is waiting at front door for order #1001" in text
    token = TAKE_LINK.search(text).group(1)  # type: ignore[union-attr]

    arrivals = world.client().get(
        f"/api/v1/stores/{world.seed.store_id}/arrivals", headers=world.staff_headers()
    )
    [shown] = arrivals.get_json()["arrivals"]
    assert shown["escalated_at"] == escalated_at  # the console shows this, however late

    taken = app.test_client().post("/api/v1/escalations/take", json={"token": token})
    assert taken.status_code == 200, taken.get_json()
    assert taken.get_json()["alert_id"] == alert_id
    assert taken.get_json()["status"] == "acknowledged"
    assert taken.get_json()["acknowledged_by"] == "Morgan"
    again = app.test_client().post("/api/v1/escalations/take", json={"token": token})
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "already_acknowledged"
    # The server's own logs (the SMTP peer's debug log, which prints the mail, is not ours).
    ours = [r for r in caplog.records if not r.name.startswith("mail.log")]
    logged = "\n".join(record.getMessage() for record in ours)
    assert "event=staff_notice" in logged and "channel=email status=delivered" in logged
    assert token not in logged and token.rsplit(".", 1)[1] not in logged
    assert MANAGER not in logged


def test_a_forged_or_expired_link_takes_nothing(
    world: World, mail_app: tuple[Flask, Mailbox]
) -> None:
    app, mailbox = mail_app
    choose(app, world, {"channel": "email"})
    escalate(app, world)
    [(_, message)] = mailbox.messages
    token = TAKE_LINK.search(message.get_body(("plain",)).get_content()).group(1)  # type: ignore[union-attr]
    store, alert, staff, expiry, mac = token.split(".")
    forged = ".".join((store, alert, str(int(staff) - 1), expiry, mac))  # Sam's, not Morgan's
    for bad in (forged, "not-a-token", token[:-1] + ("A" if token[-1] != "A" else "B")):
        answer = app.test_client().post("/api/v1/escalations/take", json={"token": bad})
        assert answer.status_code == 400, bad
        assert answer.get_json()["error"]["code"] == "take_invalid"
    world.clock.now = lambda: float(expiry)
    late = app.test_client().post("/api/v1/escalations/take", json={"token": token})
    assert late.status_code == 410
    assert late.get_json()["error"]["code"] == "take_expired"
    world.clock.now = lambda: float(expiry) - 1
    with world.db.transaction() as session:
        session.execute(update(StaffUser).where(StaffUser.email == MANAGER).values(active=False))
    gone = app.test_client().post("/api/v1/escalations/take", json={"token": token})
    assert gone.status_code == 403
    with world.db.sessions() as session:
        alert_row = session.get(PickupAlert, int(alert))
        assert alert_row is not None and alert_row.status == "raised"


def test_the_console_only_or_no_address_sends_nothing(
    world: World, mail_app: tuple[Flask, Mailbox]
) -> None:
    app, mailbox = mail_app
    escalate(app, world)  # nobody chose a channel
    assert mailbox.messages == []


def test_choosing_a_channel_checks_what_it_needs(
    world: World, mail_app: tuple[Flask, Mailbox]
) -> None:
    app, _ = mail_app
    sms = choose(app, world, {"channel": "sms"})
    assert sms.status_code == 400  # type: ignore[attr-defined]
    assert sms.get_json()["error"]["code"] == "invalid_phone"  # type: ignore[attr-defined]
    bad_phone = choose(app, world, {"channel": "sms", "phone": "07700 900123"})
    assert bad_phone.get_json()["error"]["code"] == "invalid_phone"  # type: ignore[attr-defined]
    ok = choose(app, world, {"channel": "sms", "phone": "+44 7700 900123"})
    assert ok.get_json() == {"channel": "sms", "phone_set": True, "push_subscribed": False}  # type: ignore[attr-defined]
    push = choose(app, world, {"channel": "push"})
    assert push.get_json()["error"]["code"] == "invalid_channel"  # type: ignore[attr-defined]
    staff = choose(app, world, {"channel": "email"}, email="sam@demo.store")
    assert staff.status_code == 403  # type: ignore[attr-defined]
    other = app.test_client().put(
        f"/api/v1/stores/{world.other_store_id}/escalation-channel",
        json={"channel": "email"},
        headers=world.staff_headers(MANAGER),
    )
    assert other.status_code == 403
    unknown = choose(app, world, {"channel": "pigeon"})
    assert unknown.status_code == 400  # type: ignore[attr-defined]
    assert choose(app, world, {"channel": ""}).get_json()["channel"] == ""  # type: ignore[attr-defined]


def test_managers_hear_by_text_and_by_push_and_take_it_from_either(
    world: World,
    mail_app: tuple[Flask, Mailbox],
    provider: Provider,
    push_service: PushService,
) -> None:
    app, mailbox = mail_app
    assert choose(app, world, {"channel": "sms", "phone": PHONE}).status_code == 200  # type: ignore[attr-defined]
    with world.db.transaction() as session:
        add_staff(session, [world.seed.store_id], "ines@demo.store", "Ines", "manager", PASSWORD)
    ines = {"Authorization": f"Bearer {world.login('ines@demo.store', PASSWORD)['token']}"}
    browser = Browser(ec.generate_private_key(ec.SECP256R1()), os.urandom(16))
    subscription = browser.subscription(push_service.endpoint("ines"))
    base = f"/api/v1/stores/{world.seed.store_id}/escalation-channel"
    subscribed = app.test_client().post(
        f"{base}/push-subscriptions",
        json={
            "endpoint": subscription.endpoint,
            "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
        },
        headers=ines,
    )
    assert subscribed.get_json() == {"channel": "", "phone_set": False, "push_subscribed": True}
    chosen = app.test_client().put(base, json={"channel": "push"}, headers=ines)
    assert chosen.get_json()["channel"] == "push"

    alert_id, _ = escalate(app, world)
    assert mailbox.messages == []
    [text] = provider.messages
    assert text["To"] == PHONE
    assert text["Body"].startswith("Nobody has gone to Maria (order #1001): Maria is waiting")
    assert "STOP" not in text["Body"]  # a work text, not marketing
    text_token = TAKE_LINK.search(text["Body"]).group(1)  # type: ignore[union-attr]
    [pushed] = push_service.received
    payload = json.loads(
        http_ece.decrypt(
            pushed.body,
            private_key=browser.private_key,
            auth_secret=browser.auth_secret,
            version="aes128gcm",
        )
    )
    assert payload["kind"] == "escalation" and payload["data"]["alert_id"] == alert_id
    push_token = TAKE_LINK.fullmatch(payload["url"]).group(1)  # type: ignore[union-attr]
    assert push_token != text_token  # each manager's own link

    taken = app.test_client().post("/api/v1/escalations/take", json={"token": push_token})
    assert taken.status_code == 200
    assert taken.get_json()["acknowledged_by"] == "Ines"
    late = app.test_client().post("/api/v1/escalations/take", json={"token": text_token})
    assert late.status_code == 409
    assert late.get_json()["error"]["message"] == "Ines is on the way"
