"""Campaigns: the managers' API, and the engine deciding, logging and sending coupons."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from store_server.db.models import (
    CampaignDecision,
    CampaignVersion,
    Coupon,
    Delivery,
    PresenceEvent,
    Shopper,
    Store,
    Visit,
)
from store_server.demo import DEMO_STORE_WEB_PAGE
from store_server.engagement import decide
from store_server.engagement import engine as engagement
from store_server.messaging.outbound import Reach
from store_server.presence.visits import PresenceEventOut
from store_server.vocabulary import Channel
from store_server.web.context import services
from tests.store_server.conftest import World
from tests.store_server.test_pickup_lifecycle import events
from tests.store_server.test_privacy import every_row

MANAGER = "morgan@demo.store"
LONDON = ZoneInfo("Europe/London")
# Local hour the shoppers are moved to in tests that run at the real clock: far from the
# default quiet hours (21:00-09:00) whenever the suite runs.
DAYTIME_HOUR = 13
HOUR_S = 3600.0
# The engine called directly, with an in-app sender (whose inbox reaches every shopper).
PAGE_OPEN = Reach(frozenset({Channel.APP}))


def campaign(**changes: Any) -> dict[str, Any]:
    """A valid campaign body: 20 % off for two hours, on entry, in the app."""
    body: dict[str, Any] = {
        "name": "Welcome",
        "trigger": "entered",
        "offer_text": "20 % off dresses for the next two hours",
        "percent_off": 20,
        "valid_minutes": 120,
        "channels": ["app"],
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def create(world: World, **changes: Any) -> dict[str, Any]:
    """Create a campaign through the managers' API, in the database every app of the test uses."""
    response = world.client().post(
        f"/api/v1/stores/{world.seed.store_id}/campaigns",
        json=campaign(**changes),
        headers=world.staff_headers(MANAGER),
    )
    assert response.status_code == 201, response.get_json()
    result: dict[str, Any] = response.get_json()
    return result


def shopper_id(world: World, first_name: str) -> int:
    with world.db.sessions() as session:
        return session.scalars(
            select(Shopper.id).where(Shopper.first_name == first_name.title())
        ).one()


def move_shoppers_to_daytime(world: World) -> None:
    """Give the demo shoppers a time zone where it is early afternoon now."""
    offset = DAYTIME_HOUR - datetime.now(ZoneInfo("UTC")).hour  # -10..13, a valid Etc zone
    name = f"Etc/GMT{-offset:+d}" if offset else "UTC"  # Etc/GMT-5 is UTC+5 (POSIX sign)
    with world.db.transaction() as session:
        session.execute(update(Shopper).values(timezone=name))


def decisions(world: World, shopper: int) -> list[CampaignDecision]:
    with world.db.sessions() as session:
        rows = session.scalars(
            select(CampaignDecision)
            .where(CampaignDecision.shopper_id == shopper)
            .order_by(CampaignDecision.id)
        ).all()
        session.expunge_all()
    return list(rows)


def night_in_london() -> float:
    return datetime(2026, 1, 15, 23, 30, tzinfo=LONDON).timestamp()


def trigger(
    world: World, person: str, now: float, visit_id: int | None = None, name: str = "entered"
) -> list[Any]:
    """Call the engine directly at `now` in one transaction; returns the queued deliveries."""
    with world.db.transaction() as session:
        return engagement.on_trigger(
            session,
            world.seed.store_id,
            shopper_id(world, person),
            engagement.Trigger(name, visit_id),
            now,
            PAGE_OPEN,
        )


# --- the managers' API ------------------------------------------------------------------


