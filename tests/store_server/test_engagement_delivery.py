"""Campaign offers through every channel's real local peer, and what shoppers send back.

The app here is configured like production: Web Push (always), SMS through a local service
speaking the Twilio Messages API, e-mail through a local SMTP server (aiosmtpd). Offers leave
through the outbound queue and the one router; each delivery is recorded, then "seen".
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import http_ece
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from sqlalchemy import select, update

from store_server.db.models import (
    CampaignDecision,
    Consent,
    Coupon,
    Delivery,
    PickupOrder,
    PresenceEvent,
    Shopper,
    Survey,
    Visit,
    WebPushSubscription,
)
from store_server.engagement import engine as engagement
from store_server.messaging.channels.sms import expected_signature
from store_server.sweep import sweep
from store_server.web.context import services
from tests.store_server.conftest import World, observation
from tests.store_server.test_campaigns import (
    LONDON,
    PAGE_OPEN,
    campaign,
    create,
    decisions,
    move_shoppers_to_daytime,
    night_in_london,
    shopper_id,
    trigger,
)
from tests.store_server.test_channels_email import smtp
from tests.store_server.test_channels_sms import FROM, PHONE, SID, TOKEN, Provider, provider
from tests.store_server.test_channels_webpush import Browser, PushService, push_service
from tests.store_server.test_pickup_lifecycle import events
from tests.support.smtp import Mailbox

__all__ = ["provider", "push_service", "smtp"]  # fixtures used here

PUBLIC_URL = "http://127.0.0.1:5999"
WEBHOOK = "/api/v1/sms/inbound"


@pytest.fixture
def phone_browser() -> Browser:
    """A phone browser's push subscription keys (not pytest-playwright's `browser`)."""
    return Browser(ec.generate_private_key(ec.SECP256R1()), os.urandom(16))


@pytest.fixture
def channels_app(world: World, provider: Provider, smtp: tuple[Mailbox, int]) -> Iterator[Flask]:
    """The world's database served by an app with every channel configured on loopback."""
    settings = services(world.app).settings.model_copy(
        update=dict(
            public_url=PUBLIC_URL,
            sms_base_url=provider.base_url,
            sms_account_sid=SID,
            sms_auth_token=TOKEN,
            sms_from=FROM,
            smtp_host="127.0.0.1",
            smtp_port=smtp[1],
            smtp_security="plain",
            mail_from="Demo Store <offers@demo.store>",
        )
    )
    from store_server.app import create_app

    app = create_app(settings)
    yield app
    services(app).outbound.stop()
    services(app).publisher.stop()
    services(app).db.dispose()


def consent(app: Flask, world: World, person: str, *pairs: tuple[str, str]) -> None:
    response = app.test_client().put(
        "/api/v1/me/consents",
        json={
            "store_id": world.seed.store_id,
            "consents": [{"purpose": p, "channel": c} for p, c in pairs],
        },
        headers=world.device_headers(person),
    )
    assert response.status_code == 200, response.get_json()


def arrive(app: Flask, world: World, person: str) -> None:
    """The person is heard strongly at the entrance by the app under test."""
    now = time.time()
    response = app.test_client().post(
        "/api/v1/gateways/gw-entrance/batches",
        json={
            "batch_id": f"b-{person}-{now}",
            "sent_at": now,
            "observations": [
                observation(world.eid_hex(person, now - 1.0), -55, now - 1.0),
                observation(world.eid_hex(person, now), -55, now),
            ],
        },
        headers={"Authorization": f"Bearer {world.seed.gateway_tokens['gw-entrance']}"},
    )
    assert response.status_code == 202, response.get_json()


def delivered(app: Flask, world: World) -> list[Delivery]:
    assert services(app).outbound.wait_idle(15.0), "the outbound queue did not drain"
    with world.db.sessions() as session:
        rows = session.scalars(select(Delivery).order_by(Delivery.id)).all()
        session.expunge_all()
    return list(rows)


def subscribe(world: World, person: str, keys: Browser, endpoint: str) -> None:
    sub = keys.subscription(endpoint)
    with world.db.transaction() as session:
        session.add(
            WebPushSubscription(
                shopper_id=shopper_id(world, person),
                endpoint=sub.endpoint,
                p256dh=sub.p256dh,
                auth=sub.auth,
                created_at=time.time(),
            )
        )


