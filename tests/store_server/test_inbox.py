"""Offers that wait for the shopper: the coupon and an inbox entry whatever the connection,
the router's fallback when the page is closed, "not reachable now" apart from "no consent", and
the way to reach a person that every message carries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from store_server.db.models import Coupon, Delivery
from store_server.engagement import decide
from store_server.messaging.channels import Contact, Notification, PersonContact, SendResult
from store_server.messaging.channels.inapp import InAppSender
from store_server.messaging.channels.router import Router
from store_server.messaging.channels.sms import MAX_BODY_CHARS, OPT_OUT_FOOTER, sms_text
from store_server.vocabulary import Channel
from store_server.web.context import services
from tests.store_server.conftest import World
from tests.store_server.test_campaigns import (
    create,
    decisions,
    move_shoppers_to_daytime,
    shopper_id,
)
from tests.store_server.test_pickup_lifecycle import events


def inbox(world: World, person: str) -> list[dict[str, Any]]:
    response = world.client().get("/api/v1/me/inbox", headers=world.device_headers(person))
    assert response.status_code == 200, response.get_json()
    messages: list[dict[str, Any]] = response.get_json()["messages"]
    return messages


def test_an_in_app_offer_to_a_closed_page_waits_in_the_inbox(world: World) -> None:
    move_shoppers_to_daytime(world)
    create(world)
    leo = shopper_id(world, "Leo")
    world.arrive("leo")  # no page of Leo's is open
    [decision] = decisions(world, leo)
    assert decision.outcome == "sent" and decision.coupon_id is not None
    assert services(world.app).outbound.wait_idle(5.0)
    with world.db.sessions() as session:
        delivery = session.scalars(select(Delivery).where(Delivery.shopper_id == leo)).one()
        coupon = session.get(Coupon, decision.coupon_id)
        assert coupon is not None
        assert delivery.channel is None  # no live channel carried it
        assert delivery.attempts[0]["reason"] == "shopper page not connected: waits in the inbox"
        code = coupon.code
    [entry] = inbox(world, "leo")
    assert entry["seen"] is False and entry["store_id"] == world.seed.store_id
    assert entry["message"]["data"]["code"] == code
    assert entry["message"]["person"]["phone"] == "+442079460000"
    # Reloads and reconnects read the same entry, never a second one.
    assert inbox(world, "leo") == [entry]
    seen = world.client().post(f"/api/v1/messages/{entry['message']['id']}/seen")
    assert seen.status_code == 200
    assert [e["seen"] for e in inbox(world, "leo")] == [True]
    assert inbox(world, "maria") == []  # another shopper's inbox holds nothing of Leo's
    report = world.client().get(
        f"/api/v1/stores/{world.seed.store_id}/report",
        headers=world.staff_headers("morgan@demo.store"),
    )
    [figures] = report.get_json()["campaigns"]
    assert (figures["sent"], figures["inbox_only"], figures["seen"]) == (1, 1, 1)


def test_an_offer_to_an_open_page_is_live_and_in_the_inbox_once(world: World) -> None:
    move_shoppers_to_daytime(world)
    create(world)
    page = world.open_page("leo")
    world.arrive("leo")
    [message] = events(page, "coupon")
    assert services(world.app).outbound.wait_idle(5.0)
    [entry] = inbox(world, "leo")
    assert entry["message"] == message  # the page merges the two by the message id


class Recording:
    """A sender that records what it was given and answers as told."""

    def __init__(self, channel: Channel, status: str) -> None:
        self.channel = channel
        self.status = status
        self.sent: list[str] = []

    def send(self, notification: Notification, contact: Contact) -> SendResult:
        self.sent.append(notification.message_id)
        return SendResult(self.channel, self.status, "recorded")  # type: ignore[arg-type]


def test_the_router_falls_back_along_the_campaigns_order_when_the_page_is_closed() -> None:
    published: list[Any] = []
    sms = Recording(Channel.SMS, "delivered")
    email = Recording(Channel.EMAIL, "delivered")
    closed = InAppSender(published.extend, lambda _shopper_id: False)
    router = Router([closed, sms, email])
    note = Notification("m" * 32, "coupon", "Title", "Body")
    result = router.deliver(note, Contact(1, phone="+14155550123"), (Channel.APP, Channel.SMS))
    assert [a.channel for a in result.attempts] == ["app", "sms"]
    assert result.channel == "sms" and published == [] and email.sent == []
    open_page = Router([InAppSender(published.extend, lambda _shopper_id: True), sms])
    assert open_page.deliver(note, Contact(1), (Channel.APP, Channel.SMS)).channel == "app"
    assert len(published) == 1


def test_not_reachable_now_is_reported_apart_from_no_consent(world: World) -> None:
    move_shoppers_to_daytime(world)
    create(world, channels=["push"])
    # Leo said yes to offers as notifications, but no browser of his subscribed: not reachable.
    consented = world.client().put(
        "/api/v1/me/consents",
        json={
            "store_id": world.seed.store_id,
            "consents": [
                {"purpose": "arrival", "channel": "app"},
                {"purpose": "offers", "channel": "push"},
            ],
        },
        headers=world.device_headers("leo"),
    )
    assert consented.status_code == 200
    world.arrive("leo")
    world.arrive("ana")  # Ana said yes to offers in the app only: none for notifications
    assert [d.outcome for d in decisions(world, shopper_id(world, "Leo"))] == ["unreachable"]
    assert [d.outcome for d in decisions(world, shopper_id(world, "Ana"))] == ["no_consent"]
    report = world.client().get(
        f"/api/v1/stores/{world.seed.store_id}/report",
        headers=world.staff_headers("morgan@demo.store"),
    )
    [figures] = report.get_json()["campaigns"]
    assert figures["outcomes"] == {"unreachable": 1, "no_consent": 1}
    assert "unreachable" in decide.OUTCOMES


def test_the_store_info_names_its_phone_web_page_and_zones(world: World) -> None:
    info = world.client().get(f"/api/v1/stores/{world.seed.store_id}/info").get_json()
    assert (info["phone"], info["web_page"]) == ("+442079460000", "https://demo-store.example/help")
    assert [z["name"] for z in info["zones"]] == ["dresses", "entrance", "shoes"]
    assert [b["name"] for b in info["bays"]] == ["bay-1"]


def test_a_text_keeps_the_way_to_a_person_however_long_the_body() -> None:
    person = PersonContact("+442079460000", "https://shop.example/help")
    long = Notification("m" * 32, "coupon", "Offer", "x" * 3000, person=person)
    text = sms_text(long)
    assert len(text) <= MAX_BODY_CHARS
    assert f"{person.line()} {OPT_OUT_FOOTER}" in text
    assert PersonContact().line() == ""
    assert Notification("m" * 32, "coupon", "Offer", "Body").text == "Body"