def test_only_managers_of_the_store_manage_campaigns(world: World) -> None:
    url = f"/api/v1/stores/{world.seed.store_id}/campaigns"
    staff = world.client().post(url, json=campaign(), headers=world.staff_headers())
    assert staff.status_code == 403
    assert staff.get_json()["error"]["code"] == "managers_only"
    assert world.client().get(url, headers=world.staff_headers()).status_code == 403
    other = world.client().post(
        url, json=campaign(), headers=world.staff_headers("kim@other.store")
    )
    assert other.status_code == 403 and other.get_json()["error"]["code"] == "forbidden"
    assert world.client().post(url, json=campaign()).status_code == 401


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"offer_text": "   "}, "offer_text"),
        ({"starts_at": 2_000_000_000.0, "ends_at": 1_900_000_000.0}, "ends_at"),
        ({"channels": []}, "channels"),
        ({"channels": ["app", "fax"]}, "channels"),
        ({"channels": ["app", "app"]}, "channels"),
        ({"trigger": "zone_dwell", "min_dwell_s": 60}, "zone"),
        ({"trigger": "zone_dwell", "zone": "dresses"}, "min_dwell_s"),
        ({"valid_until": 2_000_000_000.0}, "valid_minutes"),
        ({"valid_minutes": None}, "valid_minutes"),
        ({"holdout_share": 0.6}, "holdout_share"),
        ({"trigger": "birthday"}, "trigger"),
        ({"amount_off_cents": 500}, "amount_off_cents"),  # with percent_off too
        ({"percent_off": None, "amount_off_cents": 0}, "amount_off_cents"),
        ({"days": [1, 8]}, "days"),
        ({"days": [2, 2]}, "days"),
        ({"days": []}, "days"),
        ({"daily_start": "10:00"}, "daily_end"),
        ({"daily_start": "10:00", "daily_end": "24:00"}, "daily_end"),
        ({"daily_start": "10:00", "daily_end": "10:00"}, "daily_end"),
        ({"audience": {"bought_before": "ice cream"}}, "audience"),
        ({"audience": {"min_past_visits": 0}}, "audience"),
        ({"product_scope": "  "}, "product_scope"),
    ],
)
def test_bad_campaigns_are_rejected_naming_the_field(
    world: World, changes: dict[str, Any], field: str
) -> None:
    body = campaign()
    body.update(changes)
    body = {k: v for k, v in body.items() if v is not None}
    response = world.client().post(
        f"/api/v1/stores/{world.seed.store_id}/campaigns",
        json=body,
        headers=world.staff_headers(MANAGER),
    )
    assert response.status_code == 400, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "invalid_body"
    assert field in [f["loc"][0] for f in error["details"]["fields"]]


def test_create_edit_list_pause_resume(world: World) -> None:
    headers = world.staff_headers(MANAGER)
    base = f"/api/v1/stores/{world.seed.store_id}/campaigns"
    created = create(world)
    assert created["active"] and created["current"]["version"] == 1
    edited = world.client().put(
        f"{base}/{created['id']}", json=campaign(offer_text="25 % off"), headers=headers
    )
    assert edited.status_code == 200
    assert (
        edited.get_json()["current"]["version"],
        edited.get_json()["current"]["offer_text"],
    ) == (
        2,
        "25 % off",
    )
    paused = world.client().post(f"{base}/{created['id']}/pause", headers=headers)
    assert paused.status_code == 200 and paused.get_json()["active"] is False
    [listed] = world.client().get(base, headers=headers).get_json()["campaigns"]
    assert (listed["active"], listed["current"]["version"]) == (False, 2)
    resumed = world.client().post(f"{base}/{created['id']}/resume", headers=headers)
    assert resumed.get_json()["active"] is True
    assert world.client().post(f"{base}/999/pause", headers=headers).status_code == 404
    other_store = world.client().put(
        f"/api/v1/stores/{world.other_store_id}/campaigns/{created['id']}",
        json=campaign(),
        headers=headers,
    )
    assert other_store.status_code == 403


# --- the engine -------------------------------------------------------------------------


def test_entry_sends_a_coupon_to_the_shoppers_page_and_logs_it(world: World) -> None:
    move_shoppers_to_daytime(world)
    created = create(world)
    leo = shopper_id(world, "Leo")
    page = world.open_page("leo")
    world.arrive("leo")
    [message] = events(page, "coupon")
    coupon = message["data"]
    assert message["title"] == campaign()["offer_text"] and coupon["percent_off"] == 20
    # Every message ends with the way to reach a person at the store (its settings).
    assert message["body"] == (
        f"20% off. Show code {coupon['code']} at the till. "
        "To reach a person: call +442079460000 or see https://demo-store.example/help."
    )
    assert message["person"] == {"phone": "+442079460000", "url": DEMO_STORE_WEB_PAGE}
    assert message["url"].endswith(f"/r/{coupon['code']}")
    assert coupon["expires_at"] == pytest.approx(coupon["issued_at"] + 120 * 60)
    assert message["expires_at"] == coupon["expires_at"]
    [decision] = decisions(world, leo)
    assert (decision.outcome, decision.trigger, decision.channel) == ("sent", "entered", "app")
    assert decision.campaign_id == created["id"] and decision.visit_id is not None
    assert services(world.app).outbound.wait_idle(5.0)
    with world.db.sessions() as session:
        stored = session.scalars(select(Coupon).where(Coupon.code == coupon["code"])).one()
        assert stored.campaign_version_id == created["current"]["id"]
        assert decision.coupon_id == stored.id
        delivery = session.scalars(select(Delivery)).one()
        assert (delivery.message_id, delivery.decision_id) == (message["id"], decision.id)
        assert (delivery.status, delivery.channel, delivery.seen_at) == ("delivered", "app", None)
    mine = world.client().get("/api/v1/me/coupons", headers=world.device_headers("leo"))
    assert [c["code"] for c in mine.get_json()["coupons"]] == [coupon["code"]]