def test_offer_goes_by_push_when_the_page_is_closed_and_seen_is_recorded(
    world: World, channels_app: Flask, push_service: PushService, phone_browser: Browser
) -> None:
    move_shoppers_to_daytime(world)
    create(world, channels=["app", "push"])
    consent(channels_app, world, "leo", ("arrival", "app"), ("offers", "app"), ("offers", "push"))
    subscribe(world, "leo", phone_browser, push_service.endpoint())
    arrive(channels_app, world, "leo")  # no page open: the app channel cannot carry it

    [delivery] = delivered(channels_app, world)
    assert (delivery.status, delivery.channel, delivery.kind) == ("delivered", "push", "coupon")
    # The router tried the app first (no page open: the offer waits in the inbox), then push.
    assert [(a["channel"], a["status"]) for a in delivery.attempts] == [
        ("app", "failed_permanent"),
        ("push", "delivered"),
    ]
    [request] = push_service.received
    payload = json.loads(
        http_ece.decrypt(
            request.body,
            private_key=phone_browser.private_key,
            auth_secret=phone_browser.auth_secret,
            version="aes128gcm",
        )
    )
    assert payload["id"] == delivery.message_id and payload["kind"] == "coupon"
    assert payload["url"] == f"{PUBLIC_URL}/r/{payload['data']['code']}"
    assert payload["title"] == campaign()["offer_text"]

    client = channels_app.test_client()
    seen = client.post(f"/api/v1/messages/{delivery.message_id}/seen")
    assert seen.status_code == 200
    [after] = delivered(channels_app, world)
    assert after.seen_at is not None
    again = client.post(f"/api/v1/messages/{delivery.message_id}/seen")
    assert again.status_code == 200
    [still] = delivered(channels_app, world)
    assert still.seen_at == after.seen_at  # the first report counts
    for unknown in ("0" * 32, "not-a-message", "A" * 32):
        answer = client.post(f"/api/v1/messages/{unknown}/seen")
        assert answer.status_code == 404
        assert answer.get_json()["error"]["code"] == "unknown_message"


def test_a_gone_push_subscription_is_forgotten_and_sms_takes_over(
    world: World,
    channels_app: Flask,
    push_service: PushService,
    phone_browser: Browser,
    provider: Provider,
) -> None:
    move_shoppers_to_daytime(world)
    create(world, channels=["push", "sms"])
    with world.db.transaction() as session:
        session.execute(update(Shopper).where(Shopper.first_name == "Leo").values(phone=PHONE))
    consent(channels_app, world, "leo", ("arrival", "app"), ("offers", "push"), ("offers", "sms"))
    subscribe(world, "leo", phone_browser, push_service.endpoint())
    push_service.script.append((410, {}))
    arrive(channels_app, world, "leo")

    [delivery] = delivered(channels_app, world)
    assert (delivery.status, delivery.channel) == ("delivered", "sms")
    assert [(a["channel"], a["status"]) for a in delivery.attempts] == [
        ("push", "failed_permanent"),
        ("sms", "delivered"),
    ]
    [text] = provider.messages
    with world.db.sessions() as session:
        code = session.scalars(select(Coupon.code)).one()
        assert session.scalars(select(WebPushSubscription)).all() == []
    assert text["To"] == PHONE and code in text["Body"] and "Reply STOP" in text["Body"]


