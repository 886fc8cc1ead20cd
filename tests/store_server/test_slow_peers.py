"""Providers that hang: a real SMTP server and a Twilio-compatible SMS API on loopback, each behind
a proxy that accepts the connection and then says nothing.

A silent provider is given up on after the delivery timeout, the message is retried by the
sweep once due, it shows in /metrics meanwhile, and it is sent once when the provider is back.
While one provider hangs, the messages waiting for another provider, and managers' escalations,
still go.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from store_server.app import create_app
from store_server.db.models import Delivery, StaffUser
from store_server.messaging.channels import Notification
from store_server.messaging.outbound import queue_staff_notice
from store_server.messaging.staff_notices import new_notice_id
from store_server.sweep import sweep
from store_server.vocabulary import Channel
from store_server.web.context import services
from tests.store_server.conftest import World
from tests.support.polling import wait_until
from tests.support.slow_peers import Peers, proxied_peers
from tests.support.sms_provider import FROM, SID

# Short, so the test is quick: the setting is the bound whatever its value.
TIMEOUT_S = 0.5
# Longer than the test: there the relay must still hang when the others have gone.
PATIENT_TIMEOUT_S = 60.0
EMAIL = "tess@example.com"
PHONE = "+14155550142"
MANAGER = "morgan@demo.store"


@pytest.fixture
def peers() -> Iterator[Peers]:
    with proxied_peers() as peers:
        yield peers


@pytest.fixture
def serve(world: World, peers: Peers) -> Iterator[Callable[..., Flask]]:
    """Serves the world's database by an app that mails and texts through the proxies, giving
    up on a silent provider after the given timeout (and any more settings)."""
    _, smtp, _, sms = peers
    started: list[Flask] = []

    def start(timeout_s: float, **more: object) -> Flask:
        settings = services(world.app).settings.model_copy(
            update={
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp.port,
                "smtp_security": "plain",
                "mail_from": "Demo Store <store@demo.store>",
                "sms_base_url": f"http://127.0.0.1:{sms.port}",
                "sms_account_sid": SID,
                "sms_from": FROM,
                "delivery_timeout_s": timeout_s,
                **more,
            }
        )
        started.append(create_app(settings, world.clock))
        return started[-1]

    yield start
    for app in started:
        services(app).outbound.stop()
        services(app).publisher.stop()
        services(app).db.dispose()


def join(app: Flask, world: World) -> None:
    """Tess joins the store with an address and a number."""
    joined = app.test_client().post(
        "/api/v1/optin",
        json={
            "store_id": world.seed.store_id,
            "first_name": "Tess",
            "email": EMAIL,
            "phone": PHONE,
            "consents": [
                {"purpose": "arrival", "channel": "sms"},
                {"purpose": "arrival", "channel": "email"},
            ],
        },
    )
    assert joined.status_code == 201, joined.get_json()


def ask_for_link(app: Flask, world: World, contact: dict[str, str]) -> None:
    """Tess asks for a recovery link by e-mail or text: one message, through that provider."""
    asked = app.test_client().post(
        "/api/v1/recovery", json={"store_id": world.seed.store_id, **contact}
    )
    assert asked.status_code == 202, asked.get_json()


def rows(world: World) -> list[Delivery]:
    with world.db.sessions() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(app: Flask) -> Samples:
    text = app.test_client().get("/metrics").get_data(as_text=True)
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_a_silent_provider_is_given_up_on_reported_retried_and_sent_once(
    world: World, serve: Callable[..., Flask], peers: Peers
) -> None:
    mailbox, smtp, provider, sms = peers
    app = serve(TIMEOUT_S)
    outbound = services(app).outbound
    before = scrape(app)
    smtp.stall()
    sms.stall()
    join(app, world)
    ask_for_link(app, world, {"email": EMAIL})
    ask_for_link(app, world, {"phone": PHONE})

    # Neither attempt waits forever: both give up, are recorded as retryable, and hang up.
    assert outbound.wait_idle(30 * TIMEOUT_S)
    first = rows(world)
    assert [(r.channel, r.status, r.tries) for r in first] == [
        (None, "failed_retryable", 1),
        (None, "failed_retryable", 1),
    ]
    assert [r.attempts[-1]["channel"] for r in first] == ["email", "sms"]
    assert wait_until(lambda: smtp.held() == 0 and sms.held() == 0, 10)
    after = scrape(app)
    for channel in ("email", "sms"):
        timeouts = value(after, "store_delivery_timeouts_total", channel=channel) - value(
            before, "store_delivery_timeouts_total", channel=channel
        )
        assert timeouts == 1, channel
    assert value(after, "store_outbound_retry_depth") == 2
    assert value(after, "store_outbound_queue_depth") == 0

    # The providers are back; nothing goes before its time, then each message goes once.
    smtp.resume()
    sms.resume()
    settings = services(app).settings
    due_at = max(r.next_try_at or 0.0 for r in first)
    assert min(r.next_try_at or 0.0 for r in first) > max(r.claimed_at or 0.0 for r in first)
    world.clock.now = lambda: due_at + 1
    due = sweep(world.db, settings, world.clock(), outbound.reach)
    assert len(due.jobs) == 2
    outbound.submit_all(due.jobs + due.jobs)  # submitted twice: sent once
    assert outbound.wait_idle(30)
    assert [(r.channel, r.status, r.tries) for r in rows(world)] == [
        ("email", "delivered", 2),
        ("sms", "delivered", 2),
    ]
    # The abandoned first attempts never reached the providers: one message each.
    assert [to for to, _ in mailbox.messages] == [[EMAIL]]
    assert [m["To"] for m in provider.received] == [PHONE]
    assert value(scrape(app), "store_outbound_retry_depth") == 0


def test_a_hanging_relay_holds_up_neither_texts_nor_a_managers_escalation(
    world: World, serve: Callable[..., Flask], peers: Peers
) -> None:
    mailbox, smtp, provider, _ = peers
    app = serve(PATIENT_TIMEOUT_S)
    outbound = services(app).outbound
    smtp.stall()
    join(app, world)
    ask_for_link(app, world, {"email": EMAIL})
    assert wait_until(lambda: smtp.held() == 1, 10), "the e-mail never reached the relay"

    # Behind it: a text to Tess, and an escalation to a manager who chose texts.
    ask_for_link(app, world, {"phone": PHONE})
    notification = Notification(new_notice_id(), "alert_escalated", "Nobody has gone", "Maria")
    with world.db.transaction() as session:
        manager = session.scalars(select(StaffUser).where(StaffUser.email == MANAGER)).one()
        manager.escalation_channel, manager.escalation_phone = Channel.SMS, "+14155550199"
        notice = queue_staff_notice(
            session, world.seed.store_id, manager, notification, world.clock()
        )
    outbound.submit(notice)

    assert wait_until(lambda: len(provider.received) == 2, 10), provider.received
    assert smtp.held() == 1 and mailbox.messages == []  # both went while the relay still hung
    assert sorted(m["To"] for m in provider.received) == sorted([PHONE, "+14155550199"])
