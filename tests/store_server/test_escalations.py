"""Escalations reach managers off the console: each manager's chosen channel, a message with a
signed, expiring "I'll take it" link (never in a log), and the escalation's real time."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from typing import Any

import http_ece
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from flask_socketio import SocketIOTestClient
from sqlalchemy import select, update

from store_server.accounts.staff import add_staff
from store_server.app import create_app
from store_server.db.models import HelpRequest, PickupAlert, StaffUser
from store_server.sweep import sweep
from store_server.web.context import services
from tests.store_server.conftest import World
from tests.store_server.test_channels_sms import FROM, PHONE, SID, TOKEN, Provider, provider
from tests.store_server.test_channels_webpush import Browser, PushService, push_service
from tests.store_server.test_help_requests import ask, raised_at, tablet
from tests.support.polling import wait_until
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
    assert taken.get_json()["kind"] == "pickup"
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
    kind, store, alert, staff, expiry, mac = token.split(".")
    assert kind == "pickup"
    forged = ".".join((kind, store, alert, str(int(staff) - 1), expiry, mac))  # Sam's, not Morgan's
    other_kind = ".".join(("help", store, alert, staff, expiry, mac))  # the help request's id
    bad_tokens = (
        forged,
        other_kind,
        "not-a-token",
        token[:-1] + ("A" if token[-1] != "A" else "B"),
    )
    for bad in bad_tokens:
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
    assert payload["data"]["kind"] == "pickup"
    push_token = TAKE_LINK.fullmatch(payload["url"]).group(1)  # type: ignore[union-attr]
    assert push_token != text_token  # each manager's own link

    taken = app.test_client().post("/api/v1/escalations/take", json={"token": push_token})
    assert taken.status_code == 200
    assert taken.get_json()["acknowledged_by"] == "Ines"
    late = app.test_client().post("/api/v1/escalations/take", json={"token": text_token})
    assert late.status_code == 409
    assert late.get_json()["error"]["message"] == "Ines is on the way"


def test_an_escalated_help_request_reaches_managers_and_the_link_sends_one_to_her(
    world: World, mail_app: tuple[Flask, Mailbox], provider: Provider
) -> None:
    app, mailbox = mail_app
    assert choose(app, world, {"channel": "email"}).status_code == 200  # type: ignore[attr-defined]
    with world.db.transaction() as session:
        add_staff(session, [world.seed.store_id], "ines@demo.store", "Ines", "manager", PASSWORD)
        add_staff(session, [world.seed.store_id], "jo@demo.store", "Jo", "manager", PASSWORD)
    ines = {"Authorization": f"Bearer {world.login('ines@demo.store', PASSWORD)['token']}"}
    base = f"/api/v1/stores/{world.seed.store_id}/escalation-channel"
    assert (
        app.test_client()
        .put(base, json={"channel": "sms", "phone": PHONE}, headers=ines)
        .status_code
        == 200
    )
    # Jo chose nothing: the console only.
    sams = tablet(world)
    page = world.open_page("leo")
    request_id = ask(world, zone="shoes").get_json()["request_id"]
    at = raised_at(world, request_id)
    result = sweep(world.db, services(app).settings, at + 120)
    assert result.help_escalated == 1
    services(app).outbound.submit_all(result.notices)
    assert services(app).outbound.wait_idle(15.0)

    [(recipients, message)] = mailbox.messages
    assert recipients == [MANAGER]
    assert message["Subject"] == "Nobody has gone to Leo (help at shoes)"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Leo asked for help at shoes and no one has said they are on the way" in text
    mail_token = TAKE_LINK.search(text).group(1)  # type: ignore[union-attr]
    assert mail_token.startswith(f"help.{world.seed.store_id}.{request_id}.")
    [texted] = provider.messages
    assert texted["To"] == PHONE and texted["Body"].startswith("Nobody has gone to Leo")
    text_token = TAKE_LINK.search(texted["Body"]).group(1)  # type: ignore[union-attr]

    listed = world.client().get(
        f"/api/v1/stores/{world.seed.store_id}/help-requests", headers=world.staff_headers()
    )
    [shown] = listed.get_json()["help_requests"]
    assert shown["escalated_at"] == at + 120  # the console shows this, however late

    # Taken through the world's app, whose emitter the tablets and her page are connected to
    # (the same database and secret as the app that sent the messages).
    taken = world.client().post("/api/v1/escalations/take", json={"token": text_token})
    assert taken.status_code == 200, taken.get_json()
    answer = taken.get_json()
    assert (answer["kind"], answer["request_id"]) == ("help", request_id)
    assert (answer["status"], answer["acknowledged_by"]) == ("acknowledged", "Ines")
    late = world.client().post("/api/v1/escalations/take", json={"token": mail_token})
    assert late.status_code == 409
    assert late.get_json()["error"]["message"] == "Ines is on the way"
    with world.db.sessions() as session:
        row = session.get(HelpRequest, request_id)
        assert row is not None and row.status == "acknowledged"
    # She is told who is coming (a first name), and every tablet sees it, as from a tablet.
    received: dict[str, list[Any]] = {"page": [], "tablet": []}

    def acknowledged(client: SocketIOTestClient, name: str, key: str) -> list[Any]:
        received[key] += [m["args"][0] for m in client.get_received() if m["name"] == name]
        return [e for e in received[key] if e["status"] == "acknowledged"]

    [coming] = wait_until(lambda: acknowledged(page, "help_update", "page"), 5.0, 0.02)
    assert coming["staff_on_the_way"] == "Ines"
    [seen] = wait_until(lambda: acknowledged(sams, "help_updated", "tablet"), 5.0, 0.02)
    assert seen["acknowledged_by"] == "Ines"