def test_e_mail_offer_carries_one_click_unsubscribe_that_works(
    world: World, channels_app: Flask, smtp: tuple[Mailbox, int]
) -> None:
    move_shoppers_to_daytime(world)
    create(world, channels=["email"])
    consent(channels_app, world, "leo", ("arrival", "app"), ("offers", "email"))
    arrive(channels_app, world, "leo")

    [delivery] = delivered(channels_app, world)
    assert (delivery.status, delivery.channel) == ("delivered", "email")
    mailbox, _port = smtp
    [(recipients, message)] = mailbox.messages
    assert recipients == ["leo@example.com"]
    with world.db.sessions() as session:
        token = session.scalars(
            select(Shopper.unsubscribe_token).where(Shopper.first_name == "Leo")
        ).one()
    assert token and token not in "leo@example.com"
    assert f"<{PUBLIC_URL}/u/{token}>" in message["List-Unsubscribe"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    client = channels_app.test_client()
    page = client.get(f"/u/{token}")  # a link scanner's GET changes nothing
    assert page.status_code == 200 and b"Unsubscribe from e-mails" in page.data
    assert ("offers", "email") in consents_of(world, "leo")
    done = client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and b"You are unsubscribed" in done.data
    assert consents_of(world, "leo") == {("arrival", "app")}
    assert client.post(f"/u/{token}").status_code == 200  # twice is fine
    for bad in ("x" * 20, "short", "a" * 200):
        answer = client.post(f"/u/{bad}")
        assert answer.status_code == 404
        assert answer.get_json()["error"]["code"] == "unknown_token"


def consents_of(world: World, person: str) -> set[tuple[str, str]]:
    with world.db.sessions() as session:
        rows = session.execute(
            select(Consent.purpose, Consent.channel).where(
                Consent.shopper_id == shopper_id(world, person)
            )
        ).all()
    return {(p, c) for p, c in rows}


def text_in(app: Flask, body: str, sender: str = PHONE, signature: str | None = None) -> Any:
    form = {"From": sender, "To": FROM, "Body": body, "MessageSid": "SM" + "1" * 32}
    if signature is None:
        signature = expected_signature(TOKEN, PUBLIC_URL + WEBHOOK, form)
    return app.test_client().post(WEBHOOK, data=form, headers={"X-Twilio-Signature": signature})


def test_texted_stop_and_start_change_sms_consent(world: World, channels_app: Flask) -> None:
    with world.db.transaction() as session:
        session.execute(update(Shopper).where(Shopper.first_name == "Leo").values(phone=PHONE))
    consent(channels_app, world, "leo", ("arrival", "sms"), ("offers", "sms"), ("offers", "app"))

    forged = text_in(channels_app, "STOP", signature="bm90IGEgc2lnbmF0dXJl")
    assert forged.status_code == 403 and forged.get_json()["error"]["code"] == "bad_signature"
    unsigned = channels_app.test_client().post(WEBHOOK, data={"From": PHONE, "Body": "STOP"})
    assert unsigned.status_code == 403
    assert ("offers", "sms") in consents_of(world, "leo")

    stop = text_in(channels_app, " stop ")
    assert stop.status_code == 200 and stop.mimetype == "text/xml"
    assert b"unsubscribed" in stop.data and stop.data.startswith(b"<?xml")
    assert consents_of(world, "leo") == {("offers", "app")}
    text_in(channels_app, "STOP")  # a second STOP must not forget what the first revoked
    help_ = text_in(channels_app, "HELP")
    assert b"Reply STOP" in help_.data and consents_of(world, "leo") == {("offers", "app")}
    chatter = text_in(channels_app, "what time do you close?")
    assert chatter.status_code == 200 and b"<Message>" not in chatter.data

    start = text_in(channels_app, "START")
    assert b"resubscribed" in start.data
    assert consents_of(world, "leo") == {("arrival", "sms"), ("offers", "sms"), ("offers", "app")}
    stranger = text_in(channels_app, "START", sender="+14155550999")
    assert stranger.status_code == 200  # nobody to change; the provider still gets an answer


def test_the_sms_webhook_is_absent_without_a_provider(world: World) -> None:
    answer = world.client().post(WEBHOOK, data={"From": PHONE, "Body": "STOP"})
    assert answer.status_code == 404
    assert answer.get_json()["error"]["code"] == "sms_not_configured"


def test_an_offer_held_overnight_is_sent_when_quiet_hours_end_if_still_valid(
    world: World,
) -> None:
    night = night_in_london()
    morning = datetime(2026, 1, 16, 9, 0, tzinfo=LONDON).timestamp()
    create(
        world,
        starts_at=1.0,
        valid_minutes=None,
        valid_until=morning + 86400,
        name="Lasting",
    )
    create(world, starts_at=1.0, valid_minutes=120, name="Two hours")
    assert trigger(world, "leo", night) == []
    assert trigger(world, "ana", night) == []
    settings = services(world.app).settings
    assert sweep(world.db, settings, morning - 1, PAGE_OPEN).jobs == []

    released = sweep(world.db, settings, morning + 5, PAGE_OPEN)
    # Released once: the next sweep only re-submits the same two messages, still queued
    # because this test never hands the jobs to the outbound worker.
    again = sweep(world.db, settings, morning + 10, PAGE_OPEN).jobs
    assert {j.notification.message_id for j in again} == {
        j.notification.message_id for j in released.jobs
    }
    leo = decisions(world, shopper_id(world, "leo"))
    by_campaign: dict[int, list[str]] = {}
    for d in leo:
        by_campaign.setdefault(d.campaign_id, []).append(d.outcome)
    # Both held; "Lasting" is sent at 09:00; the two-hour one expired overnight.
    assert sorted(by_campaign.values()) == [["quiet_hours", "expired"], ["quiet_hours", "sent"]]
    assert all(d.released_at == morning + 5 for d in leo if d.outcome == "quiet_hours")
    assert len(released.jobs) == 2  # one for Leo, one for Ana
    job = released.jobs[0]
    assert job.notification.expires_at == morning + 86400  # the terms of the night's decision


def test_an_exit_closed_by_the_sweep_triggers_exited_campaigns(world: World) -> None:
    move_shoppers_to_daytime(world)
    create(world, trigger="exited", offer_text="Come back tomorrow")
    world.arrive("leo")
    with world.db.sessions() as session:
        [visit] = session.scalars(select(Visit)).all()
        last_seen = visit.last_seen_at
    result = sweep(world.db, services(world.app).settings, last_seen + 60, PAGE_OPEN)
    assert result.visits_closed == 1
    [job] = result.jobs
    assert job.notification.title == "Come back tomorrow"
    [decision] = decisions(world, shopper_id(world, "leo"))
    assert (decision.trigger, decision.outcome) == ("exited", "sent")


def test_answering_the_survey_triggers_survey_answered_campaigns(world: World) -> None:
    move_shoppers_to_daytime(world)
    create(world, trigger="survey_answered", offer_text="Thanks: 10 % off")
    page = world.open_page("leo")
    with world.db.transaction() as session:
        survey = Survey(
            store_id=world.seed.store_id, shopper_id=shopper_id(world, "leo"), sent_at=time.time()
        )
        session.add(survey)
        session.flush()
        survey_id = survey.id
    answer = world.client().post(
        f"/api/v1/me/surveys/{survey_id}", json={"score": 9}, headers=world.device_headers("leo")
    )
    assert answer.status_code == 200
    [decision] = decisions(world, shopper_id(world, "leo"))
    assert (decision.trigger, decision.outcome) == ("survey_answered", "sent")
    [delivery] = delivered(world.app, world)
    assert delivery.channel == "app"
    assert [m["id"] for m in events(page, "coupon")] == [delivery.message_id]


def test_audiences_filter_on_attributes_past_visits_purchases_and_zones(world: World) -> None:
    day = datetime(2026, 1, 15, 11, 0, tzinfo=LONDON).timestamp()
    leo = shopper_id(world, "leo")
    attributes = world.client().put(
        f"/api/v1/stores/{world.seed.store_id}/customers/attributes",
        json={"customer_email": "Leo@Example.com", "attributes": {"tier": "gold"}},
        headers={"Authorization": f"Bearer {world.seed.integration_token}"},
    )
    assert attributes.get_json() == {"matched": True}
    nobody = world.client().put(
        f"/api/v1/stores/{world.seed.store_id}/customers/attributes",
        json={"customer_email": "nobody@example.com", "attributes": {"tier": "gold"}},
        headers={"Authorization": f"Bearer {world.seed.integration_token}"},
    )
    assert nobody.get_json() == {"matched": False}
    with world.db.transaction() as session:
        past = Visit(
            store_id=world.seed.store_id,
            shopper_id=leo,
            started_at=day - 86400,
            last_seen_at=day - 86000,
            ended_at=day - 86000,
        )
        session.add(past)
        session.flush()
        session.add(
            PresenceEvent(
                store_id=world.seed.store_id,
                shopper_id=leo,
                visit_id=past.id,
                kind="zone_dwell",
                zone="dresses",
                at=day - 86100,
                confidence=0.9,
                reasons=[],
                dwell_s=300.0,
            )
        )
        session.add(
            PickupOrder(
                store_id=world.seed.store_id,
                shopper_id=leo,
                external_id="old-1",
                number="900",
                status="handed_over",
                items=[{"name": "Vanilla Ice Cream, 1 l", "qty": 1}],
                updated_at=day - 86000,
            )
        )
    audiences = {
        "gold": {"attributes": {"tier": "gold"}},
        "silver": {"attributes": {"tier": "silver"}},
        "returning": {"min_past_visits": 1},
        "regular": {"min_past_visits": 2},
        "ice cream": {"bought": "ice cream"},
        "socks": {"bought": "socks"},
        "dresses": {"visited_zone": "dresses"},
        "shoes": {"visited_zone": "shoes"},
        "everyone": None,
    }
    names = {}
    for name, audience in audiences.items():
        created = create(world, starts_at=1.0, name=name, audience=audience)
        names[created["id"]] = name
    trigger(world, "leo", day)
    decided = {names[d.campaign_id] for d in decisions(world, leo)}
    assert decided == {"gold", "returning", "ice cream", "dresses", "everyone"}
    trigger(world, "ana", day)  # no attributes, visits, orders or zones
    assert {names[d.campaign_id] for d in decisions(world, shopper_id(world, "ana"))} == {
        "everyone"
    }


@pytest.mark.parametrize(
    ("local", "days", "window", "live"),
    [
        ((2026, 1, 15, 11, 0), [4], None, True),  # a Thursday
        ((2026, 1, 15, 11, 0), [1, 2, 3, 5, 6, 7], None, False),
        ((2026, 1, 15, 11, 0), None, ("10:00", "12:00"), True),
        ((2026, 1, 15, 12, 0), None, ("10:00", "12:00"), False),  # the end is exclusive
        ((2026, 1, 15, 9, 59), None, ("10:00", "12:00"), False),
        ((2026, 1, 15, 23, 30), [4], ("22:00", "02:00"), True),
        ((2026, 1, 16, 1, 30), [4], ("22:00", "02:00"), True),  # Friday 01:30: Thursday night
        ((2026, 1, 16, 1, 30), [5], ("22:00", "02:00"), False),
        ((2026, 1, 16, 2, 30), None, ("22:00", "02:00"), False),
        ((2026, 7, 16, 11, 30), None, ("11:00", "12:00"), True),  # summer time: local clock
    ],
)
def test_days_and_daily_hours_follow_the_stores_clock(
    local: tuple[int, int, int, int, int],
    days: list[int] | None,
    window: tuple[str, str] | None,
    live: bool,
) -> None:
    from store_server.db.models import CampaignVersion

    version = CampaignVersion(
        starts_at=1.0,
        ends_at=None,
        days=days,
        daily_start=window[0] if window else None,
        daily_end=window[1] if window else None,
    )
    now = datetime(*local, tzinfo=LONDON).timestamp()
    assert engagement.is_live(version, now, "Europe/London") is live


def test_amount_off_and_product_scope_reach_the_coupon_and_the_words(world: World) -> None:
    move_shoppers_to_daytime(world)
    create(
        world,
        percent_off=None,
        amount_off_cents=500,
        product_scope="dresses",
        offer_text="$5 off any dress today",
    )
    world.open_page("leo")
    world.arrive("leo")
    [delivery] = delivered(world.app, world)
    with world.db.sessions() as session:
        coupon = session.scalars(select(Coupon)).one()
        assert (coupon.amount_off_cents, coupon.product_scope) == (500, "dresses")
        decision = session.scalars(select(CampaignDecision)).one()
        assert decision.id == delivery.decision_id
    mine = world.client().get("/api/v1/me/coupons", headers=world.device_headers("leo"))
    [shown] = mine.get_json()["coupons"]
    assert (shown["amount_off_cents"], shown["product_scope"]) == (500, "dresses")
    assert engagement.describe_offer(None, 500, "dresses", "USD") == "5.00 USD off dresses"
    assert engagement.describe_offer(15, None, None, "USD") == "15% off"
    assert engagement.describe_offer(None, None, None, "USD") == ""