def test_an_edit_leaves_issued_coupons_on_their_version(world: World) -> None:
    move_shoppers_to_daytime(world)
    created = create(world)
    world.open_page("leo")
    world.arrive("leo")
    world.client().put(
        f"/api/v1/stores/{world.seed.store_id}/campaigns/{created['id']}",
        json=campaign(offer_text="30 % off", valid_minutes=10),
        headers=world.staff_headers(MANAGER),
    )
    with world.db.sessions() as session:
        coupon = session.scalars(select(Coupon).where(Coupon.source == "campaign")).one()
        version = session.get(CampaignVersion, coupon.campaign_version_id)
        assert version is not None and version.version == 1
        assert coupon.offer == campaign()["offer_text"]
        assert coupon.expires_at == pytest.approx(coupon.issued_at + 120 * 60)


def test_a_second_entry_in_the_same_visit_is_capped(world: World) -> None:
    move_shoppers_to_daytime(world)
    create(world)
    leo = shopper_id(world, "Leo")
    world.open_page("leo")
    world.arrive("leo")
    [sent] = decisions(world, leo)
    assert sent.outcome == "sent" and sent.visit_id is not None
    # Past the minimum gap between offers, so only the per-visit cap can say no.
    later = sent.decided_at + decide.DEFAULT_MIN_GAP_S + 60
    assert trigger(world, "leo", later, visit_id=sent.visit_id) == []
    capped = decisions(world, leo)[-1]
    assert (capped.outcome, capped.visit_id, capped.coupon_id) == ("capped", sent.visit_id, None)
    assert "this visit" in capped.reason


def test_a_shopper_on_a_pickup_trip_gets_no_promotion(world: World) -> None:
    move_shoppers_to_daytime(world)
    create(world)
    [alert] = world.arrive("maria")  # her ready order is now `arrived`
    assert alert["first_name"] == "Maria"
    [decision] = decisions(world, shopper_id(world, "Maria"))
    assert decision.outcome == "suppressed" and "pickup" in decision.reason


def test_handover_triggers_pickup_handed_over_campaigns(world: World) -> None:
    move_shoppers_to_daytime(world)
    create(world, trigger="pickup_handed_over", offer_text="A coffee on us")
    page = world.open_page("maria")
    [alert] = world.arrive("maria")
    handover = world.client().post(
        f"/api/v1/stores/{world.seed.store_id}/alerts/{alert['alert_id']}/handover",
        headers=world.staff_headers(),
    )
    assert handover.status_code == 200
    [message] = events(page, "coupon")
    assert message["title"] == message["data"]["offer"] == "A coffee on us"
    [decision] = decisions(world, shopper_id(world, "Maria"))
    assert (decision.outcome, decision.trigger) == ("sent", "pickup_handed_over")


def test_a_shopper_without_offers_consent_gets_nothing(world: World) -> None:
    move_shoppers_to_daytime(world)
    create(world)
    withdrawn = world.client().put(
        "/api/v1/me/consents",
        json={
            "store_id": world.seed.store_id,
            "consents": [{"purpose": "arrival", "channel": "app"}],
        },
        headers=world.device_headers("leo"),
    )
    assert withdrawn.status_code == 200
    world.arrive("leo")
    [decision] = decisions(world, shopper_id(world, "Leo"))
    assert (decision.outcome, decision.coupon_id) == ("no_consent", None)
    mine = world.client().get("/api/v1/me/coupons", headers=world.device_headers("leo"))
    assert mine.get_json()["coupons"] == []


def test_holdout_is_stable_across_repeated_decisions(world: World) -> None:
    created = create(world, holdout_share=0.5, starts_at=1.0)
    day = datetime(2026, 1, 15, 11, 0, tzinfo=LONDON).timestamp()
    people = ("maria", "leo", "ana")
    for repeat in range(4):  # a day apart: no gap, cap or quiet hour interferes
        for person in people:
            trigger(world, person, day + repeat * 24 * HOUR_S)
    for person in people:
        sid = shopper_id(world, person)
        expected = "holdout" if decide.in_holdout(str(created["id"]), sid, 0.5) else "sent"
        assert [d.outcome for d in decisions(world, sid)] == [expected] * 4, person
    # An edit keeps the split: holdout is keyed by the campaign, not its version.
    world.client().put(
        f"/api/v1/stores/{world.seed.store_id}/campaigns/{created['id']}",
        json=campaign(holdout_share=0.5, starts_at=1.0, offer_text="edited"),
        headers=world.staff_headers(MANAGER),
    )
    for person in people:
        trigger(world, person, day + 10 * 24 * HOUR_S)
        sid = shopper_id(world, person)
        outcomes = {d.outcome for d in decisions(world, sid)}
        assert len(outcomes) == 1, (person, outcomes)


