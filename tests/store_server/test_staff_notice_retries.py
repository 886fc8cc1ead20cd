"""A manager's escalation lost to a provider hiccup is tried again: on record before it
leaves, retried with backoff by the sweep, sent once however often it is submitted, given up
after bounded tries, once its link expires or once the manager no longer wants it, and visible
in /metrics meanwhile.

The peers are real loopback servers (tests/support): the Twilio-compatible SMS API answering
503 with `Retry-After` then recovering, and an SMTP server behind a proxy that is cut, then
restored.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from sqlalchemy import select, update

from store_server.db.models import PickupAlert, StaffNoticeRecord, Store
from store_server.messaging.outbound import MAX_TRIES
from store_server.sweep import sweep
from store_server.web.context import services
from tests.store_server.conftest import World
from tests.store_server.test_escalations import MANAGER, choose, escalate
from tests.store_server.test_slow_peers import peers, scrape, serve, value
from tests.support.slow_peers import Peers

__all__ = ["peers", "serve"]  # fixtures used here

PHONE = "+14155550199"
TIMEOUT_S = 5.0
TAKE_LINK = "/escalation#take="
DAY_S = 86400
RETRY_AFTER_S = 120  # what the loopback SMS API says when busy


def notices(world: World) -> list[StaffNoticeRecord]:
    """The first escalation's notice (a later sweep may escalate the alert again: more rows)."""
    with world.db.sessions() as session:
        first = session.scalars(select(StaffNoticeRecord).order_by(StaffNoticeRecord.id)).first()
        return [] if first is None else [first]


def retry_due(app: Flask, world: World, at: float) -> int:
    """The sweep at `at` (the clock set there too), its staff notices submitted twice, as two
    sweeping processes could; whether it re-submitted the first escalation's notice."""
    world.clock.now = lambda: at
    due = sweep(world.db, services(app).settings, at)
    outbound = services(app).outbound
    outbound.submit_all(due.notices + due.notices)
    assert outbound.wait_idle(15.0)
    [first] = notices(world)
    return sum(1 for n in due.notices if n.notification.message_id == first.message_id)


def by_text(app: Flask, world: World) -> None:
    """Morgan chose texts; the store escalates once (no second level within the test)."""
    chosen = choose(app, world, {"channel": "sms", "phone": PHONE})
    assert chosen.status_code == 200  # type: ignore[attr-defined]
    with world.db.transaction() as session:
        session.execute(
            update(Store).where(Store.id == world.seed.store_id).values(second_escalation_s=DAY_S)
        )


def test_an_escalation_text_the_provider_refused_is_retried_once_it_recovers(
    world: World, serve: Callable[..., Flask], peers: Peers
) -> None:
    _, _, provider, _ = peers
    app = serve(TIMEOUT_S)
    by_text(app, world)
    provider.busy = 1
    before = scrape(app)
    escalate(app, world)

    [first] = notices(world)
    assert (first.channel, first.status, first.tries) == ("sms", "failed_retryable", 1)
    assert first.next_try_at is not None and first.claimed_at is not None
    assert first.next_try_at >= first.claimed_at + RETRY_AFTER_S  # the provider's, not 30 s
    assert PHONE not in str(first.notification) and PHONE not in str(first.attempts)
    samples = scrape(app)
    assert value(samples, "store_staff_notice_retry_depth") == 1
    failed = value(
        samples, "store_staff_notices_total", channel="sms", outcome="failed_retryable"
    ) - value(before, "store_staff_notices_total", channel="sms", outcome="failed_retryable")
    assert failed == 1

    assert retry_due(app, world, first.next_try_at - 1) == 0  # nothing before its time
    assert len(provider.received) == 1  # the refused one
    assert retry_due(app, world, first.next_try_at + 1) == 1
    refused, text = provider.received  # submitted twice, sent once
    assert text["To"] == PHONE and TAKE_LINK in text["Body"]
    assert text["Body"] == refused["Body"]  # the same message, the same link
    [done] = notices(world)
    assert (done.status, done.tries, done.delivered_at) == ("delivered", 2, first.next_try_at + 1)
    assert [a["status"] for a in done.attempts] == ["failed_retryable", "delivered"]
    assert value(scrape(app), "store_staff_notice_retry_depth") == 0
    assert retry_due(app, world, first.next_try_at + 3600) == 0  # and never again
    assert len(provider.received) == 2


