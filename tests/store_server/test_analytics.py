"""What worked: funnel and lift, pickup times, care score per week (pure), and the report."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from store_server.reporting.analytics import (
    AlertRow,
    DecisionRow,
    campaign_funnel,
    care_score_by_week,
    response_times,
)
from store_server.web.context import services
from tests.store_server.conftest import World
from tests.store_server.test_campaigns import create, move_shoppers_to_daytime

DAY = 86400.0


def test_funnel_counts_outcomes_redemptions_and_lift_against_the_holdout() -> None:
    t = 1_000_000.0
    rows = [
        DecisionRow(1, 10, "sent", t, redeemed=True),
        DecisionRow(1, 11, "sent", t, redeemed=False),
        DecisionRow(1, 12, "holdout", t, redeemed=False),
        DecisionRow(1, 13, "holdout", t, redeemed=False),
        DecisionRow(1, 14, "capped", t, redeemed=False),
    ]
    # 10 and 11 come back within the week; of the holdout only 12 does; 13 comes back too late.
    visits = {10: [t + DAY], 11: [t + 6 * DAY], 12: [t + 2 * DAY], 13: [t + 8 * DAY]}
    report = campaign_funnel(rows, visits)[1]
    assert report["outcomes"] == {"sent": 2, "holdout": 2, "capped": 1}
    assert (report["sent"], report["redeemed"], report["redemption_rate"]) == (2, 1, 0.5)
    assert (report["returned_rate_sent"], report["returned_rate_holdout"]) == (1.0, 0.5)
    assert report["lift"] == 1.0
    assert campaign_funnel([DecisionRow(2, 1, "sent", t, False)], {})[2]["lift"] is None


def test_response_times_are_response_and_wait_percentiles() -> None:
    alerts = [
        AlertRow(0.0, 30.0, 120.0, 0),
        AlertRow(0.0, 90.0, 300.0, 1),
        AlertRow(0.0, None, None, 2),
    ]
    times = response_times(alerts)
    assert (times["alerts"], times["escalated"]) == (3, 2)
    assert (times["staff_response_p50_s"], times["staff_response_p95_s"]) == (30.0, 90.0)
    assert (times["wait_p50_s"], times["wait_p95_s"]) == (120.0, 300.0)


def test_care_score_weeks_follow_the_stores_time_zone() -> None:
    sydney = ZoneInfo("Australia/Sydney")
    # Sunday 23:30 and Monday 00:30 in Sydney: two different ISO weeks there.
    sunday = datetime(2026, 11, 22, 23, 30, tzinfo=sydney).timestamp()
    monday = datetime(2026, 11, 23, 0, 30, tzinfo=sydney).timestamp()
    answers = [(sunday, 10), (sunday, 7), (monday, 8), (monday, 9), (monday, 2), (monday, 8)]
    assert care_score_by_week(answers, "Australia/Sydney") == [
        {"week": "2026-W47", "answers": 2, "care_score": 0.5},
        {"week": "2026-W48", "answers": 4, "care_score": 0.75},
    ]
    # In UTC both moments fall on Sunday: one week.
    assert [w["week"] for w in care_score_by_week(answers, "UTC")] == ["2026-W47"]


def test_the_report_is_for_managers_and_names_no_shopper(world: World) -> None:
    move_shoppers_to_daytime(world)
    create(world)
    world.open_page("leo")
    world.arrive("leo")  # the campaign sends him a coupon
    [alert] = world.arrive("maria")
    client = world.client()
    store = world.seed.store_id
    client.post(
        f"/api/v1/stores/{store}/alerts/{alert['alert_id']}/acknowledge",
        headers=world.staff_headers(),
    )
    client.post(
        f"/api/v1/stores/{store}/alerts/{alert['alert_id']}/handover", headers=world.staff_headers()
    )
    path = f"/api/v1/stores/{store}/report"
    assert client.get(path, headers=world.staff_headers()).status_code == 403
    report = client.get(path, headers=world.staff_headers("morgan@demo.store")).get_json()
    [campaign] = report["campaigns"]
    assert campaign["name"] == "Welcome" and campaign["sent"] >= 1
    assert services(world.app).outbound.wait_idle(5.0)
    report = client.get(path, headers=world.staff_headers("morgan@demo.store")).get_json()
    [campaign] = report["campaigns"]
    assert campaign["delivered"] == 1 and campaign["delivered_by"] == {"app": 1}
    assert campaign["seen"] == 0
    assert report["pickups"]["alerts"] == 1 and report["pickups"]["wait_p50_s"] is not None
    assert {b["id"] for b in report["beacons"]} >= {"fda50693-a4e2-4fb1-afcf-c6eb07647825:1:1"}
    assert [g["id"] for g in report["gateways"]] == ["gw-entrance", "gw-floor"]
    text = str(report)
    assert "Maria" not in text and "Leo" not in text and "example.com" not in text