def test_quiet_hours_hold_the_offer_in_the_shoppers_time_zone(world: World) -> None:
    create(world, starts_at=1.0)
    night = night_in_london()
    assert trigger(world, "leo", night) == []
    [decision] = decisions(world, shopper_id(world, "Leo"))
    assert decision.outcome == "quiet_hours" and decision.coupon_id is None
    assert decision.hold_until == datetime(2026, 1, 16, 9, 0, tzinfo=LONDON).timestamp()
    # The same instant is mid-afternoon for a shopper in Los Angeles: no quiet hours there.
    with world.db.transaction() as session:
        session.execute(
            update(Shopper)
            .where(Shopper.first_name == "Ana")
            .values(timezone="America/Los_Angeles")
        )
    assert len(trigger(world, "ana", night)) == 1


def test_schedule_pause_and_trigger_decide_which_campaigns_run(world: World) -> None:
    day = datetime(2026, 1, 15, 11, 0, tzinfo=LONDON).timestamp()
    create(world, starts_at=day + HOUR_S)  # not yet
    create(world, starts_at=1.0, ends_at=day - HOUR_S)  # over
    create(world, starts_at=1.0, trigger="exited")  # another trigger
    paused = create(world, starts_at=1.0)
    world.client().post(
        f"/api/v1/stores/{world.seed.store_id}/campaigns/{paused['id']}/pause",
        headers=world.staff_headers(MANAGER),
    )
    assert trigger(world, "leo", day) == []
    assert decisions(world, shopper_id(world, "Leo")) == []


def test_zone_dwell_needs_the_zone_and_the_minimum(world: World) -> None:
    create(world, starts_at=1.0, trigger="zone_dwell", zone="dresses", min_dwell_s=120)
    day = datetime(2026, 1, 15, 11, 0, tzinfo=LONDON).timestamp()
    leo = shopper_id(world, "Leo")

    def dwell(zone: str, dwell_s: float) -> int:
        with world.db.transaction() as session:
            return len(
                engagement.on_trigger(
                    session,
                    world.seed.store_id,
                    leo,
                    engagement.Trigger("zone_dwell", None, zone, dwell_s),
                    day,
                    PAGE_OPEN,
                )
            )

    assert dwell("shoes", 600) == 0
    assert dwell("dresses", 60) == 0
    assert dwell("dresses", 180) == 1


def test_one_stay_triggers_a_dwell_campaign_once_and_a_second_stay_again(world: World) -> None:
    """The minute while she dwells and the total when she leaves are one stay, one offer."""
    create(world, starts_at=1.0, trigger="zone_dwell", zone="dresses", min_dwell_s=60)
    day = datetime(2026, 1, 15, 11, 0, tzinfo=LONDON).timestamp()
    leo = shopper_id(world, "Leo")
    with world.db.transaction() as session:
        # A store that allows several offers a visit, with no gap between them.
        session.execute(
            update(Store)
            .where(Store.id == world.seed.store_id)
            .values(max_offers_per_visit=5, min_gap_s=0)
        )
        visit = Visit(
            store_id=world.seed.store_id, shopper_id=leo, started_at=day, last_seen_at=day
        )
        session.add(visit)
        session.flush()
        visit_id = visit.id

    def dwell(at: float, dwell_s: float) -> int:
        """Record her `zone_dwell` at the dresses and run the engine on it: offers sent."""
        with world.db.transaction() as session:
            row = PresenceEvent(
                store_id=world.seed.store_id,
                shopper_id=leo,
                visit_id=visit_id,
                kind="zone_dwell",
                zone="dresses",
                at=at,
                confidence=0.9,
                reasons=[],
                dwell_s=dwell_s,
            )
            session.add(row)
            session.flush()
            event = PresenceEventOut.model_validate(
                {
                    **{
                        c: getattr(row, c)
                        for c in PresenceEventOut.model_fields
                        if c != "first_name"
                    },
                    "first_name": "Leo",
                }
            )
            return len(engagement.on_presence_events(session, [event], at, PAGE_OPEN))

    assert dwell(day + 100, 60) == 1  # her minute at the rail, while she is there
    assert dwell(day + 190, 150) == 0  # the same stay's total when she leaves
    assert dwell(day + 400, 60) == 1  # back at the rail later: a second stay
    assert len(decisions(world, leo)) == 2


def test_erasure_removes_decisions_and_campaign_coupons(world: World) -> None:
    move_shoppers_to_daytime(world)
    create(world)
    world.open_page("leo")
    world.arrive("leo")
    leo = shopper_id(world, "Leo")
    assert [d.outcome for d in decisions(world, leo)] == ["sent"]
    assert (
        world.client().delete("/api/v1/me", headers=world.device_headers("leo")).status_code == 200
    )
    for table, row in every_row(world):
        assert row.get("shopper_id") != leo, table
        text = " ".join(str(v) for v in row.values())
        assert "leo@example.com" not in text and "Leo" not in text, (table, row)