def test_an_escalation_is_given_up_after_bounded_tries(
    world: World, serve: Callable[..., Flask], peers: Peers
) -> None:
    _, _, provider, _ = peers
    # A link that outlives every backoff, so only the tries bound it.
    app = serve(TIMEOUT_S, alert_expiry_s=7 * DAY_S)
    by_text(app, world)
    provider.busy = MAX_TRIES + 2
    escalate(app, world)
    for _ in range(MAX_TRIES + 2):
        [row] = notices(world)
        if row.next_try_at is None:
            break
        assert retry_due(app, world, row.next_try_at + 1) == 1
    [row] = notices(world)
    assert (row.status, row.tries) == ("failed_permanent", MAX_TRIES)
    assert len(provider.received) == MAX_TRIES  # no try past the bound
    assert value(scrape(app), "store_staff_notice_retry_depth") == 0


def test_no_retry_is_planned_past_the_links_expiry(
    world: World, serve: Callable[..., Flask], peers: Peers
) -> None:
    _, _, provider, _ = peers
    # Escalated 120 s after the arrival; the link lasts 180 s: less than the 120 s Retry-After.
    app = serve(TIMEOUT_S, alert_expiry_s=180)
    by_text(app, world)
    provider.busy = 1
    [alert] = world.arrive("maria")
    with world.db.sessions() as session:
        raised_at = session.get_one(PickupAlert, alert["alert_id"]).raised_at
    world.clock.now = lambda: raised_at + 120  # the senders' clock, the sweep's time
    assert retry_due(app, world, raised_at + 120) == 1  # the escalation, tried once
    [row] = notices(world)
    assert (row.status, row.next_try_at, row.tries) == ("failed_permanent", None, 1)
    assert value(scrape(app), "store_staff_notice_retry_depth") == 0


def test_a_manager_who_chose_the_console_meanwhile_gets_no_retry(
    world: World, serve: Callable[..., Flask], peers: Peers
) -> None:
    _, _, provider, _ = peers
    app = serve(TIMEOUT_S)
    by_text(app, world)
    provider.busy = 1
    escalate(app, world)
    [first] = notices(world)
    assert first.next_try_at is not None
    assert choose(app, world, {"channel": ""}).status_code == 200  # type: ignore[attr-defined]

    assert retry_due(app, world, first.next_try_at + 1) == 0
    [row] = notices(world)
    assert row.status == "failed_permanent"
    assert "another channel" in row.attempts[-1]["reason"]
    assert len(provider.received) == 1


def test_no_retry_once_someone_has_gone(
    world: World, serve: Callable[..., Flask], peers: Peers
) -> None:
    _, _, provider, _ = peers
    app = serve(TIMEOUT_S)
    by_text(app, world)
    provider.busy = 1
    alert_id, _ = escalate(app, world)
    [first] = notices(world)
    assert first.next_try_at is not None
    going = world.client().post(
        f"/api/v1/stores/{world.seed.store_id}/alerts/{alert_id}/acknowledge",
        headers=world.staff_headers(),
    )
    assert going.status_code == 200, going.get_json()

    assert retry_due(app, world, first.next_try_at + 1) == 0
    [row] = notices(world)
    assert row.status == "failed_permanent"
    assert row.attempts[-1]["reason"] == "no longer needed: someone has gone"
    assert len(provider.received) == 1


def test_an_escalation_mail_the_relay_refused_is_retried_once_it_is_back(
    world: World, serve: Callable[..., Flask], peers: Peers
) -> None:
    mailbox, smtp, _, _ = peers
    app = serve(TIMEOUT_S)
    assert choose(app, world, {"channel": "email"}).status_code == 200  # type: ignore[attr-defined]
    smtp.cut()
    escalate(app, world)
    [first] = notices(world)
    assert (first.status, first.tries) == ("failed_retryable", 1), first.attempts
    assert mailbox.messages == []
    assert MANAGER not in str(first.attempts)

    smtp.restore()
    assert first.next_try_at is not None
    assert retry_due(app, world, first.next_try_at + 1) == 1
    [(recipients, _)] = mailbox.messages
    assert recipients == [MANAGER]
    assert notices(world)[0].status == "delivered"
